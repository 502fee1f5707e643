"""Targets pages (PRODUCT.md §15): the grid (a region's split), the file import, the export.

`/targets`: HQ sees the top region's split — its own figure and its child regions' and directly placed dealers' per
month, all editable; a region manager its own region's split (its region's figure read-only: HQ's to set). Any region
of the caller's scope opens at `/targets/regions/<code>`. Saving goes through `services.upsert` (all or nothing;
the problems shown in their cells). A dealer sees its own targets by month, read-only.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.background.models import JobRecord
from portal.background.services import job_state
from portal.catalog.labels import category_label
from portal.catalog.models import Product
from portal.dealers.models import Dealer, Region
from portal.extensions import db
from portal.platform import files
from portal.platform.auth import can, requires
from portal.platform.errors import Forbidden, Invalid
from portal.platform.money import parse_money
from portal.platform.security import accepts_workbooks
from portal.platform.tenancy import current_scope, tenant_route
from portal.platform.timeutil import today
from portal.platform.web import apply_errors, export_response, render_form
from portal.targets import imports, services
from portal.targets.forms import GridForm, TargetImportForm
from portal.targets.labels import MEASURE_LABELS
from portal.targets.models import MEASURES, NO_CATEGORY, UNIT_MEASURES

bp = Blueprint("targets", __name__)

CELL = "t:"  # a grid cell's input name: t:<scope>:<YYYY-MM>


def _choices() -> dict:
    """The grid's selection from the query: year, measure, category (collections: none)."""
    year = request.args.get("year", type=int) or today().year
    year = min(max(year, 2000), 2100)
    measure = request.args.get("measure") if request.args.get("measure") in MEASURES else MEASURES[0]
    categories = db.session.execute(select(Product.category).distinct().order_by(Product.category)).scalars().all()
    category = request.args.get("category") or ""
    if category not in categories or measure in NO_CATEGORY:
        category = ""
    return {"year": year, "measure": measure, "category": category, "categories": categories}


def _cell(scope_text: str, period: str) -> str:
    return f"{CELL}{scope_text}:{period}"


def _posted_items() -> tuple[list[dict], list[str]]:
    """The grid's non-blank cells as upsert items, and each one's input name."""
    items, names = [], []
    choice = _choices()
    for name, value in request.form.items():
        if not name.startswith(CELL) or not value.strip():
            continue
        scope_text, _sep, period = name[len(CELL) :].rpartition(":")
        items.append({"period": period, "scope": scope_text, "measure": choice["measure"],
                      "category": choice["category"], "amount": value})  # fmt: skip
        names.append(name)
    return items, names


def _grid(region: Region | None):
    """The split grid of `region` (GET) and its saving (POST)."""
    scope = current_scope()
    if request.method == "POST" and not can("targets.write"):
        raise Forbidden()
    choice = _choices()
    form = GridForm()
    cell_errors: dict[str, list[str]] = {}
    posted: dict[str, str] = {}
    if request.method == "POST" and form.validate_on_submit():
        items, names = _posted_items()
        posted = {n: request.form[n] for n in names}
        try:
            if not items:
                raise Invalid(_("Nothing to save: every cell is empty."))
            counts = services.upsert(current_user, items, amount=parse_money)
        except Invalid as exc:
            for key, messages in exc.fields.items():
                parts = key.split(".")
                if len(parts) == 3 and parts[1].isdigit() and int(parts[1]) < len(names):
                    cell_errors.setdefault(names[int(parts[1])], []).extend(messages)
                else:
                    form.form_errors.append(" ".join(messages))
            if not exc.fields:
                form.form_errors.append(exc.message)
        else:
            flash(_("Targets saved: %(created)s new, %(updated)s changed, %(unchanged)s unchanged.", **counts),
                  "success")  # fmt: skip
            return redirect(request.full_path if request.query_string else request.path)
    data = services.split(scope, region, choice["year"], choice["measure"], choice["category"])
    if cell_errors:
        form.form_errors.append(_("Nothing was saved: correct the marked cells."))
    elif request.method == "POST" and not form.errors and not form.form_errors:
        form.form_errors.append(_("The form has expired. Reload the page and try again."))
    return render_form(
        "targets/split.html",
        form,
        form=form,
        split=data,
        choice=choice,
        cell=_cell,
        cell_errors=cell_errors,
        posted=posted,
        whole=choice["measure"] in UNIT_MEASURES,
        MEASURE_LABELS=MEASURE_LABELS,
        category_label=category_label,
        breadcrumbs=_breadcrumbs(region),
    )


def _breadcrumbs(region: Region | None) -> list[Region]:
    """The regions above `region` that the caller may open, top first."""
    if region is None:
        return []
    scope = current_scope()
    codes = [c for c in region.path.strip("/").split("/")[:-1] if c]
    if not codes:
        return []
    found = {r.code: r for r in db.session.execute(scope.select(Region, Region.code.in_(codes))).unique().scalars()}
    return [found[c] for c in codes if c in found]


@bp.route("/targets", methods=["GET", "POST"])
@requires("targets.read")
def index():
    """HQ: the top region's split; a region manager: its region's; a dealer: its own targets (read-only)."""
    scope = current_scope()
    if request.method == "POST" and not can("targets.write"):
        raise Forbidden()
    if scope.is_dealer:
        return _dealer_view(scope)
    if scope.kind not in ("hq", "region"):
        return render_template("targets/targets.html", dealer=None, rows={}, year=today().year,
                               MEASURE_LABELS=MEASURE_LABELS, category_label=category_label)  # fmt: skip
    return _grid(services.anchor(scope, None))


@bp.route("/targets/regions/<code>", methods=["GET", "POST"])
@requires("targets.read")
@tenant_route("region")
def region_split(code):
    """Any region of the caller's scope: its figure, its children's, the sum and the difference per month."""
    region = current_scope().get_or_404(Region, code=code)
    return _grid(region)


def _dealer_view(scope):
    dealer = db.session.get(Dealer, scope.dealer_id)
    year = min(max(request.args.get("year", type=int) or today().year, 2000), 2100)
    rows = {} if dealer.parent_id is not None else services.dealer_targets(scope, dealer, year)
    return render_template("targets/targets.html", dealer=dealer, rows=rows, year=year, MEASURE_LABELS=MEASURE_LABELS,
                           category_label=category_label, months=list(range(1, 13)))  # fmt: skip


# ---------------------------------------------------------------- export


@bp.route("/targets/export")
@requires("targets.read")
def export():
    """The targets in the caller's scope for a year (`?year=`, optionally `measure`), CSV or XLSX (`?format=`), in
    the import's columns: an export imports back as it is."""
    scope = current_scope()
    year = min(max(request.args.get("year", type=int) or today().year, 2000), 2100)
    measure = request.args.get("measure") if request.args.get("measure") in MEASURES else None
    stmt = services.list_targets(scope, dt.date(year, 1, 1), dt.date(year, 12, 1), measure=measure)
    fmt = "xlsx" if request.args.get("format") == "xlsx" else "csv"
    return export_response(fmt, f"targets-{year}", imports.EXPORT_HEADER, imports.export_rows(stmt))


# ---------------------------------------------------------------- import


@bp.route("/targets/import", methods=["GET", "POST"])
@accepts_workbooks
@requires("targets.write")
def import_page():
    """Upload a targets file; it is applied by a job, whose result (every rejected line) the next page shows."""
    form = TargetImportForm()
    if form.validate_on_submit():
        try:
            record = imports.start(current_user, form.file.data)
        except Invalid as exc:
            apply_errors(form, exc)
        else:
            return redirect(url_for("targets.import_result", job_id=record.id))
    return render_form("targets/import.html", form, form=form, columns=imports.COLUMNS, MEASURES=MEASURES,
                       MEASURE_LABELS=MEASURE_LABELS)  # fmt: skip


@bp.route("/targets/import/template.csv")
@requires("targets.write")
def import_template():
    """The targets file's CSV template: English headers, or Chinese ones with `?headers=zh`."""
    chinese = request.args.get("headers") == "zh"
    return files.template_download(imports.COLUMNS, imports.EXAMPLE, "targets", chinese)


@bp.route("/targets/import/<job_id>")
@requires("targets.write")
@tenant_route("job")
def import_result(job_id):
    """A targets import's progress and, once done, what was saved or every rejected line."""
    record = current_scope().get_or_404(JobRecord, id=job_id)
    if record.kind != imports.KIND:
        return redirect(url_for("jobs.detail", job_id=record.id))
    return render_template("targets/import_result.html", job=job_state(record), record=record)
