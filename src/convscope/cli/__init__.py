"""Surface, the command line: `convscope COMMAND ...` (`main`), one module per command family beside `main`
(atlas, attribution, data, inverse_set, serve), each with register(subparsers) -> {name: handler}."""

from .main import main

__all__ = ["main"]
