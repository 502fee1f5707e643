"""Rebates API (PRODUCT.md §11, portal/rebates/README.md)."""

from __future__ import annotations

from portal.platform.api import api_blueprint

blp = api_blueprint("api_rebates", __name__, "Rebates")
