"""The version of convscope (part of every result's key in the store)."""

__version__ = "0.1.0"
