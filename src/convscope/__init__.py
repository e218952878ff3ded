"""convscope: look inside convolutional networks.

import convscope
subject = convscope.load("default")              # or "digits", "timm:resnet18", "torchvision:vgg16", "file:..."
image = subject.load_image("cat.jpg")            # [1, 3, 224, 224] in [0, 1]
convscope.predict(subject, image, top=5)
convscope.run(PredictSpec(image="cat.jpg"), out="out/")  # any recipe (convscope.recipes), as the CLI runs it
acts = subject.capture(image, ["blocks.3", "logits"])
subject.graph.to_json()
"""

from .activations import activation_maps, dead_channels
from .errors import ChannelError, ConvscopeError, ImageError, UnknownLayerError, UnknownModelError, WeightsError
from .graph import LayerGraph, LayerNode
from .predict import Prediction, predict
from .subject import LOGITS, InputSpec, Subject
from .version import __version__
from .zoo import load, save_checkpoint, wrap


def __getattr__(name: str):
    if name == "run":  # convscope.run(spec, out=...): the recipes, loaded on first use
        from .recipes import run

        return run
    raise AttributeError(f"module 'convscope' has no attribute {name!r}")


__all__ = [
    "__version__",
    "run",
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
]
