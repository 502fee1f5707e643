"""Products and price lists: the rules. Services flush, never commit.

Whose price lists (§16): HQ's lists (`seller` None) price the dealers HQ sells to — scope all, a tier, a region or
one of those dealers, never a sub-dealer. A distributor's lists (`seller` = the distributor) price its sub-dealers —
scope `all` (all of them) or `dealer:<one of them>`; its admin keeps them (`sales.manage`), nobody else changes them.
A distributor's price to its sub-dealer is a resale price: a rule below HQ's `min_resale_price` of a product it
prices is marked (`below_floor`), as sell-through below the floor is.
"""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from portal.audit.services import record, snapshot
from portal.catalog import pricing
from portal.catalog.models import SCOPE_KINDS, Category, PriceList, PriceRule, Product
from portal.dealers.models import TIERS, Dealer, Region
from portal.extensions import db
from portal.platform.errors import Forbidden, Invalid, NotFound
from portal.platform.money import parse_money

PRIORITY_RANGE = (-1000, 1000)  # a price list's priority (the form and the API alike)
MAX_MIN_QTY = 1_000_000  # a rule's "from quantity"
SKU_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,39}$")
PRODUCT_FIELDS = (
    "sku",
    "name",
    "name_en",
    "category",
    "unit",
    "list_price",
    "tax_rate",
    "min_resale_price",
    "build_to_order",
    "lead_time_days",
    "active",
)


def _product_snapshot(p: Product) -> dict:
    return snapshot(p, PRODUCT_FIELDS)


def create_product(actor, data: dict) -> Product:
    sku = data["sku"].strip()
    if not SKU_RE.match(sku):
        raise Invalid(fields={"sku": [_("Letters, digits and . _ / - only (at most 40).")]})
    if db.session.execute(select(Product.id).where(Product.sku == sku)).first():
        raise Invalid(fields={"sku": [_("SKU %(sku)s already exists.", sku=sku)]})
    product = Product(sku=sku, tax_rate=Decimal("0.13"), build_to_order=False, lead_time_days=0, active=True)
    _apply_product(product, data)
    ensure_categories([product.category])
    db.session.add(product)
    db.session.flush()
    record(actor, "product.create", "product", sku, after=_product_snapshot(product))
    return product


def update_product(actor, product: Product, data: dict) -> Product:
    if "sku" in data and data["sku"] != product.sku:
        raise Invalid(fields={"sku": [_("A SKU cannot change.")]})
    before = _product_snapshot(product)
    _apply_product(product, data)
    db.session.flush()
    if product.category != before["category"]:
        ensure_categories([product.category])
        from portal.inventory.sums import recategorise  # the catalogue sits below the inventory

        recategorise(product.id, before["category"], product.category)
    record(actor, "product.update", "product", product.sku, before=before, after=_product_snapshot(product))
    return product


def _apply_product(product: Product, data: dict) -> None:
    errors = {}
    if data.get("tax_rate") is not None and not (Decimal(0) <= data["tax_rate"] < 1):
        errors["tax_rate"] = [_("A rate from 0 to 1, e.g. 0.13.")]
    if data.get("lead_time_days") is not None and not (0 <= data["lead_time_days"] <= 3650):
        errors["lead_time_days"] = [_("Between 0 and 3650 days.")]
    if errors:
        raise Invalid(fields=errors)
    for f in PRODUCT_FIELDS[1:]:
        if f in data and (data[f] is not None or f in ("name_en", "min_resale_price")):
            setattr(product, f, data[f].strip() if isinstance(data[f], str) else data[f])


IMPORT_COLUMNS = (
    "sku",
    "name",
    "name_en",
    "category",
    "unit",
    "list_price",
    "tax_rate",
    "min_resale_price",
    "build_to_order",
    "lead_time_days",
    "active",
)


def import_products(actor, text: str) -> dict:
    """Create or update products from CSV; the file is applied whole or not at all."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in ("sku", "name", "category", "unit", "list_price") if c not in header]
    if missing:
        raise Invalid(fields={"file": [_("Missing columns: %(cols)s.", cols=", ".join(missing))]})
    reader.fieldnames = header
    rows, errors = [], []
    for line, raw in enumerate(reader, start=2):
        try:
            rows.append((line, _parse_product_row(raw)))
        except (ValueError, InvalidOperation) as exc:
            errors.append({"line": line, "reason": str(exc)})
    skus = [r["sku"] for _l, r in rows]
    for dup in sorted({s for s in skus if skus.count(s) > 1}):
        errors.append({"line": 0, "reason": _("SKU %(sku)s appears twice.", sku=dup)})
    if errors or not rows:
        raise Invalid(_("Nothing was imported."), fields={"rows": errors or [{"line": 1, "reason": _("No rows.")}]})
    existing = {p.sku: p for p in db.session.execute(select(Product).where(Product.sku.in_(skus))).scalars()}
    created = updated = 0
    for _line, data in rows:
        if data["sku"] in existing:
            update_product(actor, existing[data["sku"]], data)
            updated += 1
        else:
            create_product(actor, data)
            created += 1
    return {"created": created, "updated": updated}


def _parse_product_row(raw: dict) -> dict:
    def text(name, required=False):
        value = (raw.get(name) or "").strip()
        if required and not value:
            raise ValueError(_("%(col)s is required.", col=name))
        return value or None

    def flag(name, default):
        value = (raw.get(name) or "").strip().lower()
        if not value:
            return default
        if value in ("1", "true", "yes", "y", "是"):
            return True
        if value in ("0", "false", "no", "n", "否"):
            return False
        raise ValueError(_("%(col)s must be true or false.", col=name))

    sku = text("sku", True)
    if not SKU_RE.match(sku):
        raise ValueError(_("Bad SKU %(sku)s.", sku=sku))
    try:
        list_price = parse_money(text("list_price", True))
        floor = parse_money(text("min_resale_price")) if text("min_resale_price") else None
    except ValueError as exc:
        raise ValueError(_("Price: %(why)s", why=str(exc))) from exc
    try:
        rate = Decimal(text("tax_rate") or "0.13")
    except InvalidOperation as exc:
        raise ValueError(_("A rate from 0 to 1, e.g. 0.13.")) from exc
    if not rate.is_finite() or not (Decimal(0) <= rate < 1):
        raise ValueError(_("A rate from 0 to 1, e.g. 0.13."))
    try:
        lead = int(text("lead_time_days") or 0)
    except ValueError as exc:
        raise ValueError(_("Between 0 and 3650 days.")) from exc
    if not 0 <= lead <= 3650:
        raise ValueError(_("Between 0 and 3650 days."))
    for col, limit in (("name", 200), ("name_en", 200), ("category", 60), ("unit", 16)):
        if len(text(col) or "") > limit:
            raise ValueError(_("%(col)s: at most %(n)s characters.", col=col, n=limit))
    return {
        "sku": sku,
        "name": text("name", True),
        "name_en": text("name_en"),
        "category": text("category", True),
        "unit": text("unit", True),
        "list_price": list_price,
        "tax_rate": rate,
        "min_resale_price": floor,
        "build_to_order": flag("build_to_order", False),
        "lead_time_days": lead,
        "active": flag("active", True),
    }


# ---------------------------------------------------------------- categories

CATEGORY_NAME_MAX = 120
CATEGORY_FIELDS = ("name", "name_en")


def ensure_categories(codes) -> None:
    """A row for each category code not named yet, named after its code (HQ names it on the categories page).
    Two requests bringing the same new code both succeed: the second insert does nothing."""
    codes = sorted({c for c in codes if c})
    if not codes:
        return
    known = set(db.session.execute(select(Category.code).where(Category.code.in_(codes))).scalars())
    missing = [{"code": c, "name": c[:CATEGORY_NAME_MAX], "name_en": c[:CATEGORY_NAME_MAX]}
               for c in codes if c not in known]  # fmt: skip
    if not missing:
        return
    make = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    db.session.execute(make(Category).on_conflict_do_nothing(index_elements=["code"]), missing)


def update_category(actor, category: Category, data: dict) -> Category:
    """Rename a category (its Chinese and English names); the code never changes."""
    errors, values = {}, {}
    for f in CATEGORY_FIELDS:
        if f not in data:
            continue
        value = (data[f] or "").strip()
        if not value:
            errors[f] = [_("A name is required.")]
        elif len(value) > CATEGORY_NAME_MAX:
            errors[f] = [_("At most %(n)s characters.", n=CATEGORY_NAME_MAX)]
        values[f] = value
    if errors:
        raise Invalid(fields=errors)
    before = snapshot(category, CATEGORY_FIELDS)
    for f, value in values.items():
        setattr(category, f, value)
    db.session.flush()
    record(actor, "category.update", "category", category.code, before=before,
           after=snapshot(category, CATEGORY_FIELDS))  # fmt: skip
    return category


# ---------------------------------------------------------------- price lists


def parse_scope(scope: str, seller: Dealer | None = None) -> tuple[str, str | None]:
    """(kind, value) of a list's scope, for HQ's lists or for `seller`'s (see the module's docstring); 422 on
    `scope` otherwise."""
    scope = (scope or "").strip()
    if scope == "all":
        return "all", None
    kind, _sep, value = scope.partition(":")
    if seller is not None:
        return "dealer", _seller_scope(seller, kind, value)
    if kind not in SCOPE_KINDS or not value:
        raise Invalid(fields={"scope": [_("all, tier:A|B|C, region:<code> or dealer:<code>.")]})
    if kind == "tier" and value not in TIERS:
        raise Invalid(fields={"scope": [_("Tier must be A, B or C.")]})
    if kind == "region" and not db.session.execute(select(Region.id).filter_by(code=value)).first():
        raise Invalid(fields={"scope": [_("Unknown region %(code)s.", code=value)]})
    if kind == "dealer":
        dealer = db.session.execute(select(Dealer).filter_by(code=value)).unique().scalar_one_or_none()
        if dealer is None:
            raise Invalid(fields={"scope": [_("Unknown dealer %(code)s.", code=value)]})
        if dealer.parent_id is not None:  # HQ does not price sub-dealers: their distributor does
            raise Invalid(fields={"scope": [_("%(dealer)s buys from %(seller)s: its prices are %(seller)s's.",
                                              dealer=value, seller=dealer.parent.code)]})  # fmt: skip
    return kind, value


def _seller_scope(seller: Dealer, kind: str, value: str) -> str:
    """The sub-dealer a distributor's `dealer:<code>` names; anything else is refused on `scope`."""
    if kind != "dealer" or not value:
        raise Invalid(fields={"scope": [_("all (all your sub-dealers) or dealer:<one of your sub-dealers>.")]})
    found = db.session.execute(
        select(Dealer.id).where(Dealer.code == value, Dealer.parent_id == seller.id)
    ).first()
    if found is None:
        raise Invalid(fields={"scope": [_("%(code)s is not one of your sub-dealers.", code=value)]})
    return value


def seller_of(actor) -> Dealer | None:
    """Whose price lists the caller keeps: a dealer admin's, its dealer's (for its sub-dealers); HQ's (None) for HQ's
    roles. A sub-dealer sells to nobody (403)."""
    dealer_id = getattr(actor, "dealer_id", None)
    if dealer_id is None:
        return None
    dealer = db.session.get(Dealer, dealer_id)
    if dealer.parent_id is not None:
        raise Forbidden(_("%(dealer)s buys from %(seller)s and sells to no dealer: it keeps no price lists.",
                          dealer=dealer.code, seller=dealer.parent.code))  # fmt: skip
    return dealer


def check_list_keeper(actor, price_list: PriceList) -> None:
    """Only the list's own side changes it: HQ's roles HQ's lists, a distributor's admin its own (403 otherwise)."""
    seller = seller_of(actor)
    if price_list.seller_id == (seller.id if seller else None):
        return
    if price_list.seller_id is not None:
        raise Forbidden(_("This is %(seller)s's price list: only its admin changes it.", seller=price_list.seller.code))
    raise Forbidden(_("This is HQ's price list: only HQ changes it."))


def _rules(rules: list[dict]) -> list[PriceRule]:
    errors = {}
    out = []
    skus = {r["sku"] for r in rules if r.get("sku")}
    known = {s for (s,) in db.session.execute(select(Product.sku).where(Product.sku.in_(skus)))} if skus else set()
    for i, r in enumerate(rules):
        problems = []
        if bool(r.get("sku")) == bool(r.get("category")):
            problems.append(_("Give either a SKU or a category."))
        elif r.get("sku") and r["sku"] not in known:
            problems.append(_("Unknown SKU %(sku)s.", sku=r["sku"]))
        if (r.get("unit_price") is None) == (r.get("discount_pct") is None):
            problems.append(_("Give either a unit price or a discount."))
        if r.get("discount_pct") is not None and not (Decimal(0) <= r["discount_pct"] <= 100):
            problems.append(_("A discount from 0 to 100 percent."))
        if not 1 <= r.get("min_qty", 1) <= MAX_MIN_QTY:
            problems.append(_("The minimum quantity is from 1 to %(n)s.", n=f"{MAX_MIN_QTY:,}"))
        if problems:
            errors[f"rules.{i}"] = problems
            continue
        out.append(
            PriceRule(
                sku=r.get("sku") or None,
                category=r.get("category") or None,
                min_qty=r.get("min_qty") or 1,
                unit_price=r.get("unit_price"),
                discount_pct=r.get("discount_pct"),
            )
        )
    if not rules:
        errors["rules"] = [_("A price list needs at least one rule.")]
    if errors:
        raise Invalid(fields=errors)
    ensure_categories([r.category for r in out if r.category])
    return out


def _price_list_snapshot(pl: PriceList) -> dict:
    return {
        "name": pl.name,
        "scope": pl.scope,
        "valid_from": pl.valid_from and pl.valid_from.isoformat(),
        "valid_to": pl.valid_to and pl.valid_to.isoformat(),
        "priority": pl.priority,
        "active": pl.active,
        "rules": len(pl.rules),
    }


def save_price_list(
    actor, data: dict, price_list: PriceList | None = None, seller: Dealer | None = None
) -> PriceList:
    """Create a list (HQ's, or `seller`'s for its sub-dealers) or change one (its seller never changes)."""
    if price_list is not None:
        seller = price_list.seller
    if "scope" in data:
        kind, value = parse_scope(data["scope"], seller)
    else:
        kind, value = price_list.scope_kind, price_list.scope_value
    valid_from = data.get("valid_from", price_list.valid_from if price_list else None)
    valid_to = data.get("valid_to", price_list.valid_to if price_list else None)
    if valid_from and valid_to and valid_to < valid_from:
        raise Invalid(fields={"valid_to": [_("The end cannot be before the start.")]})
    low, high = PRIORITY_RANGE
    if "priority" in data and not low <= data["priority"] <= high:
        raise Invalid(fields={"priority": [_("A whole number from %(low)s to %(high)s.", low=low, high=high)]})
    before = _price_list_snapshot(price_list) if price_list else None
    if price_list is None:
        price_list = PriceList(created_by=getattr(actor, "username", None) or "system")
        if seller is not None:  # HQ's lists leave the column to its default (NULL)
            price_list.seller = seller
        db.session.add(price_list)
    price_list.name = data.get("name", price_list.name)
    price_list.scope_kind, price_list.scope_value = kind, value
    price_list.valid_from, price_list.valid_to = valid_from, valid_to
    price_list.priority = data.get("priority", price_list.priority or 0)
    price_list.active = data.get("active", True if price_list.active is None else price_list.active)
    if "rules" in data:
        price_list.rules = _rules(data["rules"])
    db.session.flush()
    record(
        actor,
        "price_list.update" if before else "price_list.create",
        "price_list",
        str(price_list.id),
        before=before,
        after=_price_list_snapshot(price_list),
        dealer_id=price_list.seller_id,  # a distributor's list is in its audit trail
    )
    return price_list


def mark_floors(price_lists) -> None:
    """Set `below_floor_skus` on each rule of these lists: for a distributor's list (a resale price), the SKUs whose
    price by the rule is below HQ's `min_resale_price`; [] for HQ's lists (its prices to dealers are not resales).
    The products concerned are read in one query."""
    price_lists = list(price_lists)
    rules = [r for pl in price_lists for r in pl.rules]
    for rule in rules:
        rule.below_floor_skus = []
    selling = [r for pl in price_lists if pl.seller_id is not None for r in pl.rules]
    if not selling:
        return
    skus = {r.sku for r in selling if r.sku}
    categories = {r.category for r in selling if r.category}
    floored = db.session.execute(
        select(Product).where(
            Product.min_resale_price.is_not(None), Product.sku.in_(skus) | Product.category.in_(categories)
        ).order_by(Product.sku)
    ).scalars().all()
    for rule in selling:
        targets = [p for p in floored if (p.sku == rule.sku if rule.sku else p.category == rule.category)]
        rule.below_floor_skus = [
            p.sku for p in targets if pricing._rule_price(rule, p) < p.min_resale_price
        ]


# ---------------------------------------------------------------- reading the catalogue


def products_query(scope, q=None, category=None, active=None):
    stmt = scope.select(Product).order_by(Product.category, Product.sku)
    if q:
        like = f"%{q.strip().lower()}%"
        stmt = stmt.where(
            func.lower(Product.sku).like(like)
            | func.lower(Product.name).like(like)
            | func.lower(Product.name_en).like(like)
        )
    if category:
        stmt = stmt.where(Product.category == category)
    if active is not None:
        stmt = stmt.where(Product.active.is_(active))
    return stmt


def dealer_prices(dealer: Dealer, sku: str | None, qty: int, on) -> list[dict]:
    stmt = select(Product).where(Product.active.is_(True)).order_by(Product.category, Product.sku)
    if sku:
        stmt = stmt.where(Product.sku == sku)
    products = db.session.execute(stmt).scalars().all()
    # only the rules that can apply to these products, as plain rows, indexed once (bench/README.md, "mixed")
    lists = pricing.candidates_for(dealer, on, products) if products else []
    items = [
        {**resolved.explain(), "name": product.name, "product": product}
        for product, resolved in zip(products, pricing.resolve_all(lists, products, qty), strict=True)
    ]
    if sku and not items:
        raise NotFound(_("Unknown or inactive SKU %(sku)s.", sku=sku))
    return items


def scope_choices(scope, seller: Dealer | None = None) -> list[tuple[str, str]]:
    """Suggestions for a price list's scope: every value the service accepts, with a readable label — for HQ the
    caller's regions and the dealers HQ sells to, for a distributor all its sub-dealers or one of them."""
    if seller is not None:
        subs = db.session.execute(select(Dealer).where(Dealer.parent_id == seller.id).order_by(Dealer.code))
        return [("all", _("All my sub-dealers"))] + [
            (f"dealer:{d.code}", f"{d.name} ({d.code})") for d in subs.unique().scalars()
        ]
    out = [("all", _("All dealers"))]
    out += [(f"tier:{t}", _("Tier %(tier)s", tier=t)) for t in TIERS]
    regions = db.session.execute(scope.select(Region).order_by(Region.path)).unique().scalars()
    out += [(f"region:{r.code}", f"{r.name} ({r.code})") for r in regions]
    dealers = db.session.execute(
        scope.select(Dealer).where(Dealer.parent_id.is_(None)).order_by(Dealer.code).limit(2000)
    ).unique().scalars()
    out += [(f"dealer:{d.code}", f"{d.name} ({d.code})") for d in dealers]
    return out
