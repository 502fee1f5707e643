"""Browser pages: tracking (an order number or a VIN → each unit's stages, updated live by static/track.js) and the
HQ production view."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from sqlalchemy import select

from portal.dealers.models import Region
from portal.extensions import db
from portal.platform.auth import requires
from portal.platform.errors import NotFound
from portal.platform.tenancy import current_scope, tenant_route
from portal.platform.timeutil import portal_tz
from portal.platform.web import page_args
from portal.production import reports, services
from portal.production import stages as st
from portal.production.models import Unit

bp = Blueprint("production", __name__, static_folder="static", static_url_path="/production/static")

FILTERS = ("line", "sku", "dealer", "region")


def local_time(moment) -> str:
    """`YYYY-MM-DD HH:MM` in the portal's timezone (static/track.js writes the same format)."""
    return moment.astimezone(portal_tz()).strftime("%Y-%m-%d %H:%M") if moment else ""


@bp.app_template_filter("localtime")
def _localtime_filter(moment) -> str:
    return local_time(moment)


@bp.route("/track")
@requires("tracking.read")
def track_form():
    q = (request.args.get("q") or "").strip()
    if q:
        return redirect(url_for("production.track", query=q))
    recent = services.open_orders_with_stage(current_scope(), limit=15)
    return render_template("production/track_form.html", q="", open_orders=recent)


def with_options(view: dict) -> dict:
    """Each unit of a tracking view with the options it was ordered with (§12), read in one query when the view does
    not carry them."""
    missing = [u for u in view["units"] if "options" not in u]
    if missing:
        stmt = select(Unit.serial, Unit.options).where(Unit.serial.in_([u["serial"] for u in missing]))
        found = dict(db.session.execute(stmt).all())
        for u in missing:
            u["options"] = found.get(u["serial"])
    return view


@bp.route("/track/<query>")
@requires("tracking.read")
@tenant_route("track")
def track(query):
    """Each unit's stages; out of scope or unknown: the same 404 page with the search form."""
    try:
        view = services.track(current_scope(), query)
    except NotFound:
        return render_template("production/track_form.html", q=query, not_found=True, open_orders=[]), 404
    return render_template(
        "production/track.html",
        t=with_options(view),
        tz=portal_tz().key,
        api_url=url_for("api_production.track", query=query),
    )


@bp.route("/production")
@requires("production.read")
def index():
    scope = current_scope()
    filters = {k: (request.args.get(k) or "").strip() or None for k in FILTERS}
    late_page, _per_page = page_args(reports.LATE_PER_PAGE)
    data = reports.summary(scope, late_page=late_page, **filters)
    late = data["late"]
    late["pages"] = max(1, -(-late["total"] // late["per_page"]))
    regions = (
        db.session.execute(scope.select(Region).order_by(Region.path)).unique().scalars().all()
        if not scope.is_dealer
        else []
    )
    in_build = sum(row["count"] for row in data["by_stage"] if row["stage"] in st.open_stages())
    return render_template(
        "production/index.html",
        data=data,
        filters=filters,
        regions=regions,
        lines=reports.lines_in_scope(scope),
        stages=st.all_stages(),
        labels=st.labels(),
        in_build=in_build,
        completed_30=sum(d["completed"] for d in data["throughput"]),
        late=late,
        throughput_items=[(d["date"].strftime("%m-%d"), d["completed"]) for d in data["throughput"]],
        build_stages=st.build_stages(),
    )
