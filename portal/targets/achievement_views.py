"""Pages (PRODUCT.md §15)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("achievement", __name__)
