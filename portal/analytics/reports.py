"""Channel flow and price monitoring (PRODUCT.md §7), in SQL (SQLAlchemy Core, the same SQL on PostgreSQL and SQLite).

Channel flow, for a period [from, to] (inclusive dates), grouped by any ordered combination of region, level, dealer,
category, product and month, in the caller's scope (region managers: their subtree; dealers: themselves). The level
(§16) is 1 for the dealers that buy from HQ (distributors among them) and 2 for sub-dealers, who buy from their
distributor:

- sell_in_qty / sell_in_amount: what HQ shipped to the dealers (shipment lines, by ship date), gross amount;
- transfer_in_qty / transfer_in_amount (§16): what distributors shipped to their sub-dealers out of their own stock
  (transfers, by ship date), gross as the distributor invoiced it — the goods move inside the channel, so they are
  not sell-in: grouped by level, level 1 shows HQ's sell-in, level 2 the transfers, and each piece counts once as
  sell-in however far down it goes;
- sell_through_qty / sell_through_amount: the dealers' sales to end customers (what the customers paid);
- opening_stock: dealer stock on hand at the end of the day before the period (or before the month, per month);
- ending_stock: dealer stock on hand at the end of the period's last day (per month: of the month's last day
  inside the period). Stock on hand on D = Σ of the dealer's stock movements dated ≤ D (receipts, sales,
  adjustments); goods shipped but not yet received (in transit) are not in it. Every sale movement is written
  with its sell-through line (same day, same quantity), so the sales are taken from the sell-through sums (monthly
  sums for whole months, lines for partial ones) and only the other movements are read one by one;
- sell_through_rate = sell_through_qty ÷ (opening_stock + inflow) of the row's period, a fraction with 4 decimals
  (0.2500 = 25 %); null when the denominator is 0 or less. The inflow is the sell-in, plus the transfers in where
  they come from outside the row: a row of sub-dealers apart from their distributors (grouped by level or dealer,
  or filtered on one sub-dealer); a region or category row holds both, and its transfers moved goods inside it;
- days_of_inventory = ending_stock ÷ (sell_through_qty ÷ days of the row's period) — how many days the stock on
  the last day lasts at the period's average daily sell-through; 1 decimal; null when nothing was sold;
- cash_received: payments received from the dealers in the period (ledger payments by date received; credit notes
  are not cash). Payments belong to a dealer, not to a product: null when grouped by (or filtered on) category or
  product.

Where the figures come from: whole calendar months from monthly sums kept exact by the writers in their own
transactions — the channel roll-up per dealer, category and month (`ChannelMonthly`: sell-in, sell-through, the
other stock movements) when no product detail is asked for (no product grouping, no SKU filter), else the
sell-through sums per dealer, product and month (`SellThroughMonthly`) with the shipment lines and stock movements
themselves; the days of partial months from the rows (or the month's sums less the days outside the period, when
that reads fewer days). So the figures are exact for any dates, and a late row counts as soon as it is written.

Region rows are the child regions of the anchor region, each covering its whole subtree (as in the ageing), plus
a row for the dealers placed directly in the anchor; the anchor is the `region` filter, else the region manager's
region, else the root of the tree.

Totals: sums of the flows over the whole result; opening stock of the first day, ending stock of the last day;
rate and days of inventory recomputed from those totals over the whole period.

Paging (the page and the API; issue 24): a page of the rows in the report's order, read with the totals and the
number of rows in the same statement (window aggregates over the whole result, computed before the LIMIT), so the
totals are always those of every row. Exports read every row through `channel_flow_rows`, in chunks (yield_per).

Price monitoring: sell-through lines sold below the product's floor (`min_resale_price` on the day of the sale,
stored on the line) per dealer and product: lines, quantity, amount, gap = Σ (floor − price) × quantity, the
worst (lowest) price; and the lines themselves for a drill-down.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import (
    Date,
    Integer,
    Select,
    and_,
    any_,
    bindparam,
    case,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    text,
    true,
    type_coerce,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY

from portal.catalog.models import Product
from portal.credit.models import LedgerEntry
from portal.dealers.models import Dealer, Region
from portal.extensions import db
from portal.inventory.models import ChannelMonthly, DealerStockMove, SellThroughLine, SellThroughMonthly
from portal.platform.errors import Invalid
from portal.platform.money import ZERO, money, sql_round, sql_sum
from portal.shipping.models import Shipment, ShipmentLine

GROUP_KEYS = ("region", "level", "dealer", "category", "product", "month")
LEVELS = (1, 2)  # 1: dealers that buy from HQ (distributors among them); 2: sub-dealers, who buy from a distributor
MAX_MONTHS = 60  # a period spans at most five years of months
SUB_DEALER_LITERALS = 1000  # up to this many sub-dealers, the level is read from their ids as constants
FLOWS = ("sell_in_qty", "sell_in_amount", "transfer_in_qty", "transfer_in_amount", "sell_through_qty",
         "sell_through_amount")  # fmt: skip
MEASURES = (
    "sell_in_qty",
    "sell_in_amount",
    "transfer_in_qty",
    "transfer_in_amount",
    "sell_through_qty",
    "sell_through_amount",
    "opening_stock",
    "ending_stock",
    "sell_through_rate",
    "days_of_inventory",
    "cash_received",
)
KEY_COLUMNS = {
    "region": ("region_code", "region_name"),
    "level": ("level",),
    "dealer": ("dealer_code", "dealer_name"),
    "category": ("category",),
    "product": ("sku", "product_name", "product_name_en"),
    "month": ("month",),
}
DEFAULT_PER_PAGE = 100  # rows on a page of the report (the page and the API)
MAX_PER_PAGE = 500  # the API's largest page
MAX_OFFSET = 2**62  # a page further out is past the end of any report (and the database's OFFSET stays in range)
RATE_PLACES = Decimal("0.0001")
DAYS_PLACES = Decimal("0.1")


# ---------------------------------------------------------------- months


def next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def month_end(day: dt.date) -> dt.date:
    return next_month(day) - dt.timedelta(days=1)


def month_starts(date_from: dt.date, date_to: dt.date) -> list[dt.date]:
    out, m = [], date_from.replace(day=1)
    while m <= date_to:
        out.append(m)
        m = next_month(m)
    return out


def last_12_months(on: dt.date) -> tuple[dt.date, dt.date]:
    """The default period: the first day of the month eleven months back, to `on` (12 monthly buckets)."""
    start = on.replace(day=1)
    for _i in range(11):
        start = (start - dt.timedelta(days=1)).replace(day=1)
    return start, on


def _date(value: dt.date):
    return type_coerce(literal(value, Date), Date)


def _bucket(col, buckets: list[dt.date]):
    """The bucket (first day of a month, or the single bucket) a date column falls in, as a CASE over literals."""
    if len(buckets) == 1:
        return _date(buckets[0])
    whens = [(col < _date(buckets[i + 1]), _date(buckets[i])) for i in range(len(buckets) - 1)]
    return case(*whens, else_=_date(buckets[-1]))


def _segments(date_from: dt.date, date_to: dt.date):
    """(first whole month, last whole month) or None, and the partial date ranges at the edges."""
    whole = [m for m in month_starts(date_from, date_to) if m >= date_from and month_end(m) <= date_to]
    if not whole:
        return None, [(date_from, date_to)]
    partial = []
    if date_from < whole[0]:
        partial.append((date_from, whole[0] - dt.timedelta(days=1)))
    if month_end(whole[-1]) < date_to:
        partial.append((next_month(whole[-1]), date_to))
    return (whole[0], whole[-1]), partial


# ---------------------------------------------------------------- filters


class Filters:
    """The caller's scope narrowed by the optional region, dealer, category and SKU filters (codes)."""

    def __init__(self, scope, region: str | None = None, dealer: str | None = None, category: str | None = None,
                 sku: str | None = None):  # fmt: skip
        self.scope = scope
        errors: dict[str, list[str]] = {}
        self.region = self.dealer = self.product = None
        if region:
            self.region = scope.first(Region, code=region)
            if self.region is None:
                errors["region"] = [_("Unknown region %(code)s.", code=region)]
        if dealer:
            self.dealer = scope.first(Dealer, code=dealer)
            if self.dealer is None:
                errors["dealer"] = [_("Unknown dealer %(code)s.", code=dealer)]
        if sku:
            self.product = db.session.execute(select(Product).where(Product.sku == sku)).scalar_one_or_none()
            if self.product is None:
                errors["sku"] = [_("Unknown SKU %(sku)s.", sku=sku)]
        if errors:
            raise Invalid(fields=errors)
        self.category = category or None

    @property
    def by_product(self) -> bool:
        return self.category is not None or self.product is not None

    def dealer_ok(self, col):
        conds = [self.scope.dealer_clause(col)]
        if self.region is not None:
            subtree = select(Region.id).where(Region.path.startswith(self.region.path, autoescape=True))
            conds.append(col.in_(select(Dealer.id).where(Dealer.region_id.in_(subtree))))
        if self.dealer is not None:
            conds.append(col == self.dealer.id)
        return and_(*conds)

    def product_ok(self, col):
        conds = []
        if self.category is not None:
            conds.append(col.in_(select(Product.id).where(Product.category == self.category)))
        if self.product is not None:
            conds.append(col == self.product.id)
        return and_(true(), *conds)

    def anchor(self) -> Region | None:
        """The region whose children are the region rows."""
        if self.region is not None:
            return self.region
        if self.scope.is_region:
            return db.session.execute(select(Region).where(Region.path == self.scope.region_path)).unique().scalar_one()
        roots = db.session.execute(select(Region).where(Region.parent_id.is_(None))).unique().scalars().all()
        return roots[0] if len(roots) == 1 else None


def _region_map(anchor: Region | None):
    """dealer_id → the region row it counts in (a child of the anchor, covering its subtree, or the anchor itself)."""
    dealer_region = Region.__table__.alias("dealer_region")
    group = Region.__table__.alias("group_region")
    under = func.substr(dealer_region.c.path, 1, func.length(group.c.path)) == group.c.path
    if anchor is None:
        belongs = and_(group.c.parent_id.is_(None), under)
    else:
        belongs = or_(
            and_(group.c.parent_id == anchor.id, under),
            and_(group.c.id == anchor.id, dealer_region.c.id == anchor.id),
        )
    dealers = Dealer.__table__
    return (
        select(
            dealers.c.id.label("dealer_id"),
            group.c.code.label("region_code"),
            group.c.name.label("region_name"),
        )
        .select_from(dealers)
        .join(dealer_region, dealer_region.c.id == dealers.c.region_id)
        .join(group, belongs)
        .subquery("region_map")
    )


# ---------------------------------------------------------------- channel flow


def _facts(f: Filters, date_from: dt.date, date_to: dt.date, buckets: list[dt.date], monthly: bool,
           with_cash: bool, coarse: bool, by_category: bool):  # fmt: skip
    """UNION ALL of every source, summed per dealer_id, item (the product id; with `coarse` the category when
    `by_category`, else null) and bucket: the measures (0 where a source has nothing to say). `stock` counts every
    movement up to `to` (those before `from` in the first bucket); `opening` the movements before `from`.

    Whole months are read from monthly sums — with `coarse` (no product detail asked for) the channel roll-up per
    dealer, category and month holds every flow; else the sell-through sums per product — and the days of partial
    months from the rows themselves, one query part per date range (each an index range scan). Each part is summed
    per (dealer, item, bucket) before the union: the union, the region map and the final grouping see few rows."""
    zero = literal_column("0")
    cols = ("si_q", "si_a", "tr_q", "tr_a", "st_q", "st_a", "stock", "opening", "cash")
    first = _date(buckets[0])

    def row(dealer_id, product_id, bucket, **values):
        return [dealer_id.label("dealer_id"), product_id.label("item"), bucket.label("bucket")] + [
            (values.get(c, zero)).label(c) for c in cols
        ]

    def grouped(stmt):
        """A part summed per (dealer, item, bucket); the measures the part does not give stay the constant 0, not
        summed (most parts give two or three of the nine: measured, about a quarter of the time of grouping the
        opening stock's rows went into summing zeros)."""
        given = {c for c in cols if stmt.selected_columns[c].element is not zero}
        part = stmt.subquery()
        keys = (part.c.dealer_id, part.c.item, part.c.bucket)
        return select(*keys, *[func.sum(part.c[c]).label(c) if c in given else zero.label(c) for c in cols]).group_by(
            *keys
        )

    def raw(from_, dealer_col, product_col, date_col, a, b, bucket, *where, **values):
        """The rows of `from_` dated a..b summed per dealer, item and bucket (with `coarse`, their category)."""
        if coarse:
            from_ = from_.join(Product, Product.id == product_col)
        item = (Product.category if by_category else null()) if coarse else product_col
        return grouped(
            select(*row(dealer_col, item, bucket, **values))
            .select_from(from_)
            .where(date_col >= a, date_col <= b, f.dealer_ok(dealer_col), f.product_ok(product_col), *where)
        )

    s, mv, sl, sh = SellThroughLine, DealerStockMove, ShipmentLine, Shipment
    shipped = sl.__table__.join(sh.__table__, sh.id == sl.shipment_id)
    by_hq = sh.seller_id.is_(None)  # HQ's shipments are sell-in; a distributor's, its sub-dealer's transfers in

    def shipped_values(k: int = 1) -> dict:
        quantity, gross = (sl.quantity, sl.gross) if k > 0 else (-sl.quantity, -sl.gross)
        return {"si_q": case((by_hq, quantity), else_=zero), "si_a": case((by_hq, gross), else_=zero),
                "tr_q": case((by_hq, zero), else_=quantity), "tr_a": case((by_hq, zero), else_=gross)}  # fmt: skip

    not_sale = mv.kind != "sale"
    first_month = date_from.replace(day=1)
    sources = []

    def rows_of(a: dt.date, b: dt.date, bucket, flows: int = 0, stock: int = 0, opening: int = 0):
        """The rows dated a..b (inside one month) as parts counted with a sign (+1 / −1 / 0) in the flows, the stock
        and the opening. Each sale also leaves the dealer's stock (its `sale` movement, same day, same quantity,
        written with the line): counted from the lines rather than by reading every sale movement again."""

        def signed(col, k):
            return col if k > 0 else -col

        if flows:
            sources.append(raw(shipped, sh.dealer_id, sl.product_id, sh.shipped_on, a, b, bucket,
                               **shipped_values(flows)))  # fmt: skip
        values = {}
        if flows:
            values.update(st_q=signed(s.quantity, flows), st_a=signed(s.amount, flows))
        if stock:
            values["stock"] = signed(s.quantity, -stock)
        if opening:
            values["opening"] = signed(s.quantity, -opening)
        sources.append(raw(s.__table__, s.dealer_id, s.product_id, s.sold_on, a, b, bucket, **values))
        values = {}
        if stock:
            values["stock"] = signed(mv.quantity, stock)
        if opening:
            values["opening"] = signed(mv.quantity, opening)
        if values:
            sources.append(raw(mv.__table__, mv.dealer_id, mv.product_id, mv.moved_on, a, b, bucket, not_sale,
                               **values))  # fmt: skip

    if coarse:
        # Whole months from the roll-up. A partial month is read either directly (its days in the period, from the
        # rows) or as the roll-up's month less the days outside the period, whichever reads fewer days: the
        # current month up to today costs nothing, and the first month's days before `from` are read once (the
        # opening stock needs them anyway).
        c = ChannelMonthly
        c_item = c.category if by_category else null()
        c_ok = and_(f.dealer_ok(c.dealer_id), c.category == f.category if f.category is not None else true())
        moved = c.moved - c.sell_through_qty
        from_rollup = []
        for m in month_starts(date_from, date_to):
            a, b, end = max(m, date_from), min(month_end(m), date_to), month_end(m)
            bucket = _date(m) if monthly else first
            pre = (m, a - dt.timedelta(days=1)) if a > m else None  # the first month's days before `from`
            post = (b + dt.timedelta(days=1), end) if b < end else None  # the last month's days after `to`
            if post is None or (end - b).days < (b - a).days + 1:
                from_rollup.append(m)
                if pre:  # not in the flows, in the opening stock (and already in the month's stock)
                    rows_of(*pre, bucket, flows=-1, opening=+1)
                if post:  # in neither
                    rows_of(*post, bucket, flows=-1, stock=-1)
            else:
                if pre:
                    rows_of(*pre, bucket, stock=+1, opening=+1)
                rows_of(a, b, bucket, flows=+1, stock=+1)
        if from_rollup:
            part = (
                select(*row(c.dealer_id, c_item, c.month if monthly else first, si_q=c.sell_in_qty,
                            si_a=c.sell_in_amount, tr_q=c.transfer_in_qty, tr_a=c.transfer_in_amount,
                            st_q=c.sell_through_qty, st_a=c.sell_through_amount, stock=moved))  # fmt: skip
                .where(_one_of(c.month, from_rollup, Date), c_ok)
            )
            sources.append(part if by_category and monthly else grouped(part))  # one row per dealer (and month)
        # everything before the first month: the opening stock
        sources.append(grouped(select(*row(c.dealer_id, c_item, first, stock=moved, opening=moved))
                               .where(c.month < first_month, c_ok)))  # fmt: skip
    else:
        whole, partial = _segments(date_from, date_to)
        # sell-in and transfers in: shipment lines by ship date
        sources.append(raw(shipped, sh.dealer_id, sl.product_id, sh.shipped_on, date_from, date_to,
                           _bucket(sh.shipped_on, buckets), **shipped_values()))  # fmt: skip
        # sell-through of the partial months from the lines, of the whole months from the monthly sums
        for a, b in partial:
            sources.append(raw(s.__table__, s.dealer_id, s.product_id, s.sold_on, a, b, _bucket(s.sold_on, buckets),
                               st_q=s.quantity, st_a=s.amount, stock=-s.quantity))  # fmt: skip
        if date_from > first_month:  # the sales of the first month's days before `from` (opening stock)
            sources.append(raw(s.__table__, s.dealer_id, s.product_id, s.sold_on, first_month,
                               date_from - dt.timedelta(days=1), first, stock=-s.quantity,
                               opening=-s.quantity))  # fmt: skip
        m = SellThroughMonthly
        m_ok = and_(f.dealer_ok(m.dealer_id), f.product_ok(m.product_id))
        if whole is not None:
            sources.append(
                select(*row(m.dealer_id, m.product_id, m.month if monthly else first, st_q=m.quantity,
                            st_a=m.amount, stock=-m.quantity))  # fmt: skip
                .where(m.month >= whole[0], m.month <= whole[1], m_ok)
            )
        sources.append(grouped(select(*row(m.dealer_id, m.product_id, first, stock=-m.quantity, opening=-m.quantity))
                               .where(m.month < first_month, m_ok)))  # fmt: skip
        # dealer stock: every other movement (receipts, adjustments) up to the end of the period
        before = mv.moved_on < date_from
        sources.append(grouped(
            select(*row(mv.dealer_id, mv.product_id, case((before, first), else_=_bucket(mv.moved_on, buckets)),
                        stock=mv.quantity, opening=case((before, mv.quantity), else_=zero)))
            .where(not_sale, mv.moved_on <= date_to, f.dealer_ok(mv.dealer_id), f.product_ok(mv.product_id))
        ))  # fmt: skip
    if with_cash:
        le = LedgerEntry
        sources.append(grouped(
            select(*row(le.dealer_id, null(), _bucket(le.entry_date, buckets), cash=le.amount))
            .where(le.type == "payment", le.entry_date >= date_from, le.entry_date <= date_to,
                   f.dealer_ok(le.dealer_id))
        ))  # fmt: skip
    return union_all(*sources).subquery("facts")


def _aggregate(f: Filters, facts, group_by: list[str], coarse: bool):
    """GROUP BY the keys (and the bucket): the sums per row, keys labelled as in KEY_COLUMNS."""
    key_cols, joins = [], []
    from_ = facts
    if "region" in group_by:
        rmap = _region_map(f.anchor())
        from_ = from_.join(rmap, rmap.c.dealer_id == facts.c.dealer_id)
        joins.append(("region", [rmap.c.region_code.label("region_code"), rmap.c.region_name.label("region_name")]))
    if "dealer" in group_by:
        from_ = from_.join(Dealer, Dealer.id == facts.c.dealer_id)
        joins.append(("dealer", [Dealer.code.label("dealer_code"), Dealer.name.label("dealer_name")]))
    if "level" in group_by:
        # the level as the boolean "is a sub-dealer" (`channel_flow` answers 2, else 1): the planner knows it has two
        # values and hashes the groups (a CASE over parent_id was estimated at one group per row and sorted: 2.5×
        # slower, measured). With the dealer rows joined anyway, their parent_id; else the sub-dealers' ids, read
        # first by the parent_id index, as a constant list the database hashes once (no join of every fact row): on
        # PostgreSQL one array parameter, whose value the planner sees all the same
        if "dealer" in group_by:
            is_sub = Dealer.parent_id.is_not(None)
        else:
            subs = select(Dealer.id).where(Dealer.parent_id.is_not(None))
            ids = db.session.execute(subs.limit(SUB_DEALER_LITERALS + 1)).scalars().all()
            if len(ids) > SUB_DEALER_LITERALS:
                is_sub = facts.c.dealer_id.in_(subs)
            elif ids:
                is_sub = _one_of(facts.c.dealer_id, ids, Integer, literal=True)
            else:  # no sub-dealers: every row is level 1 (a bound value: SQLite would read a literal 0 as a position)
                is_sub = literal(False)
        joins.append(("level", [is_sub.label("level")]))
    if coarse:
        joins.append(("category", [facts.c.item.label("category")]))
    elif "category" in group_by or "product" in group_by:
        from_ = from_.join(Product, Product.id == facts.c.item)
        joins.append(("category", [Product.category.label("category")]))
        joins.append(("product", [Product.sku.label("sku"), Product.name.label("product_name"),
                                  Product.name_en.label("product_name_en")]))  # fmt: skip
    by_key = dict(joins)
    for key in group_by:
        if key != "month":
            key_cols.extend(by_key[key])
    sums = [
        func.coalesce(func.sum(facts.c.si_q), 0).label("si_q"),
        sql_sum(facts.c.si_a).label("si_a"),
        func.coalesce(func.sum(facts.c.tr_q), 0).label("tr_q"),
        sql_sum(facts.c.tr_a).label("tr_a"),
        func.coalesce(func.sum(facts.c.st_q), 0).label("st_q"),
        sql_sum(facts.c.st_a).label("st_a"),
        func.coalesce(func.sum(facts.c.stock), 0).label("stock"),
        func.coalesce(func.sum(facts.c.opening), 0).label("opening"),
        sql_sum(facts.c.cash).label("cash"),
    ]
    stmt = select(*key_cols, facts.c.bucket, *sums).select_from(from_).group_by(*key_cols, facts.c.bucket)
    return stmt, [c.key for c in key_cols]


def channel_flow_select(scope, date_from: dt.date, date_to: dt.date, group_by: list[str], *, region=None,
                        dealer=None, category=None, sku=None):  # fmt: skip
    """The statement answering one row per group (and month): key columns, bucket and the raw sums (si_q, si_a,
    st_q, st_a, opening, ending, cash); rows where everything is zero are left out. Also answers the Filters."""
    f = Filters(scope, region, dealer, category, sku)
    monthly = "month" in group_by
    buckets = month_starts(date_from, date_to) if monthly else [date_from]
    with_cash = not (f.by_product or "category" in group_by or "product" in group_by)
    coarse = f.product is None and "product" not in group_by
    facts = _facts(f, date_from, date_to, buckets, monthly, with_cash, coarse, "category" in group_by)
    agg_stmt, keys = _aggregate(f, facts, group_by, coarse)
    if not monthly:
        agg = agg_stmt.subquery("agg")
        out = select(
            *[agg.c[k] for k in keys],
            agg.c.bucket,
            agg.c.si_q,
            agg.c.si_a,
            agg.c.tr_q,
            agg.c.tr_a,
            agg.c.st_q,
            agg.c.st_a,
            agg.c.opening.label("opening"),
            agg.c.stock.label("ending"),
            agg.c.cash,
        ).subquery("flow")
    else:
        agg = agg_stmt.cte("agg")
        codes = [k for k in keys if k in ("region_code", "level", "dealer_code", "category", "sku")]
        months = union_all(*[select(_date(m).label("bucket")) for m in buckets]).subquery("months")
        if keys:
            groups = select(*[agg.c[k] for k in keys]).distinct().subquery("groups")
            grid_from = groups.join(months, true())
            on = and_(agg.c.bucket == months.c.bucket, *[agg.c[k] == groups.c[k] for k in codes])
            key_out = [groups.c[k] for k in keys]
            partition = [groups.c[k] for k in codes]
        else:
            grid_from = months
            on = agg.c.bucket == months.c.bucket
            key_out, partition = [], []
        stock = func.coalesce(agg.c.stock, 0)
        ending = func.sum(stock).over(partition_by=partition or None, order_by=months.c.bucket)
        out = (
            select(
                *key_out,
                months.c.bucket,
                func.coalesce(agg.c.si_q, 0).label("si_q"),
                sql_round(func.coalesce(agg.c.si_a, 0)).label("si_a"),
                func.coalesce(agg.c.tr_q, 0).label("tr_q"),
                sql_round(func.coalesce(agg.c.tr_a, 0)).label("tr_a"),
                func.coalesce(agg.c.st_q, 0).label("st_q"),
                sql_round(func.coalesce(agg.c.st_a, 0)).label("st_a"),
                (ending - stock + func.coalesce(agg.c.opening, 0)).label("opening"),
                ending.label("ending"),
                sql_round(func.coalesce(agg.c.cash, 0)).label("cash"),
            )
            .select_from(grid_from)
            .outerjoin(agg, on)
            .subquery("flow")
        )
    c = out.c
    stmt = select(out).where(
        or_(*(c[k] != 0 for k in ("si_q", "si_a", "tr_q", "tr_a", "st_q", "st_a", "opening", "ending", "cash")))
    )
    order = [c[k] for k in keys if k in ("region_code", "level", "dealer_code", "category", "sku")]
    stmt = stmt.order_by(*order, c.bucket)
    return stmt, keys, f, with_cash


def _one_of(col, values: list, type_, literal: bool = False):
    """`col` IN `values`. On PostgreSQL one array parameter (`= ANY(…)`): the statement's text stays the same whatever
    the values (SQLAlchemy renders no list into it at each execution, psycopg parses a shorter statement — measured on
    HQ's home: 400 sub-dealer ids cost more in Python than their part of the query) and the planner still sees the
    values. Elsewhere an IN of the values (`literal`: rendered as constants, for an expression also grouped by)."""
    values = list(values)
    if db.session.get_bind().dialect.name == "postgresql":
        return col == any_(bindparam(None, values, type_=ARRAY(type_)))
    return col.in_(bindparam(None, values, expanding=True, literal_execute=literal))


def _report_settings() -> None:
    """PostgreSQL, for this transaction: no JIT compilation (measured: it cost seconds on these short unions) and
    room to sort and hash the groups in memory."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL jit = off"))
        db.session.execute(text("SET LOCAL work_mem = '64MB'"))


def _rate(sold: int, opening: int, sell_in: int) -> Decimal | None:
    base = opening + sell_in
    return (Decimal(sold) / Decimal(base)).quantize(RATE_PLACES) if base > 0 else None


def _days_of_inventory(ending: int, sold: int, days: int) -> Decimal | None:
    return (Decimal(ending) * days / Decimal(sold)).quantize(DAYS_PLACES) if sold > 0 else None


def _days_of(bucket: dt.date, date_from: dt.date, date_to: dt.date, monthly: bool) -> int:
    if not monthly:
        return (date_to - date_from).days + 1
    return (min(date_to, month_end(bucket)) - max(date_from, bucket)).days + 1


def _as_date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


@dataclass(frozen=True)
class _Flow:
    """A validated channel-flow request: its statement and what turns the statement's rows into the report's."""

    date_from: dt.date
    date_to: dt.date
    group_by: list[str]
    stmt: Select
    keys: list[str]
    monthly: bool
    with_cash: bool
    one_sub_dealer: bool
    rows_apart: bool


def _prepare(scope, date_from: dt.date, date_to: dt.date, group_by, region, dealer, category, sku) -> _Flow:
    """Validate the request (Invalid with the fields) and build its statement."""
    group_by = list(group_by)
    bad = [k for k in group_by if k not in GROUP_KEYS]
    if bad or len(set(group_by)) != len(group_by):
        raise Invalid(fields={"group_by": [_("Any of %(keys)s, each once.", keys=", ".join(GROUP_KEYS))]})
    if date_from > date_to:
        raise Invalid(fields={"from": [_("The period must not end before it starts.")]})
    if len(month_starts(date_from, date_to)) > MAX_MONTHS:
        raise Invalid(fields={"from": [_("A period spans at most %(n)s months.", n=MAX_MONTHS)]})
    stmt, keys, f, with_cash = channel_flow_select(
        scope, date_from, date_to, group_by, region=region, dealer=dealer, category=category, sku=sku
    )
    # transfers feed a row from outside it only where its sub-dealers stand apart from their distributors (§16: a
    # sub-dealer is in its distributor's region, so only level or dealer rows, or one sub-dealer's report, part them)
    one_sub_dealer = f.dealer is not None and f.dealer.parent_id is not None
    rows_apart = one_sub_dealer or "level" in group_by or "dealer" in group_by
    return _Flow(date_from, date_to, group_by, stmt, keys, "month" in group_by, with_cash, one_sub_dealer, rows_apart)


def _flow_row(flow: _Flow, r) -> dict:
    """One row of the statement as the report's row (its bucket kept apart as `_bucket`, for the totals)."""
    bucket = _as_date(r["bucket"])
    row = {k: r[k] for k in flow.keys}
    if "level" in row:  # selected as "is a sub-dealer"
        row["level"] = 2 if row["level"] else 1
    if flow.monthly:
        row["month"] = bucket.strftime("%Y-%m")
    sold, opening, ending = int(r["st_q"]), int(r["opening"]), int(r["ending"])
    row.update(
        sell_in_qty=int(r["si_q"]),
        sell_in_amount=money(r["si_a"]),
        transfer_in_qty=int(r["tr_q"]),
        transfer_in_amount=money(r["tr_a"]),
        sell_through_qty=sold,
        sell_through_amount=money(r["st_a"]),
        opening_stock=opening,
        ending_stock=ending,
        sell_through_rate=_rate(sold, opening, int(r["si_q"]) + (int(r["tr_q"]) if flow.rows_apart else 0)),
        days_of_inventory=_days_of_inventory(ending, sold, _days_of(bucket, flow.date_from, flow.date_to,
                                                                    flow.monthly)),
        cash_received=money(r["cash"]) if flow.with_cash else None,
    )  # fmt: skip
    row["_bucket"] = bucket
    return row


def channel_flow(scope, date_from: dt.date, date_to: dt.date, group_by: list[str] | tuple = ("region",), region=None,
                 dealer=None, category=None, sku=None, *, page: int | None = None,
                 per_page: int | None = None) -> dict:  # fmt: skip
    """Channel flow rows and totals (see the module's docstring for every definition).

    With `page` (from 1) and `per_page`: only that page of the rows (in the report's order), with `total` (how many
    rows there are in all); the totals are still those of every row. A page past the end has no rows (and the
    totals). Without: every row (`total` = their number)."""
    flow = _prepare(scope, date_from, date_to, group_by, region, dealer, category, sku)
    _report_settings()
    out = {"from": date_from, "to": date_to, "group_by": flow.group_by}
    if page is None:
        rows = [_flow_row(flow, r) for r in db.session.execute(flow.stmt).mappings()]
        totals = _totals(rows, date_from, date_to, flow.monthly, flow.with_cash, flow.one_sub_dealer)
        for row in rows:
            del row["_bucket"]
        return {**out, "rows": rows, "totals": totals, "total": len(rows)}
    per_page = per_page or DEFAULT_PER_PAGE
    rows, total, sums = _page_of(flow, page, per_page)
    totals = _finish_totals(sums, date_from, date_to, flow.one_sub_dealer)
    return {**out, "rows": rows, "totals": totals, "page": page, "per_page": per_page, "total": total}


def _page_of(flow: _Flow, page: int, per_page: int) -> tuple[list[dict], int, dict]:
    """One page of rows, the number of rows and the sums over all of them, in one reading of the report: the sums
    and the count are window aggregates over the whole result, computed before the LIMIT. A page past the end (or
    an empty report) has no row to carry them: they are then read by one aggregate over the report."""
    offset = min((page - 1) * per_page, MAX_OFFSET)  # a page like 10**22 must not overflow the database's OFFSET
    stmt = flow.stmt.add_columns(*_sum_columns(flow, flow.stmt.selected_columns, window=True))
    rows, sums = [], None
    for r in db.session.execute(stmt.limit(per_page).offset(offset)).mappings():
        if sums is None:
            sums = r  # the window aggregates: the same on every row
        row = _flow_row(flow, r)
        del row["_bucket"]
        rows.append(row)
    if sums is None:
        report = flow.stmt.order_by(None).subquery("report")
        sums = db.session.execute(select(*_sum_columns(flow, report.c, window=False))).mappings().one()
    return rows, int(sums["t_rows"]), _sums(flow, sums)


def _sum_columns(flow: _Flow, c, window: bool) -> list:
    """The totals' sums over the report's rows `c` (as window aggregates over the whole result, or plain ones):
    flows summed, opening stock of the first bucket, ending stock of the last, the number of rows."""

    def total(expr):
        return func.sum(expr).over() if window else func.sum(expr)

    buckets = month_starts(flow.date_from, flow.date_to)
    opening, ending = c.opening, c.ending
    if flow.monthly:
        opening = case((c.bucket == _date(buckets[0]), c.opening), else_=literal_column("0"))
        ending = case((c.bucket == _date(buckets[-1]), c.ending), else_=literal_column("0"))
    return [
        (func.count().over() if window else func.count()).label("t_rows"),
        func.coalesce(total(c.si_q), 0).label("t_si_q"),
        sql_round(func.coalesce(total(c.si_a), 0)).label("t_si_a"),
        func.coalesce(total(c.tr_q), 0).label("t_tr_q"),
        sql_round(func.coalesce(total(c.tr_a), 0)).label("t_tr_a"),
        func.coalesce(total(c.st_q), 0).label("t_st_q"),
        sql_round(func.coalesce(total(c.st_a), 0)).label("t_st_a"),
        func.coalesce(total(opening), 0).label("t_opening"),
        func.coalesce(total(ending), 0).label("t_ending"),
        sql_round(func.coalesce(total(c.cash), 0)).label("t_cash"),
    ]


def _sums(flow: _Flow, v) -> dict:
    return {
        "sell_in_qty": int(v["t_si_q"]),
        "sell_in_amount": money(v["t_si_a"]),
        "transfer_in_qty": int(v["t_tr_q"]),
        "transfer_in_amount": money(v["t_tr_a"]),
        "sell_through_qty": int(v["t_st_q"]),
        "sell_through_amount": money(v["t_st_a"]),
        "opening_stock": int(v["t_opening"]),
        "ending_stock": int(v["t_ending"]),
        "cash_received": money(v["t_cash"]) if flow.with_cash else None,
    }


def channel_flow_rows(scope, date_from: dt.date, date_to: dt.date, group_by: list[str] | tuple = ("region",),
                      region=None, dealer=None, category=None, sku=None, *, chunk: int = 1000):  # fmt: skip
    """Every row of the report (as `channel_flow` answers them, without totals), read from the database `chunk` rows
    at a time while they are iterated: for exports. Validates at once (Invalid); reads only when iterated."""
    flow = _prepare(scope, date_from, date_to, group_by, region, dealer, category, sku)

    def rows():
        _report_settings()
        for r in db.session.execute(flow.stmt.execution_options(yield_per=chunk)).mappings():
            row = _flow_row(flow, r)
            del row["_bucket"]
            yield row

    return rows()


def _totals(rows: list[dict], date_from: dt.date, date_to: dt.date, monthly: bool, with_cash: bool,
            transfers_from_outside: bool) -> dict:  # fmt: skip
    first = month_starts(date_from, date_to)[0] if monthly else None
    last = month_starts(date_from, date_to)[-1] if monthly else None
    t = {
        "sell_in_qty": sum(r["sell_in_qty"] for r in rows),
        "sell_in_amount": money(sum((r["sell_in_amount"] for r in rows), ZERO)),
        "transfer_in_qty": sum(r["transfer_in_qty"] for r in rows),
        "transfer_in_amount": money(sum((r["transfer_in_amount"] for r in rows), ZERO)),
        "sell_through_qty": sum(r["sell_through_qty"] for r in rows),
        "sell_through_amount": money(sum((r["sell_through_amount"] for r in rows), ZERO)),
        "opening_stock": sum(r["opening_stock"] for r in rows if not monthly or r["_bucket"] == first),
        "ending_stock": sum(r["ending_stock"] for r in rows if not monthly or r["_bucket"] == last),
        "cash_received": money(sum((r["cash_received"] for r in rows), ZERO)) if with_cash else None,
    }
    return _finish_totals(t, date_from, date_to, transfers_from_outside)


def _finish_totals(t: dict, date_from: dt.date, date_to: dt.date, transfers_from_outside: bool) -> dict:
    """Rate and days of inventory recomputed from the summed totals, over the whole period."""
    inflow = t["sell_in_qty"] + (t["transfer_in_qty"] if transfers_from_outside else 0)
    t["sell_through_rate"] = _rate(t["sell_through_qty"], t["opening_stock"], inflow)
    t["days_of_inventory"] = _days_of_inventory(
        t["ending_stock"], t["sell_through_qty"], (date_to - date_from).days + 1
    )
    return t


# ---------------------------------------------------------------- price monitoring


def _below_floor(f: Filters, date_from: dt.date, date_to: dt.date):
    s = SellThroughLine
    return and_(
        s.below_floor.is_(True),
        s.sold_on >= date_from,
        s.sold_on <= date_to,
        f.dealer_ok(s.dealer_id),
        f.product_ok(s.product_id),
    )


def _price_rows(f: Filters, date_from: dt.date, date_to: dt.date):
    """The statement of the rows: per dealer and product, the largest gap first."""
    s = SellThroughLine
    gap = sql_sum((s.floor_price - s.unit_price) * s.quantity)
    return (
        select(
            Dealer.code.label("dealer_code"),
            Dealer.name.label("dealer_name"),
            Region.code.label("region_code"),
            Region.name.label("region_name"),
            Product.sku.label("sku"),
            Product.name.label("product_name"),
            Product.name_en.label("product_name_en"),
            func.count().label("lines"),
            func.sum(s.quantity).label("quantity"),
            sql_sum(s.amount).label("amount"),
            gap.label("gap"),
            sql_round(func.min(s.unit_price)).label("worst_price"),
            sql_round(func.max(s.floor_price)).label("floor_price"),
        )
        .select_from(s)
        .join(Dealer, Dealer.id == s.dealer_id)
        .join(Region, Region.id == Dealer.region_id)
        .join(Product, Product.id == s.product_id)
        .where(_below_floor(f, date_from, date_to))
        .group_by(Dealer.code, Dealer.name, Region.code, Region.name, Product.sku, Product.name, Product.name_en)
        .order_by(gap.desc(), Dealer.code, Product.sku)
    )


def _price_row(r) -> dict:
    row = dict(r)
    row.update(
        lines=int(r["lines"]),
        quantity=int(r["quantity"]),
        amount=money(r["amount"]),
        gap=money(r["gap"]),
        worst_price=money(r["worst_price"]),
        floor_price=money(r["floor_price"]),
    )
    return row


def _price_filters(scope, date_from: dt.date, date_to: dt.date, region, dealer, sku) -> Filters:
    if date_from > date_to:
        raise Invalid(fields={"from": [_("The period must not end before it starts.")]})
    return Filters(scope, region, dealer, None, sku)


def price_monitoring(scope, date_from: dt.date, date_to: dt.date, region=None, dealer=None, sku=None, *,
                     page: int | None = None, per_page: int | None = None) -> dict:  # fmt: skip
    """Sell-through below the floor per dealer and product, worst gap first, with per-dealer and overall totals.

    With `page` and `per_page`: that page of the rows and `total` (rows in all); the dealers and the totals still
    cover every row. Without: every row."""
    f = _price_filters(scope, date_from, date_to, region, dealer, sku)
    stmt = _price_rows(f, date_from, date_to)
    out = {"from": date_from, "to": date_to}
    if page is None:
        rows = [_price_row(r) for r in db.session.execute(stmt).mappings()]
        total = len(rows)
    else:
        per_page = per_page or DEFAULT_PER_PAGE
        offset = min((page - 1) * per_page, MAX_OFFSET)
        rows = [_price_row(r) for r in db.session.execute(stmt.limit(per_page).offset(offset)).mappings()]
        out.update(page=page, per_page=per_page)
    # per dealer: the sums of its rows (each row's amounts as the rows show them, so they add up exactly)
    each = stmt.order_by(None).subquery("price_rows")
    per_dealer = (
        select(
            each.c.dealer_code,
            each.c.dealer_name,
            each.c.region_name,
            func.count().label("rows"),
            func.sum(each.c.lines).label("lines"),
            func.sum(each.c.quantity).label("quantity"),
            sql_sum(each.c.amount).label("amount"),
            sql_sum(each.c.gap).label("gap"),
        )
        .group_by(each.c.dealer_code, each.c.dealer_name, each.c.region_name)
        .order_by(sql_sum(each.c.gap).desc(), each.c.dealer_code)
    )
    dealers, counted = [], 0
    for r in db.session.execute(per_dealer).mappings():
        counted += int(r["rows"])
        dealers.append({"dealer_code": r["dealer_code"], "dealer_name": r["dealer_name"],
                        "region_name": r["region_name"], "lines": int(r["lines"]), "quantity": int(r["quantity"]),
                        "amount": money(r["amount"]), "gap": money(r["gap"])})  # fmt: skip
    totals = {
        k: sum((d[k] for d in dealers), ZERO if k in ("amount", "gap") else 0)
        for k in ("lines", "quantity", "amount", "gap")
    }
    if page is not None:
        total = counted
    return {**out, "rows": rows, "dealers": dealers, "totals": totals, "total": total}


def price_monitoring_rows(scope, date_from: dt.date, date_to: dt.date, region=None, dealer=None, sku=None, *,
                          chunk: int = 1000):  # fmt: skip
    """Every row of the price monitoring, read `chunk` at a time while iterated (exports). Validates at once."""
    stmt = _price_rows(_price_filters(scope, date_from, date_to, region, dealer, sku), date_from, date_to)

    def rows():
        for r in db.session.execute(stmt.execution_options(yield_per=chunk)).mappings():
            yield _price_row(r)

    return rows()


def price_monitoring_lines(scope, date_from: dt.date, date_to: dt.date, region=None, dealer=None, sku=None):
    """The statement listing the below-floor lines themselves (the drill-down), newest first."""
    f = Filters(scope, region, dealer, None, sku)
    s = SellThroughLine
    return (
        select(
            s.id,
            s.sold_on,
            Dealer.code.label("dealer_code"),
            Dealer.name.label("dealer_name"),
            s.sku,
            s.serial,
            s.quantity,
            s.unit_price,
            s.floor_price,
            sql_round((s.floor_price - s.unit_price) * s.quantity).label("gap"),
            s.city,
            s.customer_type,
            s.source,
        )
        .join(Dealer, Dealer.id == s.dealer_id)
        .where(_below_floor(f, date_from, date_to))
        .order_by(s.sold_on.desc(), s.id.desc())
    )
