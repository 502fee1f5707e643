"""How the catalogue's codes read on pages and in exports: category names (data, the `categories` table), units
and option groups (small fixed vocabularies), and the options an order line chose, in the reader's language.

`category_label(code)` reads every category's names once per request (one query, kept on `flask.g`); a code without
a row (or outside a request) shows as itself. `unit_label(unit)` knows the units the catalogue uses; any other unit
shows as stored. `options_text(options)` renders what a line (or a unit) chose as one short line:
"Colour: Pearl white · Trim: Luxury" / "车身颜色：珍珠白 · 配置：豪华版".
"""

from __future__ import annotations

from flask import g, has_request_context
from flask_babel import gettext, lazy_pgettext
from sqlalchemy import select

from portal.catalog.models import Category
from portal.extensions import db
from portal.platform.i18n import is_english

UNIT_LABELS = {
    "pc": lazy_pgettext("unit of measure", "pc"),
    "set": lazy_pgettext("unit of measure", "set"),
    "pair": lazy_pgettext("unit of measure", "pair"),
    "台": lazy_pgettext("unit of measure", "unit"),
    "unit": lazy_pgettext("unit of measure", "unit"),
    "L": lazy_pgettext("unit of measure", "L"),
    "kg": lazy_pgettext("unit of measure", "kg"),
    "box": lazy_pgettext("unit of measure", "box"),
}
# what a build-to-order product's options choose (portal.catalog.models.OPTION_GROUPS), in that order
OPTION_GROUP_LABELS = {
    "colour": lazy_pgettext("option group", "Colour"),
    "interior": lazy_pgettext("option group", "Interior"),
    "trim": lazy_pgettext("option group", "Trim"),
    "package": lazy_pgettext("option group", "Package"),
}


def category_names() -> dict[str, tuple[str, str]]:
    """{code: (name, name_en)} of every category, read once per request."""
    if not has_request_context():
        return _read()
    names = g.get("_category_names")
    if names is None:
        names = g._category_names = _read()
    return names


def _read() -> dict[str, tuple[str, str]]:
    return {code: (name, name_en) for code, name, name_en in db.session.execute(
        select(Category.code, Category.name, Category.name_en))}  # fmt: skip


def forget_category_names() -> None:
    """After a rename in this request: the next label reads the names again."""
    if has_request_context():
        g.pop("_category_names", None)


def category_label(code: str | None) -> str:
    """The category's name in the current language; its code when it has no name."""
    if not code:
        return ""
    names = category_names().get(code)
    if names is None:
        return code
    name, name_en = names
    return (name_en if is_english() else name) or name or name_en or code


def unit_label(unit: str | None) -> str:
    """The unit in the current language (台 reads "unit" in English, pc 件 in Chinese); an unknown one as stored."""
    if not unit:
        return ""
    label = UNIT_LABELS.get(unit)
    return str(label) if label is not None else unit


def category_choices(codes) -> list[tuple[str, str]]:
    """(code, label) for a filter's options, in the order given."""
    return [(c, category_label(c)) for c in codes]


def option_group_label(group: str | None) -> str:
    """An option group in the current language; an unknown one as stored."""
    if not group:
        return ""
    label = OPTION_GROUP_LABELS.get(group)
    return str(label) if label is not None else group


def option_label(option) -> str:
    """One option's label in the current language: a stored choice (a dict) or a ProductOption alike."""
    read = option.get if isinstance(option, dict) else lambda name: getattr(option, name, None)
    label, label_en = read("label"), read("label_en")
    return ((label_en if is_english() else label) or label or label_en or read("code") or "").strip()


def options_text(options) -> str:
    """The options a line or a unit chose as one short line in the current language ('' for none):
    "Colour: Pearl white · Trim: Luxury" / "车身颜色：珍珠白 · 配置：豪华版"."""
    parts = []
    for option in options or ():
        read = option.get if isinstance(option, dict) else lambda name, o=option: getattr(o, name, None)
        label = option_label(option)
        group = option_group_label(read("group"))
        parts.append(gettext("%(group)s: %(label)s", group=group, label=label) if group else label)
    return " · ".join(p for p in parts if p)
