"""The demo catalogue's categories with their names in both languages (named before the first product uses them;
products and price rules carry the codes, `portal/orders/demo.py`)."""

from __future__ import annotations

from sqlalchemy import select

from portal.catalog import services
from portal.catalog.models import Category
from portal.extensions import db

CATEGORIES = [
    ("sedan", "轿车", "Sedan"),
    ("suv", "SUV", "SUV"),
    ("ev", "新能源车", "Electric vehicle"),
    ("mpv", "MPV", "MPV"),
    ("oil", "油品", "Oil"),
    ("filters", "滤清器", "Filters"),
    ("brakes", "制动件", "Brakes"),
    ("accessories", "精品附件", "Accessories"),
    ("electrical", "电器件", "Electrical"),
    ("tyres", "轮胎", "Tyres"),
]


def load_categories(cm) -> None:
    """Every demo category with its names, as HQ would name them on the categories page."""
    services.ensure_categories([code for code, _name, _name_en in CATEGORIES])
    rows = {c.code: c for c in db.session.execute(select(Category)).scalars()}
    for code, name, name_en in CATEGORIES:
        services.update_category(cm, rows[code], {"name": name, "name_en": name_en})
