"""The options a build-to-order product offers (§12), read side: what a line may choose and what it chose.

A product declares options by group (colour, interior, trim, package). An order line chooses at most one option per
group the product declares, `{group: code}`; a group it leaves out takes the group's default option, and a group
without a default must be chosen. Options of a group the product does not declare, unknown or inactive codes, and
options on a stock product are refused. What a line chose is stored on the line (and each of its units) as plain
data, so a later change of the option's label or price never rewrites a placed order.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import select

from portal.catalog.models import OPTION_GROUPS, Product, ProductOption
from portal.extensions import db
from portal.platform.money import ZERO, money


def options_by_product(product_ids) -> dict[int, list[ProductOption]]:
    """product id → its active options, by group then position (one query for many products)."""
    ids = sorted({i for i in product_ids if i is not None})
    if not ids:
        return {}
    stmt = (
        select(ProductOption)
        .where(ProductOption.product_id.in_(ids), ProductOption.active.is_(True))
        .order_by(ProductOption.product_id, ProductOption.group, ProductOption.position, ProductOption.code)
    )
    out: dict[int, list[ProductOption]] = defaultdict(list)
    for option in db.session.execute(stmt).scalars():
        out[option.product_id].append(option)
    return dict(out)


def chosen_key(chosen: dict | None) -> tuple:
    """A line's choice as a comparable key (the same SKU may be ordered in two colours: two lines)."""
    return tuple(sorted((chosen or {}).items()))


def choose(product: Product, chosen, offered: list[ProductOption]) -> tuple[list[dict], list[str]]:
    """The options a line gets for its choice `{group: code}` → (stored options, error messages).

    Stored options are `{group, code, label, label_en, price_delta}` in group order; errors say what is wrong in the
    reader's language (the caller attaches them to the line)."""
    errors: list[str] = []
    if chosen is None:
        chosen = {}
    if not isinstance(chosen, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in chosen.items()):
        return [], [_('Options are a choice of one code per group, e.g. {"colour": "WHT"}.')]
    if chosen and not product.build_to_order:
        return [], [_("%(sku)s is a stock product and has no options.", sku=product.sku)]
    by_group: dict[str, dict[str, ProductOption]] = defaultdict(dict)
    for option in offered:
        by_group[option.group][option.code] = option
    for group in chosen:
        if group not in by_group:
            errors.append(_("%(sku)s has no option group %(group)s.", sku=product.sku, group=group))
    stored = []
    for group in OPTION_GROUPS:
        options = by_group.get(group)
        if not options:
            continue
        code = chosen.get(group)
        if code is None:
            default = next((o for o in options.values() if o.is_default), None)
            if default is None:
                errors.append(_("Choose the %(group)s of %(sku)s.", group=group_label(group), sku=product.sku))
                continue
            option = default
        else:
            option = options.get(code.strip().upper())
            if option is None:
                errors.append(
                    _("%(sku)s offers no %(group)s %(code)s.", sku=product.sku, group=group_label(group), code=code)
                )
                continue
        stored.append(
            {
                "group": group,
                "code": option.code,
                "label": option.label,
                "label_en": option.label_en,
                "price_delta": str(money(option.price_delta)),
            }
        )
    return stored, errors


def delta_of(stored: list[dict] | None) -> Decimal:
    """The list-price delta of a line's options (net, CNY)."""
    return money(sum((Decimal(o.get("price_delta") or "0") for o in stored or ()), ZERO))


def group_label(group: str) -> str:
    from portal.catalog import labels

    table = getattr(labels, "OPTION_GROUP_LABELS", None) or {}
    return str(table.get(group, group))
