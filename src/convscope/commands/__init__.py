"""Command families of the `convscope` CLI beyond the core ones in `convscope.cli`.

Each module here defines `register(subparsers) -> {command name: handler}`: it adds its sub-commands (calling
`convscope.cli.common_options(parser, name)` for --model / --weights / --out / --json / --debug) and returns the
handlers, each `handler(args) -> dict` (the JSON result). `convscope.cli.build_parser` picks every module up.
"""
