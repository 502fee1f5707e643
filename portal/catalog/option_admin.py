"""HQ manages the options a build-to-order product offers (§12): create, change, deactivate. Services flush, never
commit; each change is one audit entry (`product_option.create` / `.update` / `.deactivate`, object key
`SKU/group/code`).

The rules: only build-to-order products have options; the group is one of OPTION_GROUPS; the code is
`[A-Z0-9-]{1,20}` (typed in any case, stored in capitals), unique per product and group — an inactive option keeps
its code (reactivate it rather than create it again); both labels are required; the price delta is an amount of at
most two decimals, never negative (read like any amount typed in a form, portal.platform.money); a group has at most
one default, and making an option the default takes the mark from the group's previous one. A group and a code never
change: placed orders and units carry them. A deactivated option is offered no more (and is no longer the default);
what placed orders chose stays as they stored it.
"""

from __future__ import annotations

import re
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import select, update

from portal.audit.services import record, snapshot
from portal.catalog.labels import option_group_label
from portal.catalog.models import OPTION_GROUPS, Product, ProductOption
from portal.extensions import db
from portal.platform.errors import Conflict, Invalid
from portal.platform.money import parse_money

CODE_RE = re.compile(r"^[A-Z0-9-]{1,20}$")
LABEL_MAX = 60
POSITION_RANGE = (0, 9999)
OPTION_FIELDS = ("group", "code", "label", "label_en", "price_delta", "is_default", "active", "position")
UPDATABLE = ("label", "label_en", "price_delta", "is_default", "position", "active")


def option_key(product: Product, option: ProductOption) -> str:
    """The audit log's object key of an option: `SKU/group/code`."""
    return f"{product.sku}/{option.group}/{option.code}"


def _snapshot(option: ProductOption) -> dict:
    return snapshot(option, OPTION_FIELDS)


def _lock(product: Product) -> None:
    """Serialise the option writes of one product (the one-default rule and the code check hold under concurrency);
    SQLite serialises every write anyway."""
    db.session.execute(select(Product.id).where(Product.id == product.id).with_for_update())


def parse_delta(value) -> Decimal:
    """A price delta: a Decimal, an int or a string as a person types it (`3,000.00`); ValueError with the reason."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return Decimal("0.00")
    if isinstance(value, (float, bool)):
        raise ValueError(_("Not a number."))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(_("Not a number."))
        value = format(value, "f")
    return parse_money(str(value))


def _text(errors: dict, name: str, value) -> str:
    text = (value or "").strip() if isinstance(value, str) or value is None else None
    if text is None:
        errors[name] = [_("Text expected.")]
        return ""
    if not text:
        errors[name] = [_("Required.")]
    elif len(text) > LABEL_MAX:
        errors[name] = [_("At most %(n)s characters.", n=LABEL_MAX)]
    return text


def _position(errors: dict, value) -> int:
    low, high = POSITION_RANGE
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        errors["position"] = [_("A whole number from %(low)s to %(high)s.", low=low, high=high)]
        return 0
    return value


def _delta(errors: dict, value) -> Decimal:
    try:
        return parse_delta(value)
    except ValueError as exc:
        errors["price_delta"] = [str(exc)]
        return Decimal("0.00")


def _must_take_options(product: Product) -> None:
    if not product.build_to_order:
        raise Invalid(
            _("%(sku)s is a stock product: only products built to order have options.", sku=product.sku),
            fields={"sku": [_("Only products built to order have options.")]},
        )


def _take_default(product: Product, option: ProductOption) -> str | None:
    """Make `option` its group's only default; the code of the option that was the default before, if any."""
    previous = db.session.execute(
        select(ProductOption.code).where(
            ProductOption.product_id == product.id,
            ProductOption.group == option.group,
            ProductOption.is_default.is_(True),
            ProductOption.id != option.id,
        )
    ).scalar()
    if previous is not None:
        db.session.execute(
            update(ProductOption)
            .where(
                ProductOption.product_id == product.id,
                ProductOption.group == option.group,
                ProductOption.id != option.id,
            )
            .values(is_default=False)
            .execution_options(synchronize_session="fetch")
        )
    return previous


def create_option(
    actor,
    product: Product,
    group: str,
    code: str,
    label: str,
    label_en: str,
    price_delta,
    is_default: bool = False,
    position: int = 0,
) -> ProductOption:
    """A new option of a build-to-order product (Invalid with the fields at fault)."""
    _must_take_options(product)
    errors: dict[str, list[str]] = {}
    if group not in OPTION_GROUPS:
        errors["group"] = [_("One of: %(groups)s.", groups=", ".join(OPTION_GROUPS))]
    code = (code or "").strip().upper() if isinstance(code, str) else ""
    if not CODE_RE.match(code):
        errors["code"] = [_("Capital letters, digits and - only (at most 20).")]
    label = _text(errors, "label", label)
    label_en = _text(errors, "label_en", label_en)
    delta = _delta(errors, price_delta)
    position = _position(errors, position)
    if errors:
        raise Invalid(fields=errors)
    _lock(product)
    existing = db.session.execute(
        select(ProductOption).where(
            ProductOption.product_id == product.id, ProductOption.group == group, ProductOption.code == code
        )
    ).scalar_one_or_none()
    if existing is not None:
        message = (
            _("%(group)s %(code)s already exists.", group=option_group_label(group), code=code)
            if existing.active
            else _("%(group)s %(code)s exists but is inactive: reactivate it.", group=option_group_label(group),
                   code=code)
        )  # fmt: skip
        raise Invalid(fields={"code": [message]})
    option = ProductOption(
        product_id=product.id,
        group=group,
        code=code,
        label=label,
        label_en=label_en,
        price_delta=delta,
        is_default=bool(is_default),
        active=True,
        position=position,
    )
    db.session.add(option)
    db.session.flush()
    after = _snapshot(option)
    if option.is_default and (previous := _take_default(product, option)) is not None:
        after["replaced_default"] = previous
    record(actor, "product_option.create", "product_option", option_key(product, option), after=after)
    return option


def update_option(actor, option: ProductOption, **fields) -> ProductOption:
    """Change an option's labels, price delta, default mark, position or (re)activate it. A group and a code never
    change; an inactive option cannot be the default (reactivate it in the same change)."""
    product = db.session.get(Product, option.product_id)
    errors: dict[str, list[str]] = {}
    for name in ("group", "code"):
        if name in fields and fields[name] != getattr(option, name):
            errors[name] = [_("A group and a code never change: deactivate the option and create another.")]
    unknown = sorted(set(fields) - set(UPDATABLE) - {"group", "code"})
    for name in unknown:
        errors[name] = [_("Unknown field.")]
    values: dict = {}
    if "label" in fields:
        values["label"] = _text(errors, "label", fields["label"])
    if "label_en" in fields:
        values["label_en"] = _text(errors, "label_en", fields["label_en"])
    if "price_delta" in fields:
        values["price_delta"] = _delta(errors, fields["price_delta"])
    if "position" in fields:
        values["position"] = _position(errors, fields["position"])
    for name in ("is_default", "active"):
        if name in fields:
            if not isinstance(fields[name], bool):
                errors[name] = [_("true or false.")]
            values[name] = bool(fields[name])
    active = values.get("active", option.active)
    if values.get("is_default") and not active:
        errors["is_default"] = [_("An inactive option cannot be the default.")]
    if errors:
        raise Invalid(fields=errors)
    if values.get("is_default") or "active" in values:
        _must_take_options(product)  # a product no longer built to order keeps its options, inactive
    _lock(product)
    before = _snapshot(option)
    if not active:
        values["is_default"] = False  # an option offered no more is nobody's default
    for name, value in values.items():
        setattr(option, name, value)
    db.session.flush()
    after = _snapshot(option)
    if option.is_default and not before["is_default"] and (previous := _take_default(product, option)) is not None:
        after["replaced_default"] = previous
    record(actor, "product_option.update", "product_option", option_key(product, option), before=before,
           after=after)  # fmt: skip
    return option


def deactivate_option(actor, option: ProductOption) -> ProductOption:
    """Offer the option no more (Conflict when it is inactive already); it stops being its group's default."""
    product = db.session.get(Product, option.product_id)
    if not option.active:
        raise Conflict(
            _("%(group)s %(code)s is inactive already.", group=option_group_label(option.group), code=option.code),
            code="already_inactive",
        )
    _lock(product)
    before = _snapshot(option)
    option.active = False
    option.is_default = False
    db.session.flush()
    record(actor, "product_option.deactivate", "product_option", option_key(product, option), before=before,
           after=_snapshot(option))  # fmt: skip
    return option


def product_options(product: Product, *, active_only: bool = False) -> list[ProductOption]:
    """A product's options by group (in OPTION_GROUPS order), then position and code; inactive ones too unless
    `active_only`."""
    stmt = select(ProductOption).where(ProductOption.product_id == product.id)
    if active_only:
        stmt = stmt.where(ProductOption.active.is_(True))
    options = db.session.execute(stmt).scalars().all()
    rank = {g: i for i, g in enumerate(OPTION_GROUPS)}
    return sorted(options, key=lambda o: (rank.get(o.group, len(rank)), o.position, o.code))
