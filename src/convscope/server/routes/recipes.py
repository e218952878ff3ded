"""GET /api/recipes: every recipe a run may name, with its spec's JSON Schema."""

from __future__ import annotations

from fastapi import APIRouter

from ...recipes import registry
from ..errors import error_responses
from ..views import RecipeList

router = APIRouter()


@router.get("/api/recipes", response_model=RecipeList, tags=["recipes"], responses=error_responses(401))
def recipes() -> dict:
    """Every recipe: name, version (results change with it) and its spec's JSON Schema."""
    return {"recipes": [entry.to_dict() for name, entry in sorted(registry().items()) if not name.startswith("test-")]}
