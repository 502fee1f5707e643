"""A dealer's whole picture (一户一档, PRODUCT.md §12): every figure of the dealer's pages on one page.

Each figure is computed by the service function (or from the list query) of the page it links to, so the overview
and that page always agree (tests/test_dealer_overview_figures.py compares them):

| section | computed by | links to |
| --- | --- | --- |
| credit | `credit.services.credit_summary` | /dealers/<code>/credit |
| ageing | `credit.reports.dealer_ageing_select` (as the credit page) | /dealers/<code>/credit, ledger |
| open invoices | `credit.services._invoice_residuals` (as an entry's page) | /entries/<id>, ledger?type=invoice |
| orders, backorders | `orders.services.orders_query(dealer=, status=)` | /orders?dealer=&status=, /orders/<number> |
| in transit | `shipping.services.shipments_query(dealer=, status=in_transit)` | /shipments?dealer=&status=in_transit |
| statements | `statements.services.statements_query(dealer=, status=)` | /statements?dealer=&status= |
| stock, stock age | `inventory.dealer_stock.stock_report` | /dealers/<code>/stock |
| 30-day sell-through | `inventory.sellthrough.lines_query(dealer=, date_from=)` | /sell-through?dealer=&from= |
| rebates | `rebates.services.dealer_progress` | /rebates/<programme> |
| targets, score (§15) | `home.targets.dealer_targets` (achievement, scorecard_for) | the achievement page, scorecards |

The number of SQL statements does not grow with the dealer's invoices, orders, shipments or statements: every
section is one or two aggregate or LIMITed queries (tests/test_dealer_overview_queries.py counts them), and the rebate
section one per programme covering the dealer. Lists are cut to their most useful rows (the oldest open invoices,
the latest orders …); the figures above them count everything.

What a dealer user sees of itself (at /my/dealer, the card icon of its navigation, which leads to /dealers/<its
code>) is the same minus HQ's own business: the internal notes, who set a credit hold and when, who approved an
increase, the dealer's users (its administrator has the users page) and the links to HQ's editing forms. It does see
why it is on hold and who its account manager is (the person to call); only HQ sets the account manager.

The multi-level channel (§16):

| section | computed by | links to |
| --- | --- | --- |
| sub-dealers (a distributor's) | `dealers.services.sub_dealer_rows` (the dealer list's figures) | each one's overview |
| buys from (a sub-dealer's) | its `parent` | the distributor's overview, when the caller sees it |

A sub-dealer's figures are its account with its distributor: its credit, ledger, orders, shipments, stock and
sell-through all lie between the two of them. It has nothing with HQ, so its overview has none of HQ's parts: no
statements (HQ issues them), no rebates (HQ's programmes), no backorders (waiting for HQ's stock), no account manager
(HQ's or the region's person). Its distributor's users see it as a dealer sees itself: nothing HQ-internal.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import func, literal, select

from portal.dealers.models import Dealer
from portal.extensions import db
from portal.platform.money import ZERO, money, sql_sum
from portal.platform.tenancy import Scope
from portal.platform.timeutil import today

OPEN_ORDER_STATUSES = ("submitted", "credit_review", "approved", "in_production", "built", "shipped")
SELL_THROUGH_DAYS = 30
INVOICE_ROWS = 8
ORDER_ROWS = 6
BACKORDER_ROWS = 6
SHIPMENT_ROWS = 5
STATEMENT_ROWS = 6
NOTE_ROWS = 20
SUB_DEALER_ROWS = 20


def build(scope: Scope, dealer: Dealer, *, internal: bool, may_read_statements: bool = True,
          on: dt.date | None = None) -> dict:  # fmt: skip
    """Every figure of the overview of `dealer` (already found in `scope`) as of `on` (today).

    `internal`: the caller is HQ or the dealer's region (notes and hold internals included)."""
    on = on or today()
    sub = dealer.parent_id is not None  # a sub-dealer: nothing with HQ (§16)
    out = {
        "dealer": dealer,
        "as_of": on,
        "internal": internal,
        "seller": seller(scope, dealer),
        "account_manager": None if sub else dealer.account_manager,
        "credit": credit(dealer, on, internal=internal),
        "ageing": ageing(dealer, on),
        "open_invoices": open_invoices(dealer, on),
        "orders": orders(scope, dealer),
        "backorders": None if sub else backorders(scope, dealer),
        "shipments": shipments_in_transit(scope, dealer),
        "statements": statements(scope, dealer) if may_read_statements and not sub else None,
        "stock": stock(dealer),
        "sell_through": sell_through(scope, dealer, on),
        "rebates": None if sub else rebates(scope, dealer),
        # its targets and score (§15), computed when the page reads them (the API's answer has no such section)
        "targets": None if sub else (lambda: targets(scope, dealer, on)),
        "sub_dealers": None if sub else sub_dealers(scope, dealer, on),
        "contacts": _contacts(dealer),
        "addresses": _addresses(dealer),
        "notes": _notes(dealer) if internal else None,
    }
    return out


# ---------------------------------------------------------------- the channel (§16)


def seller(scope: Scope, dealer: Dealer) -> dict | None:
    """Whom a sub-dealer buys from, and whether the caller may open that distributor's overview (HQ, the region and
    the distributor's users may; the sub-dealer itself never: it sees nothing of its distributor's). None: HQ."""
    if dealer.parent_id is None:
        return None
    from portal.dealers.services import visible_dealer_ids

    parent = dealer.parent
    return {"code": parent.code, "name": parent.name, "visible": bool(visible_dealer_ids(scope, [parent.id]))}


def sub_dealers(scope: Scope, dealer: Dealer, on: dt.date) -> dict:
    """A distributor's sub-dealers (the first SUB_DEALER_ROWS by code) with the dealer list's figures: their balance,
    overdue amount and credit with it, and their open orders."""
    if scope.is_dealer and dealer.id == scope.dealer_id and not scope.sub_dealer_ids:
        return {"count": 0, "items": []}  # the scope already knows it has none
    from portal.dealers.services import sub_dealer_rows

    page = sub_dealer_rows(scope, dealer, per_page=SUB_DEALER_ROWS, on=on)
    return {"count": page["total"], "items": page["items"]}


# ---------------------------------------------------------------- money


def credit(dealer: Dealer, on: dt.date, *, internal: bool) -> dict:
    """credit_summary (the credit page's figures), the utilisation as the receivables page rounds it, and the
    temporary increases in force or still to come."""
    from portal.credit.models import CreditIncrease
    from portal.credit.services import credit_row, credit_summary

    summary = credit_summary(dealer, on)
    total = money(summary["credit_limit"] + summary["temporary"])
    utilisation = (summary["exposure"] / total * 100).quantize(Decimal("0.1")) if total > 0 else None
    increases = db.session.execute(
        select(CreditIncrease)
        .where(CreditIncrease.dealer_id == dealer.id, CreditIncrease.valid_until >= on)
        .order_by(CreditIncrease.valid_from, CreditIncrease.id)
    ).scalars()
    row = credit_row(dealer)  # in the session since credit_summary: no statement
    return {
        **summary,
        "credit_total": total,
        "utilisation": utilisation,
        "increases": [
            {
                "amount": i.amount,
                "valid_from": i.valid_from,
                "valid_until": i.valid_until,
                "in_force": i.valid_from <= on <= i.valid_until,
                "reason": i.reason,
                "approved_by": i.approved_by if internal else None,
            }
            for i in increases
        ],
        "held_at": row.held_at if internal and row is not None and row.on_hold else None,
        "held_by": row.held_by if internal and row is not None and row.on_hold else None,
    }


def ageing(dealer: Dealer, on: dt.date) -> dict:
    """The dealer's ageing on `on`, as the credit page computes it, with its overdue part."""
    from portal.credit import reports

    return reports.dealer_ageing(dealer.id, on)


def open_invoices(dealer: Dealer, on: dt.date) -> dict:
    """The invoices still open (as an entry's page computes its residual), oldest due first: how many, what is open
    in all, and the first INVOICE_ROWS with paid and open per invoice."""
    from portal.credit.services import _invoice_residuals

    items = [(inv, res) for inv, res in _invoice_residuals(dealer.id) if inv.entry_date <= on]
    return {
        "count": len(items),
        "total": money(sum((res for _inv, res in items), ZERO)),
        "overdue_count": sum(1 for inv, _res in items if inv.due_on < on),
        "items": [
            {
                "id": inv.id,
                "number": inv.number,
                "issued_on": inv.entry_date,
                "due_on": inv.due_on,
                "amount": inv.amount,
                "paid": money(inv.amount - res),
                "open": res,
                "days_overdue": max(0, (on - inv.due_on).days),
                "order_number": inv.order_number,
            }
            for inv, res in items[:INVOICE_ROWS]
        ],
    }


# ---------------------------------------------------------------- goods


def orders(scope: Scope, dealer: Dealer) -> dict:
    """Orders per status (each count the order list's total for that status) and the latest open ones."""
    from portal.orders.models import Order
    from portal.orders.services import orders_query

    base = orders_query(scope, dealer=dealer.code)
    by_status = {
        status: {"count": int(n), "gross": money(gross)}
        for status, n, gross in db.session.execute(
            base.with_only_columns(Order.status, func.count(), sql_sum(Order.gross))
            .group_by(Order.status)
            .order_by(None)
        )
    }
    open_ = [s for s in OPEN_ORDER_STATUSES if s in by_status]
    recent = db.session.execute(
        base.where(Order.status.in_(OPEN_ORDER_STATUSES))
        .with_only_columns(Order.number, Order.status, Order.gross, Order.created_at)
        .limit(ORDER_ROWS)
    ).all()
    return {
        "by_status": [{"status": s, **by_status[s]} for s in OPEN_ORDER_STATUSES if s in by_status],
        "closed": [{"status": s, **v} for s, v in by_status.items() if s not in OPEN_ORDER_STATUSES],
        "open_count": sum(by_status[s]["count"] for s in open_),
        "open_gross": money(sum((by_status[s]["gross"] for s in open_), ZERO)),
        "recent": [
            {"number": r.number, "status": r.status, "gross": money(r.gross), "created_at": r.created_at}
            for r in recent
        ],  # fmt: skip
    }


def backorders(scope: Scope, dealer: Dealer) -> dict:
    """The dealer's stock lines waiting for HQ stock (`backordered` > 0) on orders approved and not shipped in full
    (OPEN_FOR_CREDIT: what the backorder list shows, /backorders?dealer=), soonest promise first."""
    from portal.orders.models import OPEN_FOR_CREDIT, Order, OrderLine
    from portal.orders.services import orders_query

    waiting = (
        orders_query(scope, dealer=dealer.code)
        .where(Order.status.in_(OPEN_FOR_CREDIT))
        .with_only_columns(Order.id)
        .order_by(None)
    )
    where = (OrderLine.order_id.in_(waiting), OrderLine.backordered > 0)
    lines, quantity, orders_ = db.session.execute(
        select(
            func.count(), func.coalesce(func.sum(OrderLine.backordered), 0), func.count(OrderLine.order_id.distinct())
        ).where(*where)
    ).one()
    rows = db.session.execute(
        select(Order.number, OrderLine.sku, OrderLine.quantity, OrderLine.backordered, OrderLine.promised_on)
        .join(Order, Order.id == OrderLine.order_id)
        .where(*where)
        .order_by(OrderLine.promised_on.is_(None), OrderLine.promised_on, Order.number, OrderLine.line_no)
        .limit(BACKORDER_ROWS)
    ).all()
    return {
        "lines": int(lines),
        "quantity": int(quantity),
        "orders": int(orders_),
        "items": [
            {
                "order_number": r.number,
                "sku": r.sku,
                "quantity": r.quantity,
                "backordered": r.backordered,
                "promised_on": r.promised_on,
            }  # fmt: skip
            for r in rows
        ],
    }


def shipments_in_transit(scope: Scope, dealer: Dealer) -> dict:
    from portal.orders.models import Order
    from portal.shipping.models import Shipment
    from portal.shipping.services import shipments_query

    base = shipments_query(scope, dealer=dealer.code, status="in_transit")
    count, gross = db.session.execute(
        base.with_only_columns(func.count(), sql_sum(Shipment.gross)).order_by(None)
    ).one()
    rows = db.session.execute(
        base.with_only_columns(Shipment.number, Shipment.shipped_on, Shipment.gross, Order.number.label("order_number"))
        .join(Order, Order.id == Shipment.order_id)
        .limit(SHIPMENT_ROWS)
    ).all()
    return {
        "count": int(count),
        "gross": money(gross),
        "items": [
            {"number": r.number, "shipped_on": r.shipped_on, "gross": money(r.gross), "order_number": r.order_number}
            for r in rows
        ],  # fmt: skip
    }


def statements(scope: Scope, dealer: Dealer) -> dict:
    """The current version of each month's statement, per reconciliation status, and the latest months."""
    from portal.statements.models import STATEMENT_STATUSES, Statement
    from portal.statements.services import statements_query

    base = statements_query(scope, dealer=dealer.code)
    counts = dict(
        db.session.execute(
            base.with_only_columns(Statement.status, func.count()).group_by(Statement.status).order_by(None)
        ).all()
    )
    rows = db.session.execute(
        base.with_only_columns(
            Statement.id,
            Statement.number,
            Statement.period,
            Statement.version,
            Statement.status,
            Statement.closing,
            Statement.issued_on,
        ).limit(STATEMENT_ROWS)  # fmt: skip
    ).all()
    return {
        "by_status": [{"status": s, "count": int(counts.get(s, 0))} for s in STATEMENT_STATUSES],
        "count": int(sum(counts.values())),
        "to_confirm": int(counts.get("issued", 0) + counts.get("resolved", 0)),
        "items": [
            {
                "id": r.id,
                "number": r.number,
                "period": r.period,
                "version": r.version,
                "status": r.status,
                "closing": money(r.closing),
                "issued_on": r.issued_on,
            }  # fmt: skip
            for r in rows
        ],
    }


def stock(dealer: Dealer) -> dict:
    """On hand, incoming and the age of what is held (FIFO), as the stock page computes them."""
    from portal.inventory.dealer_stock import stock_report

    report = stock_report(dealer)
    totals = report["totals"]
    return {
        "on_hand": totals["on_hand"],
        "incoming": totals["incoming"],
        "age": totals["age"],
        "skus": sum(1 for i in report["items"] if i["on_hand"]),
        "vins": len(report["vins"]),
    }


def sell_through(scope: Scope, dealer: Dealer, on: dt.date) -> dict:
    """The last SELL_THROUGH_DAYS days' sales to end customers: what the sell-through list shows from that day."""
    from portal.inventory.models import SellThroughLine
    from portal.inventory.sellthrough import lines_query

    since = on - dt.timedelta(days=SELL_THROUGH_DAYS - 1)
    lines, quantity, amount = db.session.execute(
        lines_query(scope, dealer=dealer.code, date_from=since)
        .with_only_columns(
            func.count(), func.coalesce(func.sum(SellThroughLine.quantity), literal(0)), sql_sum(SellThroughLine.amount)
        )  # fmt: skip
        .order_by(None)
    ).one()
    return {"since": since, "until": on, "lines": int(lines), "quantity": int(quantity), "amount": money(amount)}


def rebates(scope: Scope, dealer: Dealer) -> list[dict]:
    from portal.rebates.services import dealer_progress

    return dealer_progress(scope, dealer)


def targets(scope: Scope, dealer: Dealer, on: dt.date) -> dict | None:
    """Its targets and achievement this month and this year, per measure, and its scorecard (the dealer's home shows
    the same): a sub-dealer has none (§16)."""
    from portal.home.targets import dealer_targets

    return dealer_targets(scope, dealer, on)


# ---------------------------------------------------------------- people


def _contacts(dealer: Dealer) -> list:
    from portal.dealers.services import contacts_of

    return contacts_of(dealer)


def _addresses(dealer: Dealer) -> list:
    from portal.dealers.services import addresses_of

    return addresses_of(dealer)


def _notes(dealer: Dealer) -> list:
    from portal.dealers.services import notes_of

    return notes_of(dealer, NOTE_ROWS)
