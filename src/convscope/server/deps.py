"""The routes' dependencies: `PlatformDep`, the server's `Platform` (from `app.state.platform`, set by create_app)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from .platform import Platform


async def get_platform(request: Request) -> Platform:
    """The Platform of the app serving `request` (async: resolved on the event loop, no thread hop)."""
    return request.app.state.platform


PlatformDep = Annotated[Platform, Depends(get_platform)]
