"""Model specs: the default model's real predictions, digits, timm / torchvision / file specs, weights handling."""

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

import convscope
from convscope.core import digits, zoo
from convscope.core.errors import UnknownModelError, WeightsError


def _predict_array(subject, array, tmp_path, name):
    path = tmp_path / f"{name}.png"
    Image.fromarray(array).save(path)
    return convscope.predict(subject, subject.load_image(path), top=3)


def test_default_model_classifies_chelsea_and_coffee(default_subject, tmp_path):
    assert _predict_array(default_subject, data.chelsea(), tmp_path, "chelsea")[0].index == 285
    top = _predict_array(default_subject, data.coffee(), tmp_path, "coffee")
    assert top[0].index == 967 and top[0].label == "espresso"
    assert top[0].probability > 0.5 and top[0].probability >= top[1].probability >= top[2].probability


def test_default_model_is_frozen_eval_and_normalizes_inside(default_subject):
    model = default_subject.model
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    x01 = torch.rand(1, 3, 224, 224)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(default_subject(x01), model((x01 - mean) / std), rtol=1e-4, atol=1e-4)


def test_digits_model_reaches_97_percent_held_out(digits_subject):
    accuracy = digits.accuracy(digits_subject.model, digits.load_data(), digits.load_data().test)
    assert accuracy >= 0.97
    assert digits_subject.input.channels == 1 and digits_subject.input.size == (32, 32)
    assert digits_subject.labels == [str(i) for i in range(10)]


def test_digits_model_is_cached(digits_subject):
    import os
    from pathlib import Path

    cached = list(Path(os.environ["CONVSCOPE_CACHE"]).glob("digits-v*.pt"))
    assert len(cached) == 1
    again = convscope.load("digits")
    for a, b in zip(again.model.state_dict().values(), digits_subject.model.state_dict().values()):
        assert torch.equal(a, b)


def test_unknown_specs_name_the_problem():
    with pytest.raises(UnknownModelError, match=r"unknown timm model `resnet5O`.*resnet50"):
        convscope.load("timm:resnet5O", "none")
    with pytest.raises(UnknownModelError, match=r"unknown torchvision classification model `vgg61`.*vgg16"):
        convscope.load("torchvision:vgg61", "none")
    with pytest.raises(UnknownModelError, match=r"unknown model spec `defualt`.*default"):
        convscope.load("defualt")
    with pytest.raises(UnknownModelError, match="does not exist"):
        convscope.load("file:/nonexistent/model.pt")


def test_missing_pretrained_weights_say_which_file_and_where(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr("huggingface_hub.try_to_load_from_cache", lambda *a, **k: None)
    with pytest.raises(WeightsError, match=r"squeezenet1_1-b8a52dc0\.pth.*" + str(tmp_path / "torch")):
        convscope.load("torchvision:squeezenet1_1")
    with pytest.raises(WeightsError, match=r"timm/resnet18\.a1_in1k.*never downloads|never downloads.*resnet18"):
        convscope.load("timm:resnet18")


def test_pretrained_weights_are_read_from_the_local_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr("huggingface_hub.try_to_load_from_cache", lambda *a, **k: None)
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    torch.manual_seed(1)
    tv_reference = convscope.load("torchvision:squeezenet1_1", "none").model.state_dict()
    torch.save(tv_reference, checkpoints / "squeezenet1_1-b8a52dc0.pth")
    timm_reference = convscope.load("timm:tf_efficientnet_lite0", "none").model.state_dict()
    torch.save(timm_reference, checkpoints / "tf_efficientnet_lite0-0aa007d2.pth")
    for spec, reference in (
        ("torchvision:squeezenet1_1", tv_reference),
        ("timm:tf_efficientnet_lite0", timm_reference),
    ):
        loaded = convscope.load(spec).model.state_dict()
        key = next(k for k in reference if k.endswith("weight"))
        assert torch.equal(loaded[key], reference[key]), spec


def test_weights_path_state_dict_and_safetensors(tmp_path, digits_subject):
    from safetensors.torch import save_file

    state = digits_subject.state_dict()
    torch.save({"state_dict": state}, tmp_path / "w.pt")
    save_file(state, str(tmp_path / "w.safetensors"))
    image = digits.load_data().images[:4]
    with torch.no_grad():
        expected = digits_subject(image)
        for name in ("w.pt", "w.safetensors"):
            torch.testing.assert_close(convscope.load("digits", str(tmp_path / name))(image), expected)
    torch.save({"features.0.weight": torch.zeros(3, 3)}, tmp_path / "bad.pt")
    with pytest.raises(WeightsError, match=r"do not fit the architecture: missing .*wrong shape features\.0\.weight"):
        convscope.load("digits", str(tmp_path / "bad.pt"))
    with pytest.raises(WeightsError, match="must be default, none, none:SEED or an existing file"):
        convscope.load("digits", str(tmp_path / "nothing.pt"))


def test_file_checkpoint_round_trip_and_no_arbitrary_unpickling(tmp_path, digits_subject):
    path = convscope.save_checkpoint(digits_subject, "digits", tmp_path / "digits.ckpt")
    reloaded = convscope.load(f"file:{path}")
    image = digits.load_data().images[:8]
    with torch.no_grad():
        torch.testing.assert_close(reloaded(image), digits_subject(image))
    assert reloaded.input == digits_subject.input and reloaded.labels == digits_subject.labels
    torch.save(digits_subject.model, tmp_path / "pickled.pt")  # a whole pickled module: must be refused
    with pytest.raises(UnknownModelError, match="neither a TorchScript model nor a convscope checkpoint"):
        convscope.load(f"file:{tmp_path / 'pickled.pt'}")
    torch.save({"weights": {}}, tmp_path / "plain.pt")
    with pytest.raises(UnknownModelError, match="needs the keys 'arch'"):
        convscope.load(f"file:{tmp_path / 'plain.pt'}")


def test_safetensors_checkpoint_round_trip_read_without_unpickling(tmp_path, digits_subject, monkeypatch):
    from safetensors import safe_open
    from safetensors.torch import save_file

    path = convscope.save_checkpoint(digits_subject, "digits", tmp_path / "digits.safetensors")
    again = convscope.save_checkpoint(digits_subject, "digits", tmp_path / "again.safetensors")
    assert path.read_bytes() == again.read_bytes()  # byte for byte: content-addressed stores rely on it
    with safe_open(str(path), framework="pt") as file:
        assert file.metadata()["convscope"] == "checkpoint" and file.metadata()["arch"] == "digits"
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load called on a safetensors checkpoint"))
    reloaded = convscope.load(f"file:{path}")
    image = digits.load_data().images[:8]
    with torch.no_grad():
        torch.testing.assert_close(reloaded(image), digits_subject(image))
    assert reloaded.input == digits_subject.input and reloaded.labels == digits_subject.labels
    save_file(digits_subject.state_dict(), str(tmp_path / "plain.safetensors"))  # weights without the metadata
    with pytest.raises(UnknownModelError, match="without convscope checkpoint metadata: it needs an arch"):
        convscope.load(f"file:{tmp_path / 'plain.safetensors'}")


def test_torchscript_file_gives_logits_and_refuses_layers(tmp_path, digits_subject):
    scripted = torch.jit.trace(digits_subject.model, torch.zeros(1, 1, 32, 32))
    scripted.save(str(tmp_path / "digits.ts"))
    subject = convscope.load(f"file:{tmp_path / 'digits.ts'}")
    subject = convscope.Subject(
        subject.model, digits_subject.input, digits_subject.labels, "ts", scriptable_hooks=False
    )
    image = digits.load_data().images[:2]
    with torch.no_grad():
        torch.testing.assert_close(subject.capture(image, ["logits"])["logits"], digits_subject(image))
    with pytest.raises(convscope.ConvscopeError, match="TorchScript"):
        subject.capture(image, ["features.0"])


def test_wrap_any_module_with_its_own_input_convention():
    class Caffe(torch.nn.Module):  # expects BGR-free 0..255 inputs minus a mean
        def forward(self, x):
            return x.flatten(1)[:, :3]

    subject = convscope.wrap(Caffe(), size=4, mean=(100.0, 110.0, 120.0), std=(1.0, 1.0, 1.0), value_range=(0.0, 255.0))
    x = torch.ones(1, 3, 4, 4)
    with torch.no_grad():
        assert subject(x)[0].tolist() == [155.0, 155.0, 155.0]
    assert subject.graph.nodes["logits"].output_shape == [3]
    assert np.allclose(subject(torch.zeros(1, 3, 4, 4))[0].numpy(), [-100.0, -100.0, -100.0])


@pytest.mark.parametrize("arch", ["timm:resnet10t", "torchvision:resnet18", "torchvision:mobilenet_v3_small"])
def test_fine_tuned_weights_of_another_class_count_load_with_their_head(tmp_path, arch):
    """A user's 3-class fine-tune of an ImageNet architecture: only the head's shapes differ, so the head is rebuilt
    with 3 outputs (no ImageNet labels); weights that differ elsewhere still fail naming the key."""
    from safetensors.torch import save_file
    from torch import nn

    from convscope.core.weights import classifier_head

    model = zoo.load(arch, "none").model
    name, head = classifier_head(model)
    state = {k: v.clone().contiguous() for k, v in model.state_dict().items()}
    state[f"{name}.weight"] = torch.randn(3, head.in_features)
    state[f"{name}.bias"] = torch.randn(3)
    path = tmp_path / "tuned.safetensors"
    save_file(state, str(path))
    subject = zoo.load(arch, str(path))
    assert subject.labels is None
    x = torch.rand(1, 3, 64, 64)
    expected = subject.model.get_submodule(name)
    assert isinstance(expected, nn.Linear) and expected.out_features == 3
    assert torch.equal(expected.weight, state[f"{name}.weight"])
    assert subject(x).shape == (1, 3)
    first = next(k for k in state if k.endswith("weight") and state[k].dim() == 4)
    state[first] = torch.randn(*state[first].shape[:-1], state[first].shape[-1] + 2)
    save_file(state, str(path))
    with pytest.raises(WeightsError, match="wrong shape"):
        zoo.load(arch, str(path))
