from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import lazyload

from portal.audit.models import AuditEntry
from portal.credit import reports
from portal.credit.services import credit_summary
from portal.dealers.models import Dealer, Region, User
from portal.extensions import db
from portal.home import cache as home_cache
from portal.home import queues as work_queues
from portal.home import targets as home_targets
from portal.platform.auth import can, requires
from portal.platform.errors import NotFound
from portal.platform.i18n import keep_whole
from portal.platform.money import ZERO, money
from portal.platform.tenancy import current_scope, not_tenant_route
from portal.platform.timeutil import today
from portal.platform.web import page_args

SELL_THROUGH_DAYS = 30
TOP_OVERDUE = 8  # dealers most overdue on finance's home
RECENT_PAYMENTS = 8
MAX_PAGE = 100_000  # a queue's page number beyond any real queue (keeps OFFSET small)

bp = Blueprint("home", __name__, static_folder="static", static_url_path="/home/static")
bp.add_app_template_global(work_queues.age_label, "age_label")  # "3 d", "5 h" (the approvals page too)
bp.add_app_template_filter(keep_whole, "keep_whole")  # a notice's codes and amounts never broken on a phone
home_targets.register(bp)  # the targets cards' filters (the dealer overview uses them too)


def _overdue(totals: dict) -> Decimal:
    return totals["1_30"] + totals["31_60"] + totals["61_90"] + totals["over_90"]


def _receivables_summary(scope) -> dict:
    """Ageing totals today in the caller's scope, and the dealers on hold (HQ's and a region's home)."""
    from portal.credit.models import DealerCredit

    whose = reports.scoped_clause(scope)  # HQ's and a region's: the dealers HQ sells to; a dealer: its own (§16)
    totals = reports.ageing(scope, today(), "total")["totals"]
    on_hold = db.session.execute(
        select(func.count())
        .select_from(DealerCredit)
        .where(DealerCredit.on_hold.is_(True), whose(DealerCredit.dealer_id))
    ).scalar_one()
    return {"totals": totals, "overdue": _overdue(totals), "on_hold": on_hold, "dso": reports.dso(whose, today())}


def _dealer_counts(scope) -> dict:
    """The dealers in scope counted by tier, channel type, status, region (the one each is placed in) and region path,
    from one grouped statement."""
    rows = db.session.execute(
        select(Dealer.tier, Dealer.channel_type, Dealer.status, Dealer.region_id, Region.path, func.count())
        .join(Region, Region.id == Dealer.region_id)
        .where(scope.clause(Dealer))
        .group_by(Dealer.tier, Dealer.channel_type, Dealer.status, Dealer.region_id, Region.path)
    ).all()
    out: dict[str, dict] = {"by_tier": {}, "by_type": {}, "by_status": {}, "per_region": {}, "per_path": {}}
    for tier, channel_type, status, region_id, path, n in rows:
        for name, key in (("by_tier", tier), ("by_type", channel_type), ("by_status", status),
                          ("per_region", region_id), ("per_path", path)):  # fmt: skip
            out[name][key] = out[name].get(key, 0) + n
    return out


def _counts(column, scope_model=Dealer) -> dict:
    scope = current_scope()
    rows = db.session.execute(select(column, func.count()).where(scope.clause(scope_model)).group_by(column)).all()
    return dict(rows)


def _stock_and_sales(scope, dealer: Dealer) -> dict:
    """On hand and incoming now, and what the dealer sold to end customers in the last 30 days, with its last lines
    (`scope`: the dealer's own, without sub-dealers). The sales' sums are windows over the lines listed, so the
    last five lines and the 30 days' totals are one statement."""
    from portal.inventory import dealer_stock
    from portal.inventory.models import SellThroughLine
    from portal.inventory.sellthrough import lines_query

    since = today() - dt.timedelta(days=SELL_THROUGH_DAYS - 1)
    rows = db.session.execute(
        lines_query(scope, date_from=since)
        .add_columns(func.sum(SellThroughLine.quantity).over(), func.sum(SellThroughLine.amount).over())
        .limit(5)
    ).all()
    qty, amount = (rows[0][1], rows[0][2]) if rows else (0, None)
    return {
        "on_hand": sum(dealer_stock.on_hand(dealer.id).values()),
        "incoming": sum(dealer_stock.incoming(dealer.id).values()),
        "sold_qty": int(qty or 0),
        "sold_amount": money(amount or ZERO),
        "since": since,
        "lines": [r[0] for r in rows],
    }


def _price_policies(dealer: Dealer) -> list:
    from portal.catalog.pricing import candidate_lists

    ranked = candidate_lists(dealer, today(), rules=False)  # the lists' names and dates only
    return [pl for pl, _rank in sorted(ranked, key=lambda x: (x[1], x[0].priority), reverse=True)]


def _flow_trend(scope) -> dict:
    """The last 12 months of the channel in the caller's scope, per month (one channel_flow query)."""
    from portal.analytics.reports import channel_flow, last_12_months

    date_from, date_to = last_12_months(today())
    flow = channel_flow(scope, date_from, date_to, ["month"])
    flow["labels"] = [r["month"][2:] for r in flow["rows"]]
    return flow


LEVEL_SUMS = ("sell_in_qty", "sell_in_amount", "transfer_in_qty", "transfer_in_amount", "sell_through_qty",
              "sell_through_amount", "ending_stock")  # fmt: skip


def _regions_and_levels(flow: dict) -> tuple[dict, list[dict]]:
    """One channel-flow query by region and level (§16), read twice: the regions' rows summed over the levels, and
    the whole channel per level (sell-in from HQ at level 1, transfers in at level 2, each level's sales and stock);
    the levels only when there are sub-dealers' figures."""
    regions: dict[str, dict] = {}
    levels = {level: {"level": level, **dict.fromkeys(LEVEL_SUMS, 0)} for level in (1, 2)}
    for r in flow["rows"]:
        row = regions.setdefault(r["region_code"], {"region_code": r["region_code"], "region_name": r["region_name"],
                                                    **dict.fromkeys(LEVEL_SUMS, 0)})  # fmt: skip
        for k in LEVEL_SUMS:
            row[k] += r[k]
            levels[r["level"]][k] += r[k]
    by_level = list(levels.values()) if any(levels[2][k] for k in LEVEL_SUMS) else []
    return {**flow, "rows": list(regions.values())}, by_level


def _credit_utilisation(scope) -> dict:
    rows = reports.credit_utilisation(scope, None, today())
    credit = money(sum((r["credit"] for r in rows), ZERO))
    exposure = money(sum((r["exposure"] for r in rows), ZERO))
    return {
        "credit": credit,
        "exposure": exposure,
        "ratio": (exposure / credit * 100).quantize(Decimal("0.1")) if credit > 0 else None,
        "over_90": sum(1 for r in rows if r["ratio"] is not None and r["ratio"] >= 90),
        "top": rows[:5],
    }


def _rebates_accrued(scope) -> dict | None:
    """The rebate accrued so far in the active programmes the caller sees (one progress query per programme); kept
    per process for a few minutes (portal/home/cache.py)."""
    if not can("rebates.read"):
        return None
    from portal.rebates import services as rebates

    def compute() -> dict:
        programmes = db.session.execute(rebates.programmes_query(scope, status="active")).unique().scalars().all()
        totals = [rebates.progress(scope, p)["totals"] for p in programmes]
        return {
            "programmes": len(programmes),
            "rebate": money(sum((t["rebate"] for t in totals), ZERO)),
            "dealers": sum(t["dealers"] for t in totals),
        }

    return _kept("rebates accrued", scope, compute)


def _awaiting_approval(scope) -> int:
    """HQ's orders in credit review in the scope (a sub-dealer's order waits for its distributor, §16)."""
    from portal.orders.services import orders_query

    stmt = orders_query(scope, status="credit_review", sold_by=None).order_by(None)
    return db.session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()


def _distributor_sales(scope) -> dict | None:
    """A distributor's sales to its sub-dealers (§16): how many sub-dealers, its open sales orders and their gross,
    those in credit review (one statement); None for a dealer without sub-dealers."""
    from portal.orders.models import OPEN_FOR_CREDIT, Order

    if not scope.sub_dealer_ids:
        return None
    open_statuses = ("credit_review", *OPEN_FOR_CREDIT)
    is_open = Order.status.in_(open_statuses)
    count, gross, review = db.session.execute(
        select(
            func.count().filter(is_open),
            func.sum(Order.gross).filter(is_open),
            func.count().filter(Order.status == "credit_review"),
        ).where(scope.clause(Order), Order.seller_id == scope.dealer_id)
    ).one()
    return {"sub_dealers": len(scope.sub_dealer_ids), "open": count, "gross": money(gross or ZERO), "review": review}


def _kept(card: str, scope, compute, *key):
    """A report card of HQ's or a region's home, kept per process for a few minutes (portal/home/cache.py) for every
    user of the same scope (HQ: the whole channel; a region manager: its region) on the same day."""
    return home_cache.kept((card, dataclasses.replace(scope, user_id=None), today(), *key), compute)


def _targets_card(scope) -> dict | None:
    """This year's targets against actuals and the ranking (§15), one measure at a time (`?target_measure=`); kept
    per process for a few minutes (portal/home/cache.py)."""
    if not can("targets.read"):
        return None
    measure, on = home_targets.measure_arg(request.args.get("target_measure")), today()
    return _kept("targets", scope, lambda: home_targets.targets_card(scope, measure, on), measure)


def _flow_cards(scope, by_region: bool) -> tuple[dict, tuple | None]:
    """The channel's last 12 months per month (the trend chart) and, on HQ's home, by region and level: kept per
    process for a few minutes (portal/home/cache.py)."""
    from portal.analytics.reports import channel_flow

    def compute():
        trend = _flow_trend(scope)
        if not by_region:
            return trend, None
        return trend, _regions_and_levels(channel_flow(scope, trend["from"], trend["to"], ["region", "level"]))

    return _kept("channel flow", scope, compute, by_region)


def _own_targets(scope, dealer: Dealer) -> dict | None:
    """The dealer's own targets and score (§15); kept per process for a few minutes (portal/home/cache.py)."""
    if not can("targets.read"):
        return None
    on = today()
    key = ("own targets", dealer.id, dealer.created_at, on)
    return home_cache.kept(key, lambda: home_targets.dealer_targets(scope, dealer, on))


def _dealer_home(scope, ctx: dict):
    """A dealer user's home: its queues, credit, targets, notices, rebates, stock and sales, open orders, price lists
    and team. The dealer (with its region) came with the user; each card is one or two statements (the targets card
    is kept a few minutes, portal/home/cache.py)."""
    from portal.notify.services import latest_unread
    from portal.production.services import open_orders_with_stage

    dealer = ctx["dealer"] = db.session.get(Dealer, current_user.dealer_id)  # the user's own: no statement
    ctx["my_targets"] = _own_targets(scope, dealer)  # a distributor's sell-through counts its sub-dealers'
    # a distributor's scope covers its sub-dealers (§16); its home's figures are its own dealer's (its queues hold
    # what waits for it from its sub-dealers), with its sales in a card of their own
    ctx["sales"] = _distributor_sales(scope)
    scope = dataclasses.replace(scope, sub_dealer_ids=())
    ctx["receivables"] = {"overdue": reports.dealer_ageing(dealer.id, today())["overdue"]}  # its own account
    ctx["credit"] = credit_summary(dealer)
    ctx["notices"] = latest_unread(current_user.id)  # the bell's too: one statement for both
    ctx["team"] = (
        db.session.execute(
            scope.select(User)
            .where(User.dealer_id == dealer.id)
            .order_by(User.username)
            .options(lazyload("*"))  # its dealer is the page's (the user's name, role and status are shown)
        )
        .scalars()
        .all()
    )
    ctx["open_orders"] = open_orders_with_stage(scope, limit=10)
    ctx["stock"] = _stock_and_sales(scope, dealer)
    ctx["policies"] = _price_policies(dealer)
    if can("rebates.read"):
        from portal.rebates.models import RebateSettlement
        from portal.rebates.services import dealer_progress

        ctx["rebates"] = dealer_progress(scope, dealer)
        # settled or not is said of a programme whose period has ended (none is settled before: nothing to read)
        ended = {r["programme"].id for r in ctx["rebates"] if r["programme"].period_end < today()}
        ctx["rebates_settled"] = set(
            db.session.execute(
                select(RebateSettlement.programme_id).where(
                    RebateSettlement.dealer_id == dealer.id,
                    RebateSettlement.status == "approved",
                    RebateSettlement.programme_id.in_(ended),
                )
            ).scalars()
        ) if ended else set()  # fmt: skip
    return render_template("home/dealer.html", **ctx)


@bp.route("/")
def root():
    return redirect(url_for("home.index") if current_user.is_authenticated else url_for("auth.login"))


def _finance_receivables(scope) -> dict:
    """Finance's receivables today: ageing totals, the dealers most overdue and the latest payments."""
    from portal.credit.models import DealerCredit, LedgerEntry

    on = today()
    whose = reports.scoped_clause(scope)  # the dealers HQ sells to (§16: not the distributors' sub-dealers)
    by_dealer = reports.ageing(scope, on, "dealer")
    totals = by_dealer["totals"]

    def overdue_of(row) -> Decimal:
        return row["1_30"] + row["31_60"] + row["61_90"] + row["over_90"]

    top = sorted((r for r in by_dealer["rows"] if overdue_of(r) > 0), key=lambda r: (-overdue_of(r), r["key"]))
    payments = (
        db.session.execute(
            scope.select(LedgerEntry)
            .where(LedgerEntry.type == "payment", whose(LedgerEntry.dealer_id))
            .order_by(LedgerEntry.entry_date.desc(), LedgerEntry.id.desc())
            .limit(RECENT_PAYMENTS)
        )
        .unique()
        .scalars()
        .all()
    )
    on_hold = db.session.execute(
        select(func.count())
        .select_from(DealerCredit)
        .where(DealerCredit.on_hold.is_(True), whose(DealerCredit.dealer_id))
    ).scalar_one()
    return {
        "totals": totals,
        "bucket_top": max([totals[b] for b in reports.BUCKETS] + [Decimal("0.01")]),
        "overdue": overdue_of(totals),
        "overdue_dealers": len(top),
        "top_overdue": [{**r, "overdue": overdue_of(r)} for r in top[:TOP_OVERDUE]],
        "payments": payments,
        "on_hold": on_hold,
        "dso": reports.dso(whose, on),
    }


@bp.route("/home")
@requires("home.view")
def index():
    scope = current_scope()
    ctx: dict = {"today_date": today(), "queues": work_queues.queues_for(current_user, scope)}
    if current_user.role == "finance":
        from portal.credit.labels import BUCKET_LABELS

        ctx["finance"] = _finance_receivables(scope)
        return render_template("home/finance.html", BUCKET_LABELS=BUCKET_LABELS, **ctx)
    if scope.is_dealer:
        return _dealer_home(scope, ctx)
    ctx["receivables"] = _receivables_summary(scope)
    counts = _dealer_counts(scope)
    ctx["by_tier"], ctx["by_type"], ctx["by_status"] = counts["by_tier"], counts["by_type"], counts["by_status"]
    ctx["dealer_total"] = sum(ctx["by_status"].values())
    if scope.is_region:
        ctx["region"] = current_user.region
        ctx["dealers"] = (
            db.session.execute(scope.select(Dealer).order_by(Dealer.code).limit(200)).unique().scalars().all()
        )
        ctx["subregions"] = (
            db.session.execute(
                scope.select(Region).where(Region.parent_id == current_user.region_id).order_by(Region.code)
            )
            .unique()
            .scalars()
            .all()
        )
        ctx["per_region"] = counts["per_region"]
        ctx["utilisation"] = _credit_utilisation(scope)
        ctx["awaiting_approval"] = _awaiting_approval(scope)
        ctx["trend"], _none = _flow_cards(scope, by_region=False)
        ctx["rebates"] = _rebates_accrued(scope)
        ctx["targets"] = _targets_card(scope)
        return render_template("home/region.html", **ctx)
    # HQ
    ctx["top_regions"] = (
        db.session.execute(
            select(Region)
            .where(Region.parent_id.in_(select(Region.id).where(Region.parent_id.is_(None))))
            .order_by(Region.code)
        )
        .unique()
        .scalars()
        .all()
    )
    ctx["dealers_per_top_region"] = {  # each top region's subtree
        r.code: sum(n for path, n in counts["per_path"].items() if path.startswith(r.path)) for r in ctx["top_regions"]
    }
    ctx["users_by_role"] = dict(db.session.execute(select(User.role, func.count()).group_by(User.role)).all())
    ctx["recent"] = []
    if can("audit.read"):
        ctx["recent"] = (
            db.session.execute(select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(8))
            .scalars()
            .all()
        )
    from portal.orders.models import STATUSES, Order
    from portal.production import reports as production_reports

    ctx["utilisation"] = _credit_utilisation(scope)
    ctx["orders_by_status"] = _counts(Order.status, Order)
    ctx["ORDER_STATUSES"] = STATUSES
    ctx["units_by_stage"] = production_reports.by_stage(production_reports.unit_filters(scope))
    ctx["trend"], (ctx["by_region"], ctx["by_level"]) = _flow_cards(scope, by_region=True)
    ctx["rebates"] = _rebates_accrued(scope)
    ctx["targets"] = _targets_card(scope)
    return render_template("home/hq.html", **ctx)


@bp.route("/home/queues/<key>")
@requires("home.view")
@not_tenant_route("a work queue's name, not a dealer-owned object; its items are read through the caller's scope")
def queue(key):
    """Every item of one of the caller's work queues, oldest first, a page at a time."""
    page = min(page_args()[0], MAX_PAGE)
    found = work_queues.one_queue(current_user, current_scope(), key, page)
    if found is None:
        raise NotFound(_("%(kind)s not found.", kind="Queue"))
    pages = max(1, -(-found.total // work_queues.PAGE))
    return render_template(
        "home/queue.html",
        queue=found,
        page={"items": found.items, "page": page, "per_page": work_queues.PAGE, "total": found.total, "pages": pages},
    )
