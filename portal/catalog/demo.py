"""The demo catalogue's categories with their names in both languages (named before the first product uses them;
products and price rules carry the codes, `portal/orders/demo.py`), and the options the demo cars offer (§12):
colours, interiors, trims and, for two of them, packages — each group with a default at no extra cost and some
choices with a price delta."""

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


# The options the demo cars offer (§12): the shared names of each colour, interior, trim and package ...
OPTION_NAMES = {
    "colour": {
        "WHT": ("珍珠白", "Pearl white"),
        "BLK": ("曜石黑", "Obsidian black"),
        "GRY": ("星云灰", "Nebula grey"),
        "RED": ("烈焰红", "Flame red"),
        "BLU": ("深海蓝", "Deep-sea blue"),
        "GRN": ("极光绿", "Aurora green"),
    },
    "interior": {
        "BLK-FAB": ("黑色织物", "Black fabric"),
        "BLK-LEA": ("黑色真皮", "Black leather"),
        "TAN-LEA": ("驼色真皮", "Tan leather"),
    },
    "trim": {
        "STD": ("标准版", "Standard"),
        "LUX": ("豪华版", "Luxury"),
        "FLAG": ("旗舰版", "Flagship"),
    },
    "package": {
        "NONE": ("不加选装包", "No package"),
        "WINTER": ("冬季包", "Winter package"),
        "ADAS": ("智能驾驶辅助包", "Driver assistance package"),
    },
}
# ... and what each car offers: per group, (code, price delta net of tax) in the order shown, the default first
OFFERS = {
    "V-SEDAN-L": {
        "colour": [("WHT", "0"), ("BLK", "0"), ("GRY", "0"), ("RED", "3000.00"), ("BLU", "3000.00")],
        "interior": [("BLK-LEA", "0"), ("TAN-LEA", "6000.00")],
        "trim": [("LUX", "0"), ("FLAG", "18000.00")],
    },
    "V-SEDAN-S": {
        "colour": [("WHT", "0"), ("BLK", "0"), ("GRY", "0"), ("RED", "3000.00")],
        "interior": [("BLK-FAB", "0"), ("BLK-LEA", "4500.00")],
        "trim": [("STD", "0"), ("LUX", "12000.00")],
    },
    "V-SUV-X7": {
        "colour": [("BLK", "0"), ("WHT", "0"), ("GRY", "0"), ("BLU", "3500.00")],
        "interior": [("BLK-LEA", "0"), ("TAN-LEA", "6000.00")],
        "trim": [("LUX", "0"), ("FLAG", "22000.00")],
        "package": [("NONE", "0"), ("WINTER", "2800.00"), ("ADAS", "8800.00")],
    },
    "V-SUV-X5": {
        "colour": [("WHT", "0"), ("BLK", "0"), ("GRY", "0"), ("RED", "3000.00"), ("BLU", "3000.00")],
        "interior": [("BLK-FAB", "0"), ("BLK-LEA", "4500.00")],
        "trim": [("STD", "0"), ("LUX", "12000.00"), ("FLAG", "26000.00")],
    },
    "V-EV-E3": {
        "colour": [("WHT", "0"), ("GRY", "0"), ("GRN", "2500.00")],
        "trim": [("STD", "0"), ("LUX", "9000.00")],
    },
    "V-EV-E5": {
        "colour": [("WHT", "0"), ("GRY", "0"), ("BLU", "3000.00"), ("GRN", "3000.00")],
        "interior": [("BLK-FAB", "0"), ("BLK-LEA", "4500.00")],
        "trim": [("STD", "0"), ("LUX", "12000.00")],
        "package": [("NONE", "0"), ("ADAS", "8800.00")],
    },
    "V-MPV-M8": {
        "colour": [("BLK", "0"), ("WHT", "0"), ("GRY", "0")],
        "interior": [("BLK-LEA", "0"), ("TAN-LEA", "6000.00")],
        "trim": [("LUX", "0"), ("FLAG", "28000.00")],
    },
}


def load_options(cm) -> int:
    """Every demo car's options, as the channel manager adds them on the options page; how many."""
    from decimal import Decimal

    from portal.catalog import option_admin
    from portal.catalog.models import Product

    made = 0
    products = {p.sku: p for p in db.session.execute(select(Product).where(Product.sku.in_(OFFERS))).scalars()}
    for sku, groups in OFFERS.items():
        for group, offered in groups.items():
            for position, (code, delta) in enumerate(offered):
                label, label_en = OPTION_NAMES[group][code]
                option_admin.create_option(cm, products[sku], group, code, label, label_en, Decimal(delta),
                                           is_default=position == 0, position=position)  # fmt: skip
                made += 1
    return made
