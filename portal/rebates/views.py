"""Rebate pages (PRODUCT.md §11, portal/rebates/README.md)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("rebates", __name__)
