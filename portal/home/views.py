from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import func, select

from portal.audit.models import AuditEntry
from portal.credit import reports
from portal.credit.services import credit_summary
from portal.dealers.models import Dealer, Region, User
from portal.extensions import db
from portal.notify.models import Notification
from portal.platform.auth import can, requires
from portal.platform.tenancy import current_scope
from portal.platform.timeutil import today

bp = Blueprint("home", __name__)


def _receivables_summary(scope) -> dict:
    """Ageing totals today in the caller's scope, and the dealers on hold."""
    from portal.credit.models import DealerCredit

    totals = reports.ageing(scope, today(), "total")["totals"]
    overdue = totals["1_30"] + totals["31_60"] + totals["61_90"] + totals["over_90"]
    on_hold = db.session.execute(
        select(func.count())
        .select_from(DealerCredit)
        .where(DealerCredit.on_hold.is_(True), scope.dealer_clause(DealerCredit.dealer_id))
    ).scalar_one()
    return {"totals": totals, "overdue": overdue, "on_hold": on_hold, "dso": reports.dso(scope.dealer_clause, today())}


def _counts(column, scope_model=Dealer) -> dict:
    scope = current_scope()
    rows = db.session.execute(select(column, func.count()).where(scope.clause(scope_model)).group_by(column)).all()
    return dict(rows)


@bp.route("/")
def root():
    return redirect(url_for("home.index") if current_user.is_authenticated else url_for("auth.login"))


@bp.route("/home")
@requires("home.view")
def index():
    scope = current_scope()
    ctx: dict = {}
    ctx["receivables"] = _receivables_summary(scope)
    if scope.is_dealer:
        ctx["dealer"] = db.session.get(Dealer, current_user.dealer_id)
        ctx["credit"] = credit_summary(ctx["dealer"])
        ctx["notices"] = (
            db.session.execute(
                select(Notification)
                .where(Notification.user_id == current_user.id, Notification.read_at.is_(None))
                .order_by(Notification.created_at.desc())
                .limit(5)
            )
            .scalars()
            .all()
        )
        ctx["team"] = (
            db.session.execute(
                scope.select(User).where(User.dealer_id == current_user.dealer_id).order_by(User.username)
            )
            .unique()
            .scalars()
            .all()
        )
        from portal.production.services import open_orders_with_stage

        ctx["open_orders"] = open_orders_with_stage(scope, limit=10)
        from portal.shipping.services import shipments_query

        ctx["incoming"] = (
            db.session.execute(shipments_query(scope, status="in_transit").limit(5)).unique().scalars().all()
        )
        return render_template("home/dealer.html", **ctx)
    ctx["by_tier"] = _counts(Dealer.tier)
    ctx["by_type"] = _counts(Dealer.channel_type)
    ctx["by_status"] = _counts(Dealer.status)
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
        ctx["per_region"] = dict(
            db.session.execute(
                select(Dealer.region_id, func.count()).where(scope.clause(Dealer)).group_by(Dealer.region_id)
            ).all()
        )
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
    ctx["dealers_per_top_region"] = {
        r.code: db.session.execute(
            select(func.count())
            .select_from(Dealer)
            .join(Region, Dealer.region_id == Region.id)
            .where(Region.path.startswith(r.path, autoescape=True))
        ).scalar_one()
        for r in ctx["top_regions"]
    }
    ctx["users_by_role"] = dict(db.session.execute(select(User.role, func.count()).group_by(User.role)).all())
    ctx["recent"] = []
    if can("audit.read"):
        ctx["recent"] = (
            db.session.execute(select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(8))
            .scalars()
            .all()
        )
    return render_template("home/hq.html", **ctx)
