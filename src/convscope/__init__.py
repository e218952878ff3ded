"""convscope: look inside convolutional networks.

    import convscope
    subject = convscope.load("default")              # or "digits", "timm:resnet18", "torchvision:vgg16", "file:..."
    image = subject.load_image("cat.jpg")            # [1, 3, 224, 224] in [0, 1]
    convscope.predict(subject, image, top=5)
    acts = subject.capture(image, ["blocks.3", "logits"])
    subject.graph.to_json()
"""

from .activations import activation_maps, dead_channels
from .errors import (ChannelError, ConvscopeError, ImageError, UnknownLayerError, UnknownModelError,
                     WeightsError)
from .graph import LayerGraph, LayerNode
from .predict import Prediction, predict
from .subject import LOGITS, InputSpec, Subject
from .zoo import load, save_checkpoint, wrap

__version__ = "0.1.0"
__all__ = ["load", "wrap", "save_checkpoint", "Subject", "InputSpec", "LOGITS", "LayerGraph", "LayerNode",
           "predict", "Prediction", "activation_maps", "dead_channels", "ConvscopeError", "UnknownModelError",
           "UnknownLayerError", "WeightsError", "ChannelError", "ImageError"]
