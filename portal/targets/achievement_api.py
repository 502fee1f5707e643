"""Achievement API (PRODUCT.md §15)."""

from __future__ import annotations

from portal.platform.api import api_blueprint

blp = api_blueprint("api_achievement", __name__, "Achievement")
