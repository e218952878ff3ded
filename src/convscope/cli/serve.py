"""`convscope serve`: the platform server (REST API, jobs, live progress, result store; docs/server.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..core.errors import ConvscopeError


def _dataset(text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got `{text}`")
    return name, path


def register(subparsers) -> dict:
    p = subparsers.add_parser("serve", help="the platform server: every recipe over HTTP, jobs, live progress")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s, this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    p.add_argument(
        "--model",
        action="append",
        dest="models",
        metavar="SPEC",
        help="a model requests may use (repeat; default: default, digits, lite1 and lite2)",
    )
    p.add_argument(
        "--dataset",
        action="append",
        type=_dataset,
        default=[],
        metavar="NAME=PATH",
        help="a dataset folder requests may name as NAME (repeat; digits and photos are built in)",
    )
    p.add_argument(
        "--allow-root",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="a folder inside which requests may name image or dataset paths (repeat; default: none)",
    )
    p.add_argument("--token", help="require `Authorization: Bearer TOKEN` on every request (needed off loopback)")
    p.add_argument(
        "--allow-model-upload",
        action="store_true",
        help="let requests add models (architecture + safetensors weights) and remove them (off by default; off "
        "loopback only with --token)",
    )
    p.add_argument("--cors", action="append", default=[], metavar="ORIGIN", help="allow browser calls from ORIGIN")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or mps (default: %(default)s)")
    p.add_argument(
        "--data-dir", type=Path, help="the result store (default: $CONVSCOPE_DATA, else ~/.local/share/convscope)"
    )
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    return {"serve": cmd_serve}


def cmd_serve(args) -> None:
    import uvicorn

    from ..server import ServerConfig, create_app
    from ..server.app import is_loopback

    if not 0 < args.port < 65536:
        raise ConvscopeError(f"--port {args.port} out of range 1..65535")
    if args.allow_model_upload and not is_loopback(args.host) and not args.token:
        raise ConvscopeError(f"--allow-model-upload on --host {args.host} (reachable from elsewhere) needs --token")
    if not is_loopback(args.host) and not args.token:
        raise ConvscopeError(f"--host {args.host} is reachable from other machines: give --token TOKEN")
    for root in args.allow_root:
        if not root.expanduser().is_dir():
            raise ConvscopeError(f"--allow-root {root}: not a folder")
    from ..core.data import BUILTIN_DATASETS

    names = [name for name, _ in args.dataset]
    if set(names) & set(BUILTIN_DATASETS) or len(set(names)) != len(names):
        raise ConvscopeError(f"--dataset names must be unique and not {' or '.join(BUILTIN_DATASETS)} (built in)")
    for name, path in args.dataset:
        if not Path(path).expanduser().is_dir():
            raise ConvscopeError(f"--dataset {name}={path}: not a folder")
    if args.device != "cpu":
        from ..core.devices import resolve_device

        resolve_device(args.device)
    config = ServerConfig(
        data_dir=args.data_dir,
        models=args.models or ["default", "digits", "lite1", "lite2"],
        datasets=dict(args.dataset),
        allow_roots=list(args.allow_root),
        token=args.token,
        device=args.device,
        cors_origins=args.cors,
        allow_model_upload=args.allow_model_upload,
    )
    app = create_app(config)
    host = f"[{args.host}]" if ":" in args.host else args.host
    where = f"http://{host}:{args.port}/"
    print(f"convscope serve: {where} (API docs at {where}docs)", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
