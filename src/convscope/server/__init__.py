"""The platform server (surface layer): the REST API over the recipes, the result store and the job runner.

    convscope serve [--host 127.0.0.1] [--port 8000] [--model SPEC ...] [--dataset NAME=PATH ...]
                    [--allow-root DIR ...] [--token TOKEN] [--data-dir DIR]

or in Python `uvicorn.run(create_app(ServerConfig(...)))`. The contract is docs/server.md; `app.py` says which
module holds what.
"""

from .app import ServerConfig, create_app

__all__ = ["ServerConfig", "create_app"]
