"""Price resolution (PRODUCT.md §2), deterministic:

among the rules of price lists valid on the date whose scope covers the dealer and whose min_qty ≤ quantity,
take the most specific scope (dealer > region > tier > all; a deeper region beats its parent), then the highest
priority, then the lowest resulting price (then the oldest rule, so ties are stable). With no rule the price is
the list price. A rule gives a fixed net unit price, or a discount in percent off the list price, rounded to
cents half up.

Options of a build-to-order product (§12) add their price delta to the list price: a discount takes its percent off
the list price with the delta, a fixed price is the product's price and the delta is added to it, and with no rule
the price is the list price with the delta. The rules compete on the price with the delta.

A sub-dealer (§16) buys from its distributor: only that distributor's lists price it (scope all = all its
sub-dealers, or dealer:<sub>), never HQ's; a dealer that buys from HQ is priced by HQ's lists only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import lazyload

from portal.catalog.models import PriceList, PriceRule, Product
from portal.dealers.models import Dealer
from portal.extensions import db
from portal.platform.money import money

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Resolved:
    sku: str
    quantity: int
    list_price: Decimal
    unit_price: Decimal
    rule: dict | None  # {price_list, price_list_id, rule_id, scope, priority, target, min_qty, unit_price|discount_pct}

    def explain(self) -> dict:
        return {
            "sku": self.sku,
            "quantity": self.quantity,
            "unit_price": self.unit_price,
            "list_price": self.list_price,
            "rule": self.rule,
        }


def _scope_rank(price_list: PriceList, dealer: Dealer) -> tuple[int, int] | None:
    """How specific a list's scope is for this dealer, or None when it does not cover the dealer."""
    kind, value = price_list.scope_kind, price_list.scope_value
    if kind == "all":
        return (1, 0)
    if kind == "tier":
        return (2, 0) if value == dealer.tier else None
    if kind == "region":
        codes = [c for c in dealer.region.path.strip("/").split("/") if c]
        return (3, codes.index(value)) if value in codes else None  # deeper region: larger index
    if kind == "dealer":
        return (4, 0) if value == dealer.code else None
    return None


def _covers(dealer: Dealer, on: dt.date):
    """SQL: the price list is active, valid on `on`, and its scope covers the dealer."""
    codes = [c for c in dealer.region.path.strip("/").split("/") if c]
    seller = PriceList.seller_id.is_(None) if dealer.parent_id is None else PriceList.seller_id == dealer.parent_id
    return and_(
        seller,
        PriceList.active.is_(True),
        or_(PriceList.valid_from.is_(None), PriceList.valid_from <= on),
        or_(PriceList.valid_to.is_(None), PriceList.valid_to >= on),
        or_(
            PriceList.scope_kind == "all",
            and_(PriceList.scope_kind == "tier", PriceList.scope_value == dealer.tier),
            and_(PriceList.scope_kind == "region", PriceList.scope_value.in_(codes)),
            and_(PriceList.scope_kind == "dealer", PriceList.scope_value == dealer.code),
        ),
    )


def candidate_lists(dealer: Dealer, on: dt.date, *, rules: bool = True) -> list[tuple[PriceList, tuple[int, int]]]:
    """Active price lists valid on `on` whose scope covers the dealer, with their specificity (`rules=False`: the
    lists alone, e.g. a home page's names and dates — their rules are read on first use only)."""
    stmt = select(PriceList).where(_covers(dealer, on))
    if not rules:
        stmt = stmt.options(lazyload(PriceList.rules))
    out = []
    for pl in db.session.execute(stmt).scalars():
        rank = _scope_rank(pl, dealer)
        if rank is not None:
            out.append((pl, rank))
    return out


@dataclass(frozen=True, slots=True)
class _RuleRow:
    id: int
    sku: str | None
    category: str | None
    min_qty: int
    unit_price: Decimal | None
    discount_pct: Decimal | None


@dataclass(slots=True)
class _ListRow:
    """A price list as `resolve_with` reads it (the attributes of PriceList it uses), with some of its rules."""

    id: int
    name: str
    scope_kind: str
    scope_value: str | None
    priority: int
    rules: list[_RuleRow] = field(default_factory=list)
    seller_code: str | None = None  # a distributor's list (§16): its code, for the explanation

    @property
    def scope(self) -> str:
        return "all" if self.scope_kind == "all" else f"{self.scope_kind}:{self.scope_value}"


def candidates_for(dealer: Dealer, on: dt.date, products) -> list[tuple[_ListRow, tuple[int, int]]]:
    """Like `candidate_lists`, but with only the rules that can apply to these products, read in one plain query
    (no ORM objects): what an order needs. Same shape, so `resolve_with` takes either."""
    skus = sorted({p.sku for p in products})
    categories = sorted({p.category for p in products})
    stmt = (
        select(
            PriceList.id,
            PriceList.name,
            PriceList.scope_kind,
            PriceList.scope_value,
            PriceList.priority,
            PriceRule.id,
            PriceRule.sku,
            PriceRule.category,
            PriceRule.min_qty,
            PriceRule.unit_price,
            PriceRule.discount_pct,
        )
        .join(PriceRule, PriceRule.price_list_id == PriceList.id)
        .where(_covers(dealer, on), or_(PriceRule.sku.in_(skus), PriceRule.category.in_(categories)))
        .order_by(PriceList.id, PriceRule.id)
    )
    lists: dict[int, _ListRow] = {}
    for row in db.session.connection().execute(stmt):
        pl = lists.get(row[0])
        if pl is None:
            pl = lists[row[0]] = _ListRow(*row[:5])
        pl.rules.append(_RuleRow(*row[5:]))
    out = []
    for pl in lists.values():
        rank = _scope_rank(pl, dealer)
        if rank is not None:
            if dealer.parent_id is not None:  # a sub-dealer's lists are all its distributor's
                pl.seller_code = dealer.parent.code
            out.append((pl, rank))
    return out


def _rule_price(rule: PriceRule, product: Product, extra: Decimal = Decimal(0)) -> Decimal:
    if rule.unit_price is not None:
        return money(rule.unit_price + extra)
    return money((product.list_price + extra) * (HUNDRED - rule.discount_pct) / HUNDRED)


def _describe(pl: PriceList, rule: PriceRule) -> dict:
    out = {
        "price_list": pl.name,
        "price_list_id": pl.id,
        "rule_id": rule.id,
        "scope": pl.scope,
        "priority": pl.priority,
        "min_qty": rule.min_qty,
    }
    if seller := getattr(pl, "seller_code", None):  # §16: a distributor's list
        out["seller_code"] = seller
    out["target"] = f"sku:{rule.sku}" if rule.sku else f"category:{rule.category}"
    if rule.unit_price is not None:
        out["unit_price"] = str(money(rule.unit_price))
    else:
        out["discount_pct"] = format(rule.discount_pct.normalize(), "f")  # "10", "12.5" (never "1E+1")
    return out


def resolve_with(lists, product: Product, quantity: int, extra: Decimal = Decimal(0)) -> Resolved:
    """Resolve from already-loaded candidate lists (one query serves a whole catalogue page); `extra` is the list-price
    delta of the options chosen (net)."""
    return resolve_all(lists, [product], quantity, extra)[0]


def resolve_all(lists, products, quantity: int, extra: Decimal = Decimal(0)) -> list[Resolved]:
    """Resolve many products at once (a whole catalogue page) from already-loaded candidate lists: the rules are
    indexed once by their SKU or category (a rule has exactly one of the two), so each product looks only at the
    rules that can apply to it instead of at every rule of every candidate list."""
    by_sku: dict[str, list] = {}
    by_category: dict[str, list] = {}
    for pl, rank in lists:
        for rule in pl.rules:
            if rule.min_qty > quantity:
                continue
            if rule.sku is not None:
                by_sku.setdefault(rule.sku, []).append((pl, rank, rule))
            else:
                by_category.setdefault(rule.category, []).append((pl, rank, rule))
    out = []
    for product in products:
        best = None
        for pl, rank, rule in (*by_sku.get(product.sku, ()), *by_category.get(product.category, ())):
            if rule.category is not None and rule.category != product.category:
                continue
            price = _rule_price(rule, product, extra)
            key = (rank, pl.priority, -price, -rule.id)
            if best is None or key > best[0]:
                best = (key, pl, rule, price)
        list_price = money(product.list_price + extra)
        if best is None:
            out.append(Resolved(product.sku, quantity, list_price, list_price, None))
        else:
            _key, pl, rule, price = best
            out.append(Resolved(product.sku, quantity, list_price, price, _describe(pl, rule)))
    return out


def resolve(dealer: Dealer, product: Product, quantity: int, on: dt.date) -> Resolved:
    return resolve_with(candidate_lists(dealer, on), product, quantity)


def price_line(unit_price: Decimal, quantity: int, tax_rate: Decimal) -> dict:
    """Money per line (§2): net = unit × qty, tax = round(net × rate), gross = net + tax."""
    net = money(unit_price * quantity)
    tax = money(net * tax_rate)
    return {"net": net, "tax": tax, "gross": net + tax}
