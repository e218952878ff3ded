"""convscope: look inside convolutional networks. The package root is the Python API's facade.

import convscope
subject = convscope.load("default")              # or "digits", "timm:resnet18", "torchvision:vgg16", "file:..."
image = subject.load_image("cat.jpg")            # [1, 3, 224, 224] in [0, 1]
convscope.predict(subject, image, top=5)
convscope.run(PredictSpec(image="cat.jpg"), out="out/")  # any recipe (convscope.recipes), as the CLI runs it
acts = subject.capture(image, ["blocks.3", "logits"])
subject.graph.to_json()
from convscope import objectives as O, render    # feature visualization: render(subject, O.channel(...))

The code is in layer folders, each importing only the ones before it: core -> techniques -> artifacts -> recipes
-> execution -> server -> cli (docs/architecture.md).
"""

from .core.errors import ChannelError, ConvscopeError, ImageError, UnknownLayerError, UnknownModelError, WeightsError
from .core.graph import LayerGraph, LayerNode
from .core.subject import LOGITS, InputSpec, Subject
from .core.version import __version__
from .core.zoo import load, save_checkpoint, wrap
from .techniques.activations import activation_maps, dead_channels
from .techniques.predict import Prediction, predict

#: names the root hands out on first use (the techniques load torch-heavy code only when asked for):
#: name -> (module below convscope, attribute or None for the module itself)
_LAZY = {
    "run": ("recipes", "run"),
    "recipes": ("recipes", None),
    "objectives": ("techniques.objectives", None),
    "render": ("techniques.render", "render"),
    "dream": ("techniques.dream", "dream"),
    "attribution": ("techniques.attribution", None),
    "attribute": ("techniques.attribution", "attribute"),
    "LRP": ("techniques.attribution", "LRP"),
    "grad_cam": ("techniques.attribution", "grad_cam"),
    "gradient_attribution": ("techniques.attribution", "gradient_attribution"),
    "integrated_gradients": ("techniques.attribution", "integrated_gradients"),
    "occlusion": ("techniques.attribution", "occlusion"),
    "open_dataset": ("core.data", "open_dataset"),
    "top_examples": ("techniques.examples", "top_examples"),
    "selectivity": ("techniques.selectivity", "selectivity"),
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module_name, attribute = _LAZY[name]
        module = importlib.import_module(f"{__name__}.{module_name}")
        return module if attribute is None else getattr(module, attribute)
    raise AttributeError(f"module 'convscope' has no attribute {name!r}")


__all__ = [
    "__version__",
    "load",
    "wrap",
    "save_checkpoint",
    "Subject",
    "InputSpec",
    "LOGITS",
    "LayerGraph",
    "LayerNode",
    "predict",
    "Prediction",
    "activation_maps",
    "dead_channels",
    "ConvscopeError",
    "UnknownModelError",
    "UnknownLayerError",
    "WeightsError",
    "ChannelError",
    "ImageError",
    *_LAZY,
]
