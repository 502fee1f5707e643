"""Rebate programmes, progress and settlements (PRODUCT.md §11; the contract is portal/rebates/README.md).

Progress is one SQL statement per programme: the covered dealers in the caller's scope, each with its basis over
the period (sell-in from shipment lines by ship date, or sell-through lines by sale date; an amount or units,
restricted to the targets) summed in one GROUP BY; the tiers are applied in Python (`rebate_for`).

Settlement decisions beyond the README:
- Settling before the period has ended is a 409 `period_not_ended` (a state of the programme, not bad input).
- An approval whose total (computed + adjustment + carried in) is negative records the remainder as a carry from
  its programme. That remainder is not a basis correction, so a re-run compares the basis with
  `computed + carries from the programme − remainder` (the remainder is min(0, computed + adjustment + carried_in)
  of the approved row: derived from the row, no marker needed).
- Dealers that a programme no longer covers keep their settlement row as it is (re-runs leave it unchanged).
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_FLOOR, Decimal

from flask_babel import force_locale, format_decimal
from flask_babel import gettext as _
from sqlalchemy import Select, and_, func, or_, select, union_all

from portal.audit.services import record
from portal.background.models import JobRecord
from portal.catalog.models import Product
from portal.credit.memos import rebate_memo
from portal.credit.services import actor_name, lock_credit, post_credit_note
from portal.dealers.models import Dealer, Region, User
from portal.extensions import db
from portal.notify.services import notify
from portal.platform.errors import Conflict, Invalid
from portal.platform.money import ZERO, money, sql_sum
from portal.platform.tenancy import Scope
from portal.platform.timeutil import today, utcnow
from portal.rebates.models import (
    BASES,
    TIER_KINDS,
    RebateCarry,
    RebateProgramme,
    RebateSettlement,
    RebateTarget,
    RebateTier,
)

KIND = "rebate_settlement"
JOB = "portal.jobs.rebates.run_settlement"
MAX_TIERS = 10
MAX_TEXT = 2000
RECENT_CLOSED_DAYS = 45
FROZEN_FIELDS = ("code", "period_start", "period_end", "scope", "basis", "tier_kind", "cap", "tiers", "targets")
HQ = Scope("hq")


# ---------------------------------------------------------------- tiers


def _plain(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def rebate_for(programme: RebateProgramme, basis: Decimal) -> dict:
    """The tier reached by `basis`, the rebate it gives (capped, to the cent, half up) and the way to the next tier —
    none once the rebate is capped, since no tier can then pay more."""
    tiers = sorted(programme.tiers, key=lambda t: t.threshold)
    index = None
    for i, tier in enumerate(tiers):
        if basis >= tier.threshold:
            index = i
    rate = tiers[index].rate if index is not None else None
    if rate is None:
        rebate = ZERO
    elif programme.tier_kind == "percent":
        rebate = money(basis * rate / 100)
    else:
        rebate = money(basis * rate)
    capped = programme.cap is not None and rebate > programme.cap
    if capped:
        rebate = money(programme.cap)
    following = tiers[index + 1] if index is not None and index + 1 < len(tiers) else None
    if index is None and tiers:
        following = tiers[0]
    if capped:
        following = None  # at the cap a higher tier pays nothing more (the basis only grows): nothing to reach for
    if following is None:
        pct = 100
    elif following.threshold <= 0:
        pct = 0
    else:
        pct = int((basis * 100 / following.threshold).to_integral_value(rounding=ROUND_FLOOR))
        pct = max(0, min(99, pct))
    return {
        "tier_index": index,
        "tier_threshold": tiers[index].threshold if index is not None else None,
        "rate": rate,
        "rebate": rebate,
        "capped": capped,
        "next_threshold": following.threshold if following is not None else None,
        "needed": (following.threshold - basis) if following is not None else None,
        "next_rate": following.rate if following is not None else None,
        "progress_pct": pct,
    }


# ---------------------------------------------------------------- programmes


def _decimal(value, field: str, errors: dict, *, places: int) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, (bool, float)):
        errors.setdefault(field, []).append(_("Not a number."))
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except ArithmeticError:
        errors.setdefault(field, []).append(_("Not a number."))
        return None
    if not number.is_finite():
        errors.setdefault(field, []).append(_("Not a number."))
        return None
    if number.as_tuple().exponent < -places:
        errors.setdefault(field, []).append(_("At most %(n)s decimal places.", n=places))
        return None
    if abs(number) >= Decimal("1e12"):
        errors.setdefault(field, []).append(_("Too large."))
        return None
    return number


def _text(data: dict, key: str, errors: dict, *, required: bool, limit: int) -> str | None:
    value = data.get(key)
    value = value.strip() if isinstance(value, str) else value
    if value in (None, ""):
        if required:
            errors.setdefault(key, []).append(_("Required."))
        return None
    if not isinstance(value, str):
        errors.setdefault(key, []).append(_("Not a text."))
        return None
    if len(value) > limit:
        errors.setdefault(key, []).append(_("At most %(n)s characters.", n=limit))
    return value


def _targets(raw, errors: dict) -> tuple[list[str], list[str]]:
    raw = raw or {}
    if not isinstance(raw, dict):
        errors.setdefault("targets", []).append(_("SKUs and categories."))
        return [], []
    skus = sorted({str(s).strip() for s in raw.get("skus") or [] if str(s).strip()})
    categories = sorted({str(c).strip() for c in raw.get("categories") or [] if str(c).strip()})
    if skus:
        known = set(db.session.execute(select(Product.sku).where(Product.sku.in_(skus))).scalars())
        if missing := [s for s in skus if s not in known]:
            errors.setdefault("targets", []).append(_("Unknown SKUs: %(skus)s.", skus=", ".join(missing)))
    if categories:
        known = set(db.session.execute(select(Product.category).where(Product.category.in_(categories))).scalars())
        if missing := [c for c in categories if c not in known]:
            errors.setdefault("targets", []).append(
                _("Unknown categories: %(categories)s.", categories=", ".join(missing))
            )
    return skus, categories


def _tiers(raw, tier_kind: str | None, units: bool, errors: dict) -> list[tuple[Decimal, Decimal]]:
    problems: list[str] = []
    out: list[tuple[Decimal, Decimal]] = []
    raw = raw if isinstance(raw, list) else None
    if not raw:
        errors.setdefault("tiers", []).append(_("At least one tier."))
        return out
    if len(raw) > MAX_TIERS:
        problems.append(_("At most %(n)s tiers.", n=MAX_TIERS))
    for n, tier in enumerate(raw, start=1):
        tier = tier if isinstance(tier, dict) else {}
        local: dict = {}
        threshold = _decimal(tier.get("threshold"), "threshold", local, places=0 if units else 2)
        rate = _decimal(tier.get("rate"), "rate", local, places=4)
        if threshold is None and "threshold" not in local:
            local["threshold"] = [_("Required.")]
        if rate is None and "rate" not in local:
            local["rate"] = [_("Required.")]
        if threshold is not None and threshold < 0:
            local.setdefault("threshold", []).append(_("Must not be negative."))
        if rate is not None and rate < 0:
            local.setdefault("rate", []).append(_("Must not be negative."))
        if rate is not None and tier_kind == "percent" and rate > 100:
            local.setdefault("rate", []).append(_("A percentage from 0 to 100."))
        for field, messages in local.items():
            label = _("threshold") if field == "threshold" else _("rate")
            problems.extend(_("Tier %(n)s, %(field)s: %(message)s", n=n, field=label, message=m) for m in messages)
        if out and "threshold" not in local and threshold <= out[-1][0]:
            problems.append(
                _(
                    "Tier %(n)s: thresholds go strictly up (%(threshold)s is not above %(previous)s).",
                    n=n,
                    threshold=_plain(threshold),
                    previous=_plain(out[-1][0]),
                )  # fmt: skip
            )
        elif out and "rate" not in local and rate < out[-1][1]:
            problems.append(
                _(
                    "Tier %(n)s: the rate %(rate)s is lower than the tier below (%(previous)s).",
                    n=n,
                    rate=_plain(rate),
                    previous=_plain(out[-1][1]),
                )  # fmt: skip
            )
        if not local:
            out.append((threshold, rate))  # a bad tier is left out: the next one is compared with the last good one
    if problems:
        errors.setdefault("tiers", []).extend(problems)
    return out


def _validated(data: dict, programme: RebateProgramme | None) -> dict:
    """Every check of a draft's data (merged over the programme's when editing); raises Invalid with all errors."""
    from portal.catalog.services import parse_scope

    errors: dict = {}
    current = _definition(programme) if programme is not None else {}
    merged = {**current, **{k: v for k, v in data.items()}}
    out: dict = {}
    if programme is None:
        code = _text(merged, "code", errors, required=True, limit=32)
        if code is not None and "code" not in errors:
            if not all(ch.isalnum() or ch in "-_." for ch in code):
                errors.setdefault("code", []).append(_("Letters, digits, '-', '_' and '.' only."))
            elif db.session.execute(select(RebateProgramme.id).where(RebateProgramme.code == code)).first():
                errors.setdefault("code", []).append(_("Programme %(code)s already exists.", code=code))
        out["code"] = code
    elif "code" in data and data["code"] != programme.code:
        errors.setdefault("code", []).append(_("The code cannot be changed."))
    out["name"] = _text(merged, "name", errors, required=True, limit=200)
    out["name_en"] = _text(merged, "name_en", errors, required=False, limit=200)
    out["description"] = _text(merged, "description", errors, required=False, limit=MAX_TEXT)
    for key in ("period_start", "period_end"):
        value = merged.get(key)
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            errors.setdefault(key, []).append(_("Date must be YYYY-MM-DD."))
            value = None
        out[key] = value
    if out["period_start"] and out["period_end"] and out["period_end"] < out["period_start"]:
        errors.setdefault("period_end", []).append(_("The end cannot be before the start."))
    try:
        out["scope_kind"], out["scope_value"] = parse_scope(merged.get("scope") or "")
    except Invalid as exc:
        for key, messages in exc.fields.items():
            errors.setdefault(key, []).extend(messages)
    basis, tier_kind = merged.get("basis"), merged.get("tier_kind")
    if basis not in BASES:
        errors.setdefault("basis", []).append(_("One of: %(values)s.", values=", ".join(BASES)))
        basis = None
    if tier_kind not in TIER_KINDS:
        errors.setdefault("tier_kind", []).append(_("One of: %(values)s.", values=", ".join(TIER_KINDS)))
        tier_kind = None
    units = basis is not None and basis.endswith("_units")
    if basis and tier_kind and (tier_kind == "percent") == units:
        errors.setdefault("tier_kind", []).append(
            _("Percent tiers go with an amount basis, per-unit tiers with a unit basis.")
        )
    out["basis"], out["tier_kind"] = basis, tier_kind
    cap = _decimal(merged.get("cap"), "cap", errors, places=2)
    if cap is not None and cap <= 0:
        errors.setdefault("cap", []).append(_("Must be greater than zero."))
    out["cap"] = cap
    out["tiers"] = _tiers(merged.get("tiers"), tier_kind, units, errors)
    out["skus"], out["categories"] = _targets(merged.get("targets"), errors)
    if units and not out["skus"] and not out["categories"]:
        errors.setdefault("targets", []).append(
            _("A unit basis needs at least one SKU or category (units of different products do not add up).")
        )
    if errors:
        raise Invalid(_("Nothing was saved: check the fields marked."), fields=errors)
    return out


def _definition(programme: RebateProgramme) -> dict:
    """The programme as save_programme's data."""
    return {
        "code": programme.code,
        "name": programme.name,
        "name_en": programme.name_en,
        "description": programme.description,
        "period_start": programme.period_start,
        "period_end": programme.period_end,
        "scope": programme.scope,
        "basis": programme.basis,
        "tier_kind": programme.tier_kind,
        "cap": programme.cap,
        "tiers": [{"threshold": t.threshold, "rate": t.rate} for t in programme.tiers],
        "targets": {
            "skus": sorted(t.sku for t in programme.targets if t.sku),
            "categories": sorted(t.category for t in programme.targets if t.category),
        },
    }


def _same(key: str, given, current) -> bool:
    """Whether a frozen field's given value says what the programme holds already."""
    if key == "tiers":
        try:
            return [(Decimal(str(t["threshold"])), Decimal(str(t["rate"]))) for t in given or []] == [
                (t["threshold"], t["rate"]) for t in current
            ]
        except (ArithmeticError, KeyError, TypeError):
            return False
    if key == "targets":
        given = given or {}
        return (
            sorted(set(given.get("skus") or [])) == current["skus"]
            and sorted(set(given.get("categories") or [])) == current["categories"]
        )
    if key == "cap":
        try:
            return (None if given in (None, "") else Decimal(str(given))) == current
        except ArithmeticError:
            return False
    return given == current


def snapshot(programme: RebateProgramme) -> dict:
    data = _definition(programme)
    data["status"] = programme.status
    data["cap"] = None if programme.cap is None else str(programme.cap)
    data["period_start"], data["period_end"] = programme.period_start.isoformat(), programme.period_end.isoformat()
    data["tiers"] = [f"{_plain(t.threshold)}→{_plain(t.rate)}" for t in programme.tiers]
    return data


def save_programme(actor, data: dict, programme: RebateProgramme | None = None) -> RebateProgramme:
    """Create a draft, or edit one (partial data keeps the rest); an active or closed programme accepts only name,
    name_en and description (other fields may be sent when they say what the programme holds already)."""
    if programme is not None and programme.status != "draft":
        current = _definition(programme)
        frozen = {
            key: [_("Cannot be changed once the programme is active.")]
            for key in FROZEN_FIELDS
            if key in data and not _same(key, data[key], current[key])
        }
        errors: dict = dict(frozen)
        texts = {key: _text(data, key, errors, required=key == "name", limit=200 if key != "description" else MAX_TEXT)
                 for key in ("name", "name_en", "description") if key in data}  # fmt: skip
        if errors:
            raise Invalid(_("Nothing was saved: check the fields marked."), fields=errors)
        before = snapshot(programme)
        for key, value in texts.items():
            setattr(programme, key, value)
        db.session.flush()
        record(actor, "rebate.update", "rebate_programme", programme.code, before=before, after=snapshot(programme))
        return programme

    values = _validated(data, programme)
    before = snapshot(programme) if programme is not None else None
    if programme is None:
        programme = RebateProgramme(code=values["code"], status="draft", created_by=actor_name(actor))
        db.session.add(programme)
    for key in ("name", "name_en", "description", "period_start", "period_end", "scope_kind", "scope_value",
                "basis", "tier_kind"):  # fmt: skip
        setattr(programme, key, values[key])
    programme.cap = money(values["cap"]) if values["cap"] is not None else None
    new_tiers = [(money(t), r) for t, r in values["tiers"]]
    if [(t.threshold, t.rate) for t in programme.tiers] != new_tiers:
        programme.tiers.clear()
        db.session.flush()  # the old thresholds leave before the new ones arrive (one per threshold)
        programme.tiers.extend(RebateTier(threshold=t, rate=r) for t, r in new_tiers)
    new_targets = [("sku", s) for s in values["skus"]] + [("category", c) for c in values["categories"]]
    if sorted((("sku", t.sku) if t.sku else ("category", t.category)) for t in programme.targets) != sorted(
        new_targets
    ):
        programme.targets.clear()
        programme.targets.extend(RebateTarget(**{kind: value}) for kind, value in new_targets)
    programme.updated_at = utcnow()
    db.session.flush()
    db.session.refresh(programme, ["tiers", "targets"])
    if before is None:
        record(actor, "rebate.create", "rebate_programme", programme.code, after=snapshot(programme))
    else:
        record(actor, "rebate.update", "rebate_programme", programme.code, before=before, after=snapshot(programme))
    return programme


def _locked_programme(programme: RebateProgramme) -> RebateProgramme:
    return db.session.execute(
        select(RebateProgramme)
        .where(RebateProgramme.id == programme.id)
        .with_for_update(of=RebateProgramme)
        .execution_options(populate_existing=True)
    ).scalar_one()


def _transition(actor, programme: RebateProgramme, source: str, target: str) -> RebateProgramme:
    programme = _locked_programme(programme)
    if programme.status != source:
        raise Conflict(
            _("A programme that is %(status)s cannot become %(target)s.", status=programme.status, target=target),
            code="invalid_transition",
        )
    programme.status = target
    record(actor, f"rebate.{'activate' if target == 'active' else 'close'}", "rebate_programme", programme.code,
           before={"status": source}, after={"status": target})  # fmt: skip
    return programme


def activate(actor, programme: RebateProgramme) -> RebateProgramme:
    return _transition(actor, programme, "draft", "active")


def close(actor, programme: RebateProgramme) -> RebateProgramme:
    return _transition(actor, programme, "active", "closed")


def programmes_query(scope, *, status: str | None = None, on: dt.date | None = None) -> Select:
    stmt = scope.select(RebateProgramme).order_by(
        RebateProgramme.period_start.desc(), RebateProgramme.period_end.desc(), RebateProgramme.code
    )
    if status:
        stmt = stmt.where(RebateProgramme.status == status)
    if on is not None:
        stmt = stmt.where(RebateProgramme.period_start <= on, RebateProgramme.period_end >= on)
    return stmt


def _covered(programme: RebateProgramme, scope):
    """SQL: the dealer row (Dealer joined to Region) is covered by the programme and inside the scope."""
    d, r = Dealer.__table__, Region.__table__
    return and_(
        select(RebateProgramme.id)
        .where(RebateProgramme.id == programme.id, RebateProgramme.covers_clause(d, r))
        .exists(),
        scope.dealer_clause(d.c.id),
    )


def covered_dealers_query(programme: RebateProgramme, scope) -> Select:
    return (
        select(Dealer)
        .join(Region.__table__, Region.__table__.c.id == Dealer.region_id)
        .where(_covered(programme, scope))
        .order_by(Dealer.code)
    )


# ---------------------------------------------------------------- progress


def _basis_subquery(programme: RebateProgramme, start: dt.date, end: dt.date):
    """dealer_id → basis over [start, end]: one GROUP BY over shipment lines or sell-through lines."""
    from portal.inventory.models import SellThroughLine
    from portal.shipping.models import Shipment, ShipmentLine

    if programme.flow == "sell_in":
        # shipment lines by ship date, less what returns and delivery discrepancies took back (by their date)
        from portal.returns.models import SellInCorrection as C

        sl = ShipmentLine
        shipped = (
            select(Shipment.dealer_id.label("dealer_id"), sl.product_id.label("product_id"), sl.sku.label("sku"),
                   sl.gross.label("amount"), sl.quantity.label("quantity"))
            .join(sl, sl.shipment_id == Shipment.id)
            .where(Shipment.shipped_on >= start, Shipment.shipped_on <= end, Shipment.seller_id.is_(None))  # HQ's
        )  # fmt: skip
        taken_back = select(C.dealer_id, C.product_id, C.sku, C.amount, C.quantity).where(
            C.corrected_on >= start, C.corrected_on <= end
        )
        line = union_all(shipped, taken_back).subquery("sell_in")
        value = line.c.amount if programme.is_amount else line.c.quantity
        dealer_col, stmt = line.c.dealer_id, select(line.c.dealer_id)
    else:
        line, value = SellThroughLine, (SellThroughLine.amount if programme.is_amount else SellThroughLine.quantity)
        dealer_col, stmt = SellThroughLine.dealer_id, select(SellThroughLine.dealer_id)
        stmt = stmt.where(SellThroughLine.sold_on >= start, SellThroughLine.sold_on <= end)
    skus = [t.sku for t in programme.targets if t.sku]
    categories = [t.category for t in programme.targets if t.category]
    col = line.c if programme.flow == "sell_in" else line
    if categories:
        stmt = stmt.join(Product, Product.id == col.product_id)
        stmt = stmt.where(or_(col.sku.in_(skus), Product.category.in_(categories)) if skus else
                          Product.category.in_(categories))  # fmt: skip
    elif skus:
        stmt = stmt.where(col.sku.in_(skus))
    total = sql_sum(value) if programme.is_amount else func.coalesce(func.sum(value), 0)
    return stmt.add_columns(total.label("basis")).group_by(dealer_col).subquery("basis")


def _figures(scope, programme: RebateProgramme, as_of: dt.date, dealer_ids=None, dealer_code=None) -> list[dict]:
    """The covered dealers in scope with their basis up to `as_of` and what the tiers give (one SQL statement)."""
    d, r = Dealer.__table__, Region.__table__
    sub = _basis_subquery(programme, programme.period_start, as_of)
    stmt = (
        select(
            d.c.id, d.c.code, d.c.name, r.c.code.label("region_code"), r.c.name.label("region_name"), sub.c.basis
        )  # fmt: skip
        .select_from(d.join(r, r.c.id == d.c.region_id).outerjoin(sub, sub.c.dealer_id == d.c.id))
        .where(_covered(programme, scope))
    )
    if dealer_code is not None:
        stmt = stmt.where(d.c.code == dealer_code)
    if dealer_ids is not None:
        stmt = stmt.where(d.c.id.in_(dealer_ids))
    rows = []
    for row in db.session.execute(stmt):
        basis = money(row.basis or 0) if programme.is_amount else Decimal(int(row.basis or 0))
        rows.append({"dealer_id": row.id, "dealer_code": row.code, "dealer_name": row.name,
                     "region_code": row.region_code, "region_name": row.region_name, "basis": basis,
                     **rebate_for(programme, basis)})  # fmt: skip
    rows.sort(key=lambda x: (-x["basis"], x["dealer_code"]))
    return rows


def progress(scope, programme: RebateProgramme, *, as_of: dt.date | None = None,
             dealer_code: str | None = None) -> dict:  # fmt: skip
    """Every covered dealer's basis, tier, accrued rebate and way to the next tier (a dealer: its own row)."""
    as_of = min(as_of or today(), today(), programme.period_end)
    rows = _figures(scope, programme, as_of, dealer_code=dealer_code)
    by_tier = {None: 0, **{i: 0 for i in range(len(programme.tiers))}}
    for row in rows:
        by_tier[row["tier_index"]] = by_tier.get(row["tier_index"], 0) + 1
    zero = ZERO if programme.is_amount else Decimal(0)
    return {
        "programme": programme,
        "as_of": as_of,
        "unit": "amount" if programme.is_amount else "units",
        "rows": rows,
        "totals": {
            "dealers": len(rows),
            "basis": sum((row["basis"] for row in rows), zero),
            "rebate": money(sum((row["rebate"] for row in rows), ZERO)),
            "by_tier": [{"tier_index": i, "dealers": n} for i, n in by_tier.items()],
        },
    }


def dealer_progress(scope, dealer: Dealer) -> list[dict]:
    """The dealer's row in every active programme covering it (and closed ones whose period ended less than 45
    days ago), each with its programme, `as_of` and `unit`."""
    d, r = Dealer.__table__, Region.__table__
    on = today()
    covering = (
        select(d.c.id).select_from(d.join(r, r.c.id == d.c.region_id))
        .where(d.c.id == dealer.id, RebateProgramme.covers_clause(d, r))
        .exists()
    )  # fmt: skip
    stmt = scope.select(
        RebateProgramme,
        covering,
        or_(
            RebateProgramme.status == "active",
            and_(
                RebateProgramme.status == "closed",
                RebateProgramme.period_end >= on - dt.timedelta(days=RECENT_CLOSED_DAYS),
            ),
        ),
    ).order_by(RebateProgramme.period_end, RebateProgramme.code)
    out = []
    for programme in db.session.execute(stmt).scalars():
        figures = progress(scope, programme, dealer_code=dealer.code)
        for row in figures["rows"]:
            out.append({**row, "programme": programme, "as_of": figures["as_of"], "unit": figures["unit"]})
    out.sort(key=lambda x: (x["programme"].status != "active", x["programme"].period_end, x["programme"].code))
    return out


# ---------------------------------------------------------------- settlement


def _must_have_ended(programme: RebateProgramme) -> None:
    if programme.status == "draft":
        raise Conflict(_("A draft programme cannot be settled; activate it first."), code="invalid_transition")
    if programme.period_end >= today():
        raise Conflict(
            _("The period ends on %(end)s: it can be settled from the next day on.", end=programme.period_end),
            code="period_not_ended",
        )


def start_settlement(actor, programme: RebateProgramme) -> JobRecord:
    """Queue the computation of the programme's settlements (the period must have ended)."""
    from portal.background.services import start_job

    _must_have_ended(programme)
    return start_job(KIND, JOB, started_by=actor, params={"programme": programme.code}, args=(programme.id,))


def _approved_remainder(settlement: RebateSettlement) -> Decimal:
    """The negative total an approval carried forward from this row (0 when the total was not negative)."""
    return min(ZERO, money(settlement.computed + settlement.adjustment + settlement.carried_in))


def compute_settlement(actor, programme: RebateProgramme, progress=None) -> dict:
    """Write or refresh the programme's settlements (see the README); closes an active programme. Idempotent."""
    programme = _locked_programme(programme)  # concurrent runs of one programme take turns
    _must_have_ended(programme)
    counts = {"computed": 0, "refreshed": 0, "carried": 0, "unchanged": 0}
    if programme.status == "active":
        programme.status = "closed"
        record(actor, "rebate.close", "rebate_programme", programme.code, before={"status": "active"},
               after={"status": "closed", "by": "settlement"})  # fmt: skip
    rows = _figures(HQ, programme, programme.period_end)
    existing = {
        s.dealer_id: s
        for s in db.session.execute(
            select(RebateSettlement)
            .where(RebateSettlement.programme_id == programme.id)
            .with_for_update(of=RebateSettlement)
            .execution_options(populate_existing=True)
        )
        .unique()
        .scalars()
    }
    carried = dict(
        db.session.execute(
            select(RebateCarry.dealer_id, func.sum(RebateCarry.amount))
            .where(RebateCarry.source_programme_id == programme.id)
            .group_by(RebateCarry.dealer_id)
        ).all()
    )
    total = len(rows)
    for done, row in enumerate(rows, start=1):
        settlement = existing.pop(row["dealer_id"], None)
        rebate = row["rebate"]
        if settlement is None:
            if row["basis"] > 0 or rebate > 0:
                db.session.add(RebateSettlement(
                    programme_id=programme.id, dealer_id=row["dealer_id"], basis=row["basis"],
                    tier_threshold=row["tier_threshold"], rate=row["rate"], computed=rebate, adjustment=ZERO,
                    carried_in=ZERO, amount=rebate, status="computed", computed_at=utcnow(),
                ))  # fmt: skip
                counts["computed"] += 1
        elif settlement.status == "computed":
            figures = (row["basis"], row["tier_threshold"], row["rate"], rebate)
            if (settlement.basis, settlement.tier_threshold, settlement.rate, settlement.computed) == figures:
                counts["unchanged"] += 1
            else:
                settlement.basis, settlement.tier_threshold, settlement.rate, settlement.computed = figures
                settlement.amount = max(ZERO, money(rebate + settlement.adjustment + settlement.carried_in))
                settlement.computed_at = utcnow()
                counts["refreshed"] += 1
        else:
            already = money(
                settlement.computed + money(carried.get(row["dealer_id"]) or 0) - _approved_remainder(settlement)
            )
            difference = money(rebate - already)
            if difference == 0:
                counts["unchanged"] += 1
            else:
                db.session.add(RebateCarry(
                    dealer_id=row["dealer_id"], source_programme_id=programme.id, amount=difference,
                    reason=f"{programme.code}: {_plain(row['basis'])} → {rebate} (approved {already})",
                ))  # fmt: skip
                counts["carried"] += 1
        if progress is not None and (done % 50 == 0 or done == total):
            progress(done, total)
    counts["unchanged"] += len(existing)  # rows of dealers the programme no longer covers stay as they are
    db.session.flush()
    record(actor, "rebate.settlement.compute", "rebate_programme", programme.code, after=dict(counts))
    return counts


def settlements_query(scope, programme: RebateProgramme, *, status: str | None = None) -> Select:
    stmt = (
        scope.select(RebateSettlement, RebateSettlement.programme_id == programme.id)
        .join(Dealer, Dealer.id == RebateSettlement.dealer_id)
        .order_by(Dealer.code)
    )
    if status:
        stmt = stmt.where(RebateSettlement.status == status)
    return stmt


def _locked_settlement(settlement: RebateSettlement) -> RebateSettlement:
    return (
        db.session.execute(
            select(RebateSettlement)
            .where(RebateSettlement.id == settlement.id)
            .with_for_update(of=RebateSettlement)
            .execution_options(populate_existing=True)  # the row as it is once locked, not as first read
        )
        .unique()
        .scalar_one()
    )


def _settlement_snapshot(s: RebateSettlement) -> dict:
    return {
        "status": s.status,
        "computed": str(s.computed),
        "adjustment": str(s.adjustment),
        "adjustment_reason": s.adjustment_reason,
        "carried_in": str(s.carried_in),
        "amount": str(s.amount),
    }


def _key(s: RebateSettlement) -> str:
    return f"{s.programme.code}/{s.dealer.code}"


def adjust(actor, settlement: RebateSettlement, amount: Decimal, reason: str) -> RebateSettlement:
    """Finance's signed adjustment of a computed settlement, with its reason (replaces an earlier adjustment)."""
    settlement = _locked_settlement(settlement)
    if settlement.status == "approved":
        raise Conflict(_("This settlement is approved already; it can no longer change."), code="already_approved")
    errors: dict = {}
    value = _decimal(amount, "amount", errors, places=2)
    if value is None and "amount" not in errors:
        errors["amount"] = [_("Required.")]
    reason = (reason or "").strip() if isinstance(reason, str) or reason is None else ""
    if not reason:
        errors["reason"] = [_("Say why.")]
    elif len(reason) > MAX_TEXT:
        errors["reason"] = [_("At most %(n)s characters.", n=MAX_TEXT)]
    if errors:
        raise Invalid(_("Nothing was saved: check the fields marked."), fields=errors)
    before = _settlement_snapshot(settlement)
    settlement.adjustment, settlement.adjustment_reason = money(value), reason
    settlement.amount = max(ZERO, money(settlement.computed + settlement.adjustment + settlement.carried_in))
    db.session.flush()
    record(actor, "rebate.settlement.adjust", "rebate_settlement", _key(settlement), before=before,
           after=_settlement_snapshot(settlement), dealer_id=settlement.dealer_id)  # fmt: skip
    return settlement


def approve(actor, settlement: RebateSettlement) -> RebateSettlement:
    """Approve one computed settlement: take in the dealer's open carries, post one credit note, tell the dealer."""
    settlement = _locked_settlement(settlement)
    if settlement.status == "approved":
        raise Conflict(_("This settlement is approved already."), code="already_approved")
    programme, dealer = settlement.programme, settlement.dealer
    lock_credit(dealer)  # a dealer's approvals take turns: its open carries are taken in by one settlement only
    carries = list(
        db.session.execute(
            select(RebateCarry)
            .where(RebateCarry.dealer_id == settlement.dealer_id, RebateCarry.consumed_by_id.is_(None))
            .order_by(RebateCarry.id)
            .with_for_update(of=RebateCarry)
            .execution_options(populate_existing=True)
        )
        .unique()
        .scalars()
    )
    carries = [c for c in carries if c.consumed_by_id is None]
    settlement.carried_in = money(sum((c.amount for c in carries), ZERO))
    for carry in carries:
        carry.consumed_by_id = settlement.id
    total = money(settlement.computed + settlement.adjustment + settlement.carried_in)
    settlement.amount = max(ZERO, total)
    if total < 0:
        db.session.add(RebateCarry(
            dealer_id=settlement.dealer_id, source_programme_id=programme.id, amount=total,
            reason=f"{programme.code}: {total} left after approval",
        ))  # fmt: skip
    if settlement.amount > 0:
        note = post_credit_note(actor, dealer, amount=settlement.amount, issued_on=today(),
                                reason=f"{programme.code} {programme.name}", source="rebate",
                                memo=rebate_memo(programme.code, programme.name, programme.name_en))  # fmt: skip
        settlement.credit_note = note
    settlement.status, settlement.approved_by, settlement.approved_at = "approved", actor_name(actor), utcnow()
    db.session.flush()
    record(actor, "rebate.settlement.approve", "rebate_settlement", _key(settlement),
           after={**_settlement_snapshot(settlement), "carries": [c.id for c in carries],
                  "credit_note": settlement.credit_note.number if settlement.credit_note_id else None},
           dealer_id=settlement.dealer_id)  # fmt: skip
    _notify_dealer(settlement)
    return settlement


def _notify_dealer(settlement: RebateSettlement) -> None:
    programme = settlement.programme
    admins = db.session.execute(
        select(User).where(User.dealer_id == settlement.dealer_id, User.role == "dealer_admin", User.active.is_(True))
    ).unique().scalars()  # fmt: skip
    for user in admins:
        with force_locale(user.locale):
            title = _("Rebate %(code)s approved: %(amount)s CNY", code=programme.code,
                      amount=format_decimal(settlement.amount, format="#,##0.00"))  # fmt: skip
            body = (
                _("Credit note %(number)s is on your account.", number=settlement.credit_note.number)
                if settlement.credit_note_id
                else _("Nothing is credited this time: corrections from earlier settlements took it up.")
            )
        notify(user, kind="rebate.approved", title=title, body=body, link=f"/rebates/{programme.code}",
               dedupe_key=f"rebate-approved:{settlement.id}")  # fmt: skip


def approve_all(actor, programme: RebateProgramme) -> dict:
    """Approve every computed settlement of the programme, one after the other."""
    ids = list(
        db.session.execute(
            select(RebateSettlement.id)
            .where(RebateSettlement.programme_id == programme.id, RebateSettlement.status == "computed")
            .order_by(RebateSettlement.id)
        ).scalars()
    )
    approved, notes, total = 0, 0, ZERO
    for settlement_id in ids:
        settlement = db.session.get(RebateSettlement, settlement_id)
        if _locked_settlement(settlement).status != "computed":
            continue  # approved meanwhile by someone else
        settlement = approve(actor, settlement)
        approved += 1
        notes += 1 if settlement.credit_note_id else 0
        total += settlement.amount
    return {"approved": approved, "credit_notes": notes, "total": money(total)}


def open_carries(scope, dealer: Dealer) -> list[RebateCarry]:
    return list(
        db.session.execute(
            scope.select(
                RebateCarry, RebateCarry.dealer_id == dealer.id, RebateCarry.consumed_by_id.is_(None)
            ).order_by(RebateCarry.created_at, RebateCarry.id)
        )
        .unique()
        .scalars()
    )
