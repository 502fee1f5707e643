"""Targets, the write side (PRODUCT.md §15): checking and saving them, listing them, a region's split.

Who sets what (the rules of the domain, rule 1): HQ (channel manager, HQ administrator) sets any region's and any
level-1 dealer's targets; a region manager those of the regions strictly below its own and of the level-1 dealers
in its subtree — never its own region's, which is HQ's figure to it. Sub-dealers (§16) get none: they buy from their
distributor. A region or dealer outside the caller's reach is reported exactly like an unknown code.

`upsert` is all or nothing: every item is checked first (`check_items`, shared by the API, the grid and the file
import) and every problem is reported with its item's index; then each key is inserted or updated in this one
transaction, an unchanged amount writing nothing, and every change audited (`target.set`). Two upserts of the same
key at the same moment neither fail nor lose one: missing rows are inserted with `INSERT … ON CONFLICT DO NOTHING`
(the loser of a race waits for the winner's commit and then updates the row it finds, locked `FOR UPDATE`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from flask_babel import gettext as _
from marshmallow import ValidationError
from sqlalchemy import and_, case, func, literal, or_, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from portal.audit.services import record
from portal.catalog.models import Category, Product
from portal.dealers.models import Dealer, Region
from portal.extensions import db
from portal.platform.errors import Forbidden, Invalid
from portal.platform.money import Money, fmt
from portal.platform.tenancy import Scope
from portal.platform.timeutil import utcnow
from portal.targets.models import MEASURES, NO_CATEGORY, UNIT_MEASURES, Target

PERIOD = re.compile(r"([0-9]{4})-([0-9]{2})")
MAX_ITEMS = 5000  # one request (or file): 12 months × 3 measures × ~140 keys


# ---------------------------------------------------------------- parsing


def parse_period(text) -> dt.date:
    """`YYYY-MM` (month 01–12) → the month's first day; ValueError with the reason."""
    found = PERIOD.fullmatch(text) if isinstance(text, str) else None
    if found is None or not 1 <= int(found[2]) <= 12 or int(found[1]) < 1:
        raise ValueError(_("A month as YYYY-MM (01 to 12)."))
    return dt.date(int(found[1]), int(found[2]), 1)


def period_of(month: dt.date) -> str:
    return f"{month.year:04d}-{month.month:02d}"


def api_amount(value) -> Decimal:
    """An amount as the JSON API takes it (`portal.platform.money.Money`): a string of the documented pattern or a JSON
    integer, never negative; ValueError with the reason."""
    try:
        return Money().deserialize(value)
    except ValidationError as exc:
        raise ValueError(" ".join(str(m) for m in exc.messages)) from exc


def months_between(first: dt.date, last: dt.date) -> list[dt.date]:
    out, month = [], first.replace(day=1)
    while month <= last:
        out.append(month)
        month = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return out


# ---------------------------------------------------------------- reach


def scope_of(actor) -> Scope:
    return Scope.for_principal(actor)


def writer_scope(actor) -> Scope:
    """The scope of an actor that may set targets (`targets.write`: HQ's channel side or a region manager); Forbidden
    otherwise."""
    from portal.platform.auth import can

    scope = scope_of(actor)
    if actor is None or scope.kind not in ("hq", "region") or not can("targets.write", actor):
        raise Forbidden()
    return scope


class Reach:
    """The regions and dealers a caller may see and set targets of, resolved from codes in bulk."""

    def __init__(self, scope: Scope):
        self.scope = scope
        self.regions: dict[str, Region | None] = {}
        self.dealers: dict[str, Dealer | None] = {}

    def load(self, region_codes: Iterable[str], dealer_codes: Iterable[str]) -> None:
        regions = {c for c in region_codes if c and c.casefold() not in self.regions}
        dealers = {c for c in dealer_codes if c and c.casefold() not in self.dealers}
        for chunk in _chunks(sorted(regions)):
            found = self.scope.select(Region, Region.code.in_(chunk))
            for region in db.session.execute(found).unique().scalars():
                self.regions[region.code.casefold()] = region
        for chunk in _chunks(sorted(dealers)):
            found = self.scope.select(Dealer, Dealer.code.in_(chunk))
            for dealer in db.session.execute(found).unique().scalars():
                self.dealers[dealer.code.casefold()] = dealer
        for code in regions:
            self.regions.setdefault(code.casefold(), None)
        for code in dealers:
            self.dealers.setdefault(code.casefold(), None)

    def region(self, code: str) -> Region | None:
        """The region, when the caller may see it (None otherwise: unknown)."""
        if code.casefold() not in self.regions:
            self.load([code], [])
        return self.regions[code.casefold()]

    def dealer(self, code: str) -> Dealer | None:
        if code.casefold() not in self.dealers:
            self.load([], [code])
        return self.dealers[code.casefold()]

    def resolve(self, text) -> tuple[Region | None, Dealer | None]:
        """`region:<code>` / `dealer:<code>` → the object the caller may see; ValueError with the reason (an object
        outside the caller's scope is reported exactly like an unknown code)."""
        kind, code = split_scope(text)
        if kind == "region":
            region = self.region(code)
            if region is None:
                raise ValueError(_("Unknown region %(code)s.", code=code))
            return region, None
        dealer = self.dealer(code)
        if dealer is None:
            raise ValueError(_("Unknown dealer %(code)s.", code=code))
        return None, dealer

    def writable(self, region: Region | None, dealer: Dealer | None) -> str | None:
        """Why the caller may not set this (visible) region's or dealer's targets; None when it may."""
        if dealer is not None:
            if dealer.parent_id is not None:
                return _("%(dealer)s is a sub-dealer: it buys from its distributor and gets no targets.",
                         dealer=dealer.code)  # fmt: skip
            return None
        if self.scope.is_region and region.path == self.scope.region_path:
            return _("Your own region's targets are set by HQ.")
        return None

    def can_write(self, region: Region | None = None, dealer: Dealer | None = None) -> bool:
        return self.scope.kind in ("hq", "region") and self.writable(region, dealer) is None


def split_scope(text) -> tuple[str, str]:
    """`region:<code>` | `dealer:<code>` → (kind, code); ValueError otherwise."""
    kind, sep, code = text.partition(":") if isinstance(text, str) else ("", "", "")
    kind, code = kind.strip().lower(), code.strip()
    if not sep or kind not in ("region", "dealer") or not code or len(code) > 32:
        raise ValueError(_("A scope as region:<code> or dealer:<code>."))
    return kind, code


def scope_text(region: Region | None, dealer: Dealer | None) -> str:
    return f"region:{region.code}" if region is not None else f"dealer:{dealer.code}"


def _chunks(values: list, size: int = 500):
    for i in range(0, len(values), size):
        yield values[i : i + size]


def known_categories(names: Iterable[str]) -> set[str]:
    """Those of `names` that are existing product categories (a product carries it, or HQ named it)."""
    names = sorted(set(names))
    if not names:
        return set()
    found = set(db.session.execute(select(Product.category).where(Product.category.in_(names)).distinct()).scalars())
    found |= set(db.session.execute(select(Category.code).where(Category.code.in_(names))).scalars())
    return found


# ---------------------------------------------------------------- checking


@dataclass
class Checked:
    """One valid item."""

    month: dt.date
    region: Region | None
    dealer: Dealer | None
    measure: str
    category: str
    amount: Decimal

    @property
    def key(self) -> tuple:
        owner = ("region", self.region.id) if self.region else ("dealer", self.dealer.id)
        return owner, self.month, self.measure, self.category

    @property
    def label(self) -> str:
        """The audit's object key: `<scope> <period> <measure>[ <category>]`."""
        text = f"{scope_text(self.region, self.dealer)} {period_of(self.month)} {self.measure}"
        return f"{text} {self.category}" if self.category else text


@dataclass
class Checks:
    items: list[Checked | None] = field(default_factory=list)  # None where the item is invalid
    errors: dict[int, dict[str, list[str]]] = field(default_factory=dict)  # item index -> field -> messages

    def flat(self, prefix: str = "items") -> dict[str, list[str]]:
        return {f"{prefix}.{i}.{name}": msgs for i, fields in sorted(self.errors.items()) for name, msgs in
                fields.items()}  # fmt: skip


def _text(value) -> str:
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else str(value)


def check_items(
    scope: Scope,
    items: list[dict],
    *,
    amount: Callable = api_amount,
    period: Callable = parse_period,
    duplicate: Callable[[int], str] | None = None,
) -> Checks:
    """Check every item (period, scope, measure, category, amount); collect every problem by item index and field.

    `amount` and `period` read the values as their source holds them (the API strictly; a form or file as people
    type them); `duplicate(i)` names the earlier item of a key given twice (the API: "item 3", a file: "line 4")."""
    duplicate = duplicate or (lambda i: _("item %(n)s", n=i))
    reach = Reach(scope)
    kinds = [_safe_split(item.get("scope")) for item in items]
    reach.load([c for k, c in kinds if k == "region"], [c for k, c in kinds if k == "dealer"])
    categories = known_categories(_text(item.get("category")) for item in items if _text(item.get("category")))
    out = Checks()
    seen: dict[tuple, int] = {}
    for index, item in enumerate(items):
        problems: dict[str, list[str]] = {}
        try:
            month = period(item.get("period"))
        except ValueError as exc:
            month = None
            problems["period"] = [str(exc)]
        region = dealer = None
        try:
            region, dealer = reach.resolve(item.get("scope"))
            why = reach.writable(region, dealer)
            if why:
                problems["scope"] = [why]
        except ValueError as exc:
            problems["scope"] = [str(exc)]
        measure = _text(item.get("measure"))
        if measure not in MEASURES:
            problems["measure"] = [_("Unknown measure %(measure)s: one of %(measures)s.", measure=measure or "—",
                                     measures=", ".join(MEASURES))]  # fmt: skip
        category = _text(item.get("category"))
        if category:
            if measure in NO_CATEGORY:
                problems["category"] = [_("Collections have no category: leave it empty.")]
            elif category not in categories:
                problems["category"] = [_("Unknown category %(category)s.", category=category)]
        try:
            value = amount(item.get("amount"))
            if value < 0:
                raise ValueError(_("Must not be negative."))
            if measure in UNIT_MEASURES and value != value.to_integral_value():
                raise ValueError(_("Sell-through units are whole pieces."))
        except (ValueError, TypeError) as exc:
            value = None
            problems["amount"] = [str(exc) if isinstance(exc, ValueError) else _("Not a number.")]
        checked = None
        if not problems:
            checked = Checked(month, region, dealer, measure, category, value)
            earlier = seen.get(checked.key)
            if earlier is not None:
                problems["scope"] = [_("The same target as %(earlier)s.", earlier=duplicate(earlier))]
                checked = None
            else:
                seen[checked.key] = index
        if problems:
            out.errors[index] = problems
        out.items.append(checked)
    return out


def _safe_split(text) -> tuple[str, str]:
    try:
        return split_scope(text)
    except ValueError:
        return "", ""


# ---------------------------------------------------------------- writing


def upsert(actor, items: list[dict], *, amount: Callable = api_amount, period: Callable = parse_period) -> dict:
    """Check every item, then insert or update each target — all in this one transaction, or none (Invalid with every
    problem as `items.<index>.<field>`). Answers {created, updated, unchanged}."""
    scope = writer_scope(actor)
    if not items:
        raise Invalid(fields={"items": [_("At least one target.")]})
    if len(items) > MAX_ITEMS:
        raise Invalid(fields={"items": [_("At most %(n)s targets at once.", n=MAX_ITEMS)]})
    checks = check_items(scope, items, amount=amount, period=period)
    if checks.errors:
        raise Invalid(fields=checks.flat())
    return write(actor, [c for c in checks.items if c is not None])


def write(actor, checked: list[Checked]) -> dict:
    """Save checked targets (each key once); {created, updated, unchanged}."""
    by = getattr(actor, "username", None) or getattr(actor, "name", None) or "system"
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    existing = _locked(checked)
    missing = [c for c in checked if c.key not in existing]
    created = _insert_missing(missing, by)
    for c in missing:
        if c.key in created:
            counts["created"] += 1
            record(actor, "target.set", "target", c.label, before=None, after={"target": fmt(c.amount)},
                   dealer_id=c.dealer.id if c.dealer else None)  # fmt: skip
    raced = [c for c in missing if c.key not in created]  # inserted by someone else meanwhile: now an update
    if raced:
        existing.update(_locked(raced))
    for c in checked:
        if c.key in created:
            continue
        target = existing[c.key]
        if target.amount == c.amount:
            counts["unchanged"] += 1
            continue
        before = {"target": fmt(target.amount)}
        target.amount, target.updated_by, target.updated_at = c.amount, by, utcnow()
        counts["updated"] += 1
        record(actor, "target.set", "target", c.label, before=before, after={"target": fmt(c.amount)},
               dealer_id=c.dealer.id if c.dealer else None)  # fmt: skip
    db.session.flush()
    return counts


def _key_of(target: Target) -> tuple:
    scope = ("region", target.region_id) if target.region_id is not None else ("dealer", target.dealer_id)
    return scope, target.month, target.measure, target.category


def _locked(checked: list[Checked]) -> dict[tuple, Target]:
    """The stored targets of these keys, locked for update (PostgreSQL), by key."""
    out: dict[tuple, Target] = {}
    for column, kind in ((Target.region_id, "region"), (Target.dealer_id, "dealer")):
        keys = sorted({(c.key[0][1], c.month, c.measure, c.category) for c in checked if c.key[0][0] == kind})
        for chunk in _chunks(keys, 400):
            stmt = (
                select(Target)
                .where(tuple_(column, Target.month, Target.measure, Target.category).in_(chunk))
                .order_by(Target.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
            for target in db.session.execute(stmt).scalars():
                out[_key_of(target)] = target
    return out


def _insert_missing(missing: list[Checked], by: str) -> set[tuple]:
    """Insert the targets not stored yet, skipping any a concurrent transaction inserted meanwhile (ON CONFLICT DO
    NOTHING on the scope's partial unique index); the keys inserted here."""
    if not missing:
        return set()
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    now = utcnow()
    inserted: set[tuple] = set()
    for column, kind in ((Target.region_id, "region"), (Target.dealer_id, "dealer")):
        rows = [
            {"month": c.month, "region_id": c.region.id if c.region else None,
             "dealer_id": c.dealer.id if c.dealer else None, "measure": c.measure, "category": c.category,
             "amount": c.amount, "updated_at": now, "updated_by": by}
            for c in missing if c.key[0][0] == kind
        ]  # fmt: skip
        for chunk in _chunks(rows, 400):
            stmt = (
                insert(Target)
                .values(chunk)
                .on_conflict_do_nothing(
                    index_elements=[column.name, "month", "measure", "category"], index_where=column.is_not(None)
                )
                .returning(column, Target.month, Target.measure, Target.category)
            )
            for owner, month, measure, category in db.session.execute(stmt):
                inserted.add(((kind, owner), month, measure, category))
    return inserted


# ---------------------------------------------------------------- reading


def _scope_filter(scope: Scope, text: str | None, field_name: str = "scope") -> tuple[Region | None, Dealer | None]:
    if not text:
        return None, None
    try:
        return Reach(scope).resolve(text)
    except ValueError as exc:
        raise Invalid(fields={field_name: [str(exc)]}) from exc


def list_targets(
    scope: Scope,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    scope_filter: str | None = None,
    measure: str | None = None,
    category: str | None = None,
):
    """The targets in the caller's scope (months `date_from`…`date_to`, a region or dealer, a measure, a category) as
    a select of rows: month, kind, code, name, measure, category, amount, updated_at, updated_by; in month, scope,
    measure, category order. A region filter covers the region's subtree: its regions' and its dealers' targets."""
    if measure is not None and measure not in MEASURES:
        raise Invalid(fields={"measure": [_("Unknown measure %(measure)s: one of %(measures)s.", measure=measure,
                                            measures=", ".join(MEASURES))]})  # fmt: skip
    region, dealer = _scope_filter(scope, scope_filter)
    code = func.coalesce(Region.code, Dealer.code)
    stmt = (
        select(
            Target.month,
            case((Target.region_id.is_not(None), literal("region")), else_=literal("dealer")).label("kind"),
            code.label("code"),
            func.coalesce(Region.name, Dealer.name).label("name"),
            Target.measure,
            Target.category,
            Target.amount,
            Target.updated_at,
            Target.updated_by,
        )
        .select_from(Target)
        .outerjoin(Region, Region.id == Target.region_id)
        .outerjoin(Dealer, Dealer.id == Target.dealer_id)
        .where(scope.clause(Target))
        .order_by(Target.month, Target.dealer_id.is_not(None), code, Target.measure, Target.category)
    )
    if date_from is not None:
        stmt = stmt.where(Target.month >= date_from.replace(day=1))
    if date_to is not None:
        stmt = stmt.where(Target.month <= date_to)
    if measure:
        stmt = stmt.where(Target.measure == measure)
    if category is not None:
        stmt = stmt.where(Target.category == category)
    if dealer is not None:
        stmt = stmt.where(Target.dealer_id == dealer.id)
    elif region is not None:
        subtree = select(Region.id).where(Region.path.startswith(region.path, autoescape=True))
        dealers = select(Dealer.id).where(Dealer.region_id.in_(subtree))
        stmt = stmt.where(or_(Target.region_id.in_(subtree), Target.dealer_id.in_(dealers)))
    return stmt


def as_item(row) -> dict:
    """A listed row in the API's shape (what `PUT /targets` takes, plus who changed it when)."""
    return {
        "period": period_of(row.month),
        "scope": f"{row.kind}:{row.code}",
        "name": row.name,
        "measure": row.measure,
        "category": row.category or None,
        "amount": row.amount,
        "updated_at": row.updated_at,
        "updated_by": row.updated_by,
    }


def children_of(region: Region) -> tuple[list[Region], list[Dealer]]:
    """A region's children for the split: its child regions and the level-1 dealers placed directly in it."""
    regions = db.session.execute(select(Region).where(Region.parent_id == region.id).order_by(Region.code))
    dealers = db.session.execute(
        select(Dealer).where(Dealer.region_id == region.id, Dealer.parent_id.is_(None)).order_by(Dealer.code)
    )
    return list(regions.unique().scalars()), list(dealers.unique().scalars())


def anchor(scope: Scope, code: str | None, field_name: str = "region") -> Region | None:
    """The region a split is of: `code` in the caller's scope (422 as unknown otherwise), else the region manager's own
    region, else the channel's top region (None when there are several)."""
    if code:
        region = scope.first(Region, code=code)
        if region is None:
            raise Invalid(fields={field_name: [_("Unknown region %(code)s.", code=code)]})
        return region
    if scope.is_region:
        return db.session.execute(select(Region).where(Region.path == scope.region_path)).unique().scalar_one()
    top = roots()
    return top[0] if len(top) == 1 else None


def roots() -> list[Region]:
    return list(db.session.execute(select(Region).where(Region.parent_id.is_(None)).order_by(Region.code))
                .unique().scalars())  # fmt: skip


def split(scope: Scope, region: Region | None, year: int, measure: str, category: str = "") -> dict:
    """For each month of `year`: the region's own target, each child's (child regions and the level-1 dealers placed
    directly in it), their sum and the difference (sum − own; null while the region has none). `region` None: the
    top regions side by side, without a figure above them (a channel with several roots).

    Figures are the targets stored for exactly this measure and category ("" = the overall figure). `warning` marks
    a month whose children's sum differs from the region's figure (shown, never refused). `editable` says what the
    caller may set."""
    reach = Reach(scope)
    if region is not None:
        child_regions, child_dealers = children_of(region)
    else:
        child_regions, child_dealers = roots(), []
    if scope.is_region:  # a region manager sees its subtree only (a region filter above it never gets here)
        child_regions = [r for r in child_regions if r.path.startswith(scope.region_path)]
    months = [dt.date(year, m, 1) for m in range(1, 13)]
    region_ids = [r.id for r in child_regions] + ([region.id] if region is not None else [])
    dealer_ids = [d.id for d in child_dealers]
    stored: dict[tuple, Decimal] = {}
    conds = []
    if region_ids:
        conds.append(Target.region_id.in_(region_ids))
    if dealer_ids:
        conds.append(Target.dealer_id.in_(dealer_ids))
    if conds:
        rows = db.session.execute(
            select(Target).where(
                or_(*conds),
                Target.month.between(months[0], months[-1]),
                Target.measure == measure,
                Target.category == category,
            )
        ).scalars()
        stored = {_key_of(t)[:2]: t.amount for t in rows}
    children = [
        {"scope": scope_text(r, None), "kind": "region", "code": r.code, "name": r.name,
         "editable": reach.can_write(region=r), "object": r}
        for r in child_regions
    ] + [
        {"scope": scope_text(None, d), "kind": "dealer", "code": d.code, "name": d.name,
         "editable": reach.can_write(dealer=d), "object": d}
        for d in child_dealers
    ]  # fmt: skip
    out_months = []
    for month in months:
        own = stored.get((("region", region.id), month)) if region is not None else None
        values = [stored.get(((c["kind"], c["object"].id), month)) for c in children]
        total = sum((v for v in values if v is not None), Decimal("0"))
        difference = None if own is None else total - own
        out_months.append({
            "period": period_of(month), "own": own, "children": values, "sum": total, "difference": difference,
            "warning": difference is not None and difference != 0,
        })  # fmt: skip
    return {
        "region": region,
        "own_editable": region is not None and reach.can_write(region=region),
        "year": year,
        "measure": measure,
        "category": category or None,
        "children": children,
        "months": out_months,
    }


def dealer_targets(scope: Scope, dealer: Dealer, year: int) -> dict:
    """A dealer's own targets by month of `year`: {(measure, category): [amount or None × 12]}."""
    months = [dt.date(year, m, 1) for m in range(1, 13)]
    rows = db.session.execute(
        select(Target).where(
            scope.clause(Target),
            Target.dealer_id == dealer.id,
            and_(Target.month >= months[0], Target.month <= months[-1]),
        )  # fmt: skip
    ).scalars()
    out: dict[tuple[str, str], list] = {}
    for t in rows:
        out.setdefault((t.measure, t.category), [None] * 12)[t.month.month - 1] = t.amount
    return dict(sorted(out.items(), key=lambda kv: (MEASURES.index(kv[0][0]), kv[0][1])))
