"""Browser pages: login, regions, dealers, users and the user's own account."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from portal.credit.labels import BUCKET_LABELS
from portal.dealers import overview, services
from portal.dealers.channel import is_seller_admin
from portal.dealers.forms import (
    CONTACT_ROLE_LABELS,
    ActionForm,
    AddressForm,
    ContactForm,
    DealerForm,
    LocaleForm,
    LoginForm,
    NoteForm,
    PasswordForm,
    RegionForm,
    UserForm,
)
from portal.dealers.models import Dealer, Region, User
from portal.extensions import db
from portal.platform.auth import can, requires
from portal.platform.errors import Forbidden, Invalid, NotFound, Throttled
from portal.platform.money import parse_money
from portal.platform.tenancy import current_scope, dealer_or_404, not_tenant_route, tenant_route
from portal.platform.uow import commit
from portal.platform.web import (
    AUDIT_ACTION_LABELS,
    CHANNEL_TYPE_LABELS,
    ROLE_LABELS,
    STATUS_LABELS,
    apply_errors,
    as_choices,
    csv_response,
    list_page,
    page_args,
    query_rows,
    render_form,
)

bp = Blueprint("dealers", __name__, static_folder="static", static_url_path="/dealers-static")

# the audit page's labels of the overview's actions (portal/platform/web.py holds the others)
AUDIT_ACTION_LABELS.update(
    {
        "dealer.contact.add": _l("Dealer contact added"),
        "dealer.contact.update": _l("Dealer contact changed"),
        "dealer.contact.remove": _l("Dealer contact removed"),
        "dealer.address.add": _l("Ship-to address added"),
        "dealer.address.update": _l("Ship-to address changed"),
        "dealer.address.remove": _l("Ship-to address removed"),
        "dealer.note.add": _l("Internal note added"),
    }
)
# the stock page's age buckets (portal/inventory/dealer_stock.py AGE_BUCKETS), as that page names them
AGE_LABELS = {
    "0_30": _l("0–30 days"),
    "31_60": _l("31–60 days"),
    "61_90": _l("61–90 days"),
    "91_180": _l("91–180 days"),
    "over_180": _l("Over 180 days"),
}
auth_bp = Blueprint("auth", __name__)


# ------------------------------------------------------------------ login / logout / language


def _safe_next(target: str | None) -> str:
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("home.index")


@auth_bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.username.data, form.password.data, request.remote_addr)
        except services.LoginFailed:
            commit()  # the failure counts towards the throttle even though the page shows an error
            form.form_errors.append(_("Wrong username or password."))
            status = 401
        except Throttled as exc:
            form.form_errors.append(exc.message)
            status = 429
        else:
            session.clear()
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form), status


@auth_bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    session.clear()
    flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login"))


@auth_bp.route("/lang/<code>", methods=["POST"])
@not_tenant_route("a language code, not an object")
def switch_language(code):
    if code in ("zh_CN", "en"):
        if current_user.is_authenticated and not getattr(current_user, "is_integration", False):
            services.set_own_locale(current_user, code)
        session["locale"] = code
    return redirect(_safe_next(request.form.get("next") or request.referrer and urlsplit(request.referrer).path))


# ------------------------------------------------------------------ regions


def _region_choices(blank: bool = True, exclude_path: str | None = None):
    regions = db.session.execute(current_scope().select(Region).order_by(Region.path)).unique().scalars()
    choices = [("", "—")] if blank else []
    for r in regions:
        if exclude_path and r.path.startswith(exclude_path):
            continue
        choices.append((r.code, "\u00a0\u00a0" * r.depth + f"{r.name} ({r.code})"))
    return choices


@bp.route("/regions")
@requires("regions.read")
def regions():
    items = db.session.execute(services.regions_query(current_scope())).unique().scalars().all()
    if request.args.get("format") == "csv":
        return csv_response(
            "regions.csv",
            ["code", "name", "parent_code", "path", "approval_limit"],
            [[r.code, r.name, r.parent.code if r.parent else "", r.path, r.approval_limit] for r in items],
        )
    counts = dict(
        db.session.execute(
            select(Dealer.region_id, func.count()).where(current_scope().clause(Dealer)).group_by(Dealer.region_id)
        ).all()
    )
    return render_template("dealers/regions.html", regions=items, counts=counts)


def _region_form_data(form: RegionForm) -> dict:
    data = {"name": form.name.data, "parent_code": form.parent_code.data or None}
    try:
        data["approval_limit"] = parse_money(form.approval_limit.data or "0")
    except ValueError as exc:
        raise Invalid(fields={"approval_limit": [str(exc)]}) from exc
    return data


@bp.route("/regions/new", methods=["GET", "POST"])
@requires("regions.write")
def region_new():
    form = RegionForm()
    form.parent_code.choices = as_choices(_region_choices())
    if form.validate_on_submit():
        try:
            region = services.create_region(current_user, {"code": form.code.data, **_region_form_data(form)})
        except Invalid as exc:
            apply_errors(form, exc)
        else:
            flash(_("Region %(code)s created.", code=region.code), "success")
            return redirect(url_for("dealers.region_detail", code=region.code))
    return render_form("dealers/region_form.html", form, form=form, region=None)


@bp.route("/regions/<code>")
@requires("regions.read")
@tenant_route("region")
def region_detail(code):
    region = current_scope().get_or_404(Region, code=code)
    children = (
        db.session.execute(current_scope().select(Region).where(Region.parent_id == region.id).order_by(Region.code))
        .unique()
        .scalars()
        .all()
    )
    dealers = list_page(services.dealers_query(current_scope(), region=region.code))
    managers = (
        db.session.execute(select(User).where(User.role == "region_manager", User.region_id == region.id))
        .unique()
        .scalars()
        .all()
    )
    return render_template(
        "dealers/region_detail.html", region=region, children=children, dealers=dealers, managers=managers
    )


@bp.route("/regions/<code>/edit", methods=["GET", "POST"])
@requires("regions.write")
@tenant_route("region")
def region_edit(code):
    region = current_scope().get_or_404(Region, code=code)
    form = RegionForm(obj=region)
    form.parent_code.choices = as_choices(_region_choices(exclude_path=region.path))
    if request.method == "GET":
        form.parent_code.data = region.parent.code if region.parent else ""
        form.approval_limit.data = str(region.approval_limit)
    form.code.data = region.code
    if form.validate_on_submit():
        try:
            services.update_region(current_user, region, _region_form_data(form))
        except Invalid as exc:
            apply_errors(form, exc)
        else:
            flash(_("Region %(code)s saved.", code=region.code), "success")
            return redirect(url_for("dealers.region_detail", code=region.code))
    return render_form("dealers/region_form.html", form, form=form, region=region)


# ------------------------------------------------------------------ dealers

DEALER_FILTERS = ("q", "region", "tier", "channel_type", "status", "level", "parent")


def _dealer_filters() -> dict:
    filters = {k: request.args.get(k) or None for k in DEALER_FILTERS}
    filters["level"] = int(filters["level"]) if filters["level"] in ("1", "2") else None
    return filters


@bp.route("/dealers")
@requires("dealers.read")
def dealers():
    scope = current_scope()
    filters = _dealer_filters()
    stmt = services.dealers_query(scope, **filters)
    if request.args.get("format") == "csv":
        # read in chunks while the file is sent (the view's session is closed by then)
        rows = query_rows(stmt.options(joinedload(Dealer.account_manager), joinedload(Dealer.parent)), scalars=True)
        return csv_response(
            "dealers.csv",
            [
                "code",
                "name",
                "region_code",
                "region",
                "tier",
                "channel_type",
                "payment_terms_days",
                "status",
                "contact_name",
                "contact_phone",
                "contact_email",
                "address",
                "account_manager",
                "parent_code",
            ],
            (
                [
                    d.code,
                    d.name,
                    d.region.code,
                    d.region.name,
                    d.tier,
                    d.channel_type,
                    d.payment_terms_days,
                    d.status,
                    d.contact_name,
                    d.contact_phone,
                    d.contact_email,
                    d.address,
                    d.account_manager.username if d.account_manager else "",
                    d.parent.code if d.parent_id else "",
                ]
                for d in rows
            ),
        )
    sort = request.args.get("sort") if request.args.get("sort") in services.LIST_SORTS else "code"
    direction = "desc" if request.args.get("dir") == "desc" else "asc"
    page_no, per_page = page_args()
    page = services.dealer_rows(stmt, sort=sort, direction=direction, page=page_no, per_page=per_page)
    page["pages"] = max(1, -(-page["total"] // per_page))
    distributors = services.distributors(scope)
    return render_template(
        "dealers/dealers.html",
        page=page,
        filters=filters,
        sort=sort,
        direction=direction,
        region_choices=_region_choices() if can("regions.read") else [],
        distributors=distributors,
        # a sub-dealer's distributor is a link only for those who may open it (never for the sub-dealer itself)
        visible_parents=services.visible_dealer_ids(scope, {d.parent_id for d in page["items"]}),
        CHANNEL_TYPE_LABELS=CHANNEL_TYPE_LABELS,
        STATUS_LABELS=STATUS_LABELS,
    )


@bp.route("/sub-dealers")
@requires("dealers.read")
def sub_dealers():
    """A distributor's own users: its sub-dealers (§16) with their account with it and their open orders, each
    linking to its overview. Only for the users of a dealer that has sub-dealers (anyone else: 404)."""
    scope = current_scope()
    if not scope.is_dealer or not scope.sub_dealer_ids:
        raise NotFound(_("%(kind)s not found.", kind="Page"))
    distributor = dealer_or_404(current_user.dealer.code)
    sort = request.args.get("sort") if request.args.get("sort") in services.LIST_SORTS else "code"
    direction = "desc" if request.args.get("dir") == "desc" else "asc"
    page_no, per_page = page_args(50)
    page = services.sub_dealer_rows(scope, distributor, sort=sort, direction=direction, page=page_no,
                                    per_page=per_page)  # fmt: skip
    page["pages"] = max(1, -(-page["total"] // per_page))
    totals = {
        key: sum((getattr(r, key) for r in page["items"]), Decimal(0))
        for key in ("balance", "overdue", "credit", "available")
    }
    return render_template(
        "dealers/sub_dealers.html",
        distributor=distributor,
        page=page,
        sort=sort,
        direction=direction,
        totals=totals if page["pages"] == 1 else None,
        STATUS_LABELS=STATUS_LABELS,
    )


def _dealer_form(form: DealerForm, dealer: Dealer | None = None) -> DealerForm:
    if dealer is None:
        # a new dealer buys from HQ (a region is required) or from a distributor, whose region it takes
        form.region_code.choices = as_choices(_region_choices())
        candidates = db.session.execute(
            current_scope().select(Dealer, Dealer.parent_id.is_(None), Dealer.status == "active").order_by(Dealer.code)
        ).unique().scalars()
        form.parent_code.choices = as_choices(
            [("", _("None: buys from HQ"))] + [(d.code, f"{d.code} {d.name}") for d in candidates]
        )
    else:
        form.region_code.choices = as_choices(_region_choices(blank=False))
        del form.parent_code  # fixed at creation: the page shows it as text
    managers = services.account_manager_choices(dealer)
    form.account_manager.choices = as_choices(
        [("", "—")]
        + [
            (u.username, f"{u.label} · {ROLE_LABELS[u.role]}" + (f" · {u.region.name}" if u.region else ""))
            for u in managers
        ]
    )
    return form


def _dealer_form_data(form: DealerForm, dealer: Dealer | None = None) -> dict:
    data = {f: getattr(form, f).data for f in services.DEALER_FIELDS if f != "code"}
    data["account_manager"] = form.account_manager.data or None
    if dealer is None:
        data["parent_code"] = form.parent_code.data or None
        data["region_code"] = form.region_code.data or None
    elif dealer.parent_id is not None:
        data.pop("region_code")  # a sub-dealer's region is its distributor's (the field is shown, not sent)
        data.pop("account_manager")  # it has none (the field is not shown)
    elif not data["region_code"]:
        data.pop("region_code")  # nothing chosen: the region stays
    return data


@bp.route("/dealers/new", methods=["GET", "POST"])
@requires("dealers.write")
def dealer_new():
    form = _dealer_form(DealerForm())
    if form.validate_on_submit():
        try:
            data = {"code": form.code.data, **_dealer_form_data(form)}
            dealer = services.create_dealer(current_user, data, current_scope())
        except Invalid as exc:
            apply_errors(form, exc)
        else:
            flash(_("Dealer %(code)s created.", code=dealer.code), "success")
            return redirect(url_for("dealers.dealer_detail", code=dealer.code))
    return render_form("dealers/dealer_form.html", form, form=form, dealer=None)


@bp.route("/my/dealer")
@requires("dealers.read")
def my_dealer():
    """A dealer user's own overview (一户一档); HQ and regions find theirs in the dealer list."""
    if current_user.dealer_id is None:
        return redirect(url_for("dealers.dealers"))
    return redirect(url_for("dealers.dealer_detail", code=current_user.dealer.code))


def _overview_page(dealer: Dealer, *, forms: dict | None = None, status: int = 200):
    """The overview of a dealer the caller sees (HQ, its region, or the dealer itself)."""
    scope = current_scope()
    data = overview.build(scope, dealer, internal=not scope.is_dealer, may_read_statements=can("statements.read"))
    may_edit = services.may_edit_contacts(current_user, dealer)
    may_note = services.may_read_notes(current_user)
    forms = forms or {}
    forms.setdefault("contact", ContactForm(prefix="contact", formdata=None) if may_edit else None)
    forms.setdefault("address", AddressForm(prefix="address", formdata=None) if may_edit else None)
    forms.setdefault("note", NoteForm(prefix="note", formdata=None) if may_note else None)
    users = []
    # HQ and the region see a dealer's users; a distributor's admin its sub-dealers' (it manages them, §16)
    if can("users.read") and (not scope.is_dealer or is_seller_admin(current_user, dealer)):
        users = (
            db.session.execute(current_scope().select(User).where(User.dealer_id == dealer.id).order_by(User.username))
            .unique()
            .scalars()
            .all()
        )
    body, failed = render_form(
        "dealers/dealer_detail.html",
        *[f for f in forms.values() if f is not None],
        dealer=dealer,
        o=data,
        users=users,
        forms=forms,
        action_form=ActionForm(),
        may_edit=may_edit,
        may_note=may_note,
        may_place_for=_may_place_for(dealer),
        may_add_user=can("users.write") and (not scope.is_dealer or is_seller_admin(current_user, dealer)),
        backorder_url=_backorder_url(dealer),
        CONTACT_ROLE_LABELS=CONTACT_ROLE_LABELS,
        BUCKET_LABELS=BUCKET_LABELS,
        AGE_LABELS=AGE_LABELS,
    )
    return body, max(status, failed)


def _may_place_for(dealer: Dealer) -> bool:
    """Whether the page offers to place an order on the dealer's behalf (代客下单): the orders service's rule, for
    anyone but the dealer's own users (who simply order)."""
    from portal.orders.services import may_place_for

    own = getattr(current_user, "dealer_id", None) == dealer.id
    return dealer.status == "active" and not own and may_place_for(current_user, dealer)


def _backorder_url(dealer: Dealer) -> str | None:
    """HQ's backorder list filtered to the dealer, when the checkout has one (§12); else None (then each backorder
    links to its order)."""
    from flask import current_app

    for endpoint in ("orders.backorders", "backorders.index", "inventory.backorders", "hq_stock.backorders"):
        if endpoint in current_app.view_functions:
            return url_for(endpoint, dealer=dealer.code)
    return None


@bp.route("/dealers/<code>")
@requires("dealers.read")
@tenant_route("dealer")
def dealer_detail(code):
    """The dealer's overview (一户一档): HQ, its region manager, and the dealer's own users (less HQ's notes)."""
    return _overview_page(dealer_or_404(code))


@bp.route("/dealers/<code>/edit", methods=["GET", "POST"])
@requires("dealers.write")
@tenant_route("dealer")
def dealer_edit(code):
    dealer = dealer_or_404(code)
    form = _dealer_form(DealerForm(obj=dealer), dealer)
    if request.method == "GET":
        form.region_code.data = dealer.region.code
        form.account_manager.data = dealer.account_manager.username if dealer.account_manager else ""
    form.code.data = dealer.code
    if dealer.parent_id is not None:
        form.region_code.data = dealer.region.code  # shown, fixed: the distributor's region
    if form.validate_on_submit():
        try:
            services.update_dealer(current_user, dealer, _dealer_form_data(form, dealer))
        except Invalid as exc:
            apply_errors(form, exc)
        else:
            flash(_("Dealer %(code)s saved.", code=dealer.code), "success")
            return redirect(url_for("dealers.dealer_detail", code=dealer.code))
    return render_form("dealers/dealer_form.html", form, form=form, dealer=dealer)


# ------------------------------------------------------------------ contacts, ship-to addresses, notes (overview)


def _back(dealer: Dealer, anchor: str):
    return redirect(url_for("dealers.dealer_detail", code=dealer.code, _anchor=anchor))


def _contact_data(form: ContactForm) -> dict:
    return {f: getattr(form, f).data for f in ("role", "name", "phone", "email")}


def _address_data(form: AddressForm) -> dict:
    data = {f: getattr(form, f).data for f in ("label", "recipient", "phone", "address")}
    data["is_default"] = bool(form.is_default.data)
    return data


@bp.route("/dealers/<code>/contacts", methods=["POST"])
@requires("dealers.read")
@tenant_route("dealer")
def contact_add(code):
    dealer = dealer_or_404(code)
    form = ContactForm(prefix="contact")
    if form.validate_on_submit():
        try:
            services.add_contact(current_user, dealer, _contact_data(form))
        except Invalid as exc:
            apply_errors(form, exc)
        else:
            flash(_("Contact added."), "success")
            return _back(dealer, "contacts")
    elif not services.may_edit_contacts(current_user, dealer):
        raise Forbidden()
    return _overview_page(dealer, forms={"contact": form}, status=422)


@bp.route("/dealers/<code>/contacts/<int:contact_id>/edit", methods=["GET", "POST"])
@requires("dealers.read")
@tenant_route("dealer")
def contact_edit(code, contact_id):
    dealer = dealer_or_404(code)
    contact = services.contact_of(dealer, contact_id)
    if not services.may_edit_contacts(current_user, dealer):
        raise Forbidden()
    form = ContactForm(obj=contact)
    if form.validate_on_submit():
        try:
            services.update_contact(current_user, dealer, contact, _contact_data(form))
        except Invalid as exc:
            apply_errors(form, exc)
        else:
            flash(_("Contact saved."), "success")
            return _back(dealer, "contacts")
    return render_form("dealers/contact_form.html", form, form=form, dealer=dealer, contact=contact)


@bp.route("/dealers/<code>/contacts/<int:contact_id>/delete", methods=["POST"])
@requires("dealers.read")
@tenant_route("dealer")
def contact_delete(code, contact_id):
    dealer = dealer_or_404(code)
    contact = services.contact_of(dealer, contact_id)
    services.remove_contact(current_user, dealer, contact)
    flash(_("Contact removed."), "success")
    return _back(dealer, "contacts")


@bp.route("/dealers/<code>/addresses", methods=["POST"])
@requires("dealers.read")
@tenant_route("dealer")
def address_add(code):
    dealer = dealer_or_404(code)
    form = AddressForm(prefix="address")
    if form.validate_on_submit():
        try:
            services.add_address(current_user, dealer, _address_data(form))
        except Invalid as exc:
            apply_errors(form, exc)
        else:
            flash(_("Ship-to address added."), "success")
            return _back(dealer, "addresses")
    elif not services.may_edit_contacts(current_user, dealer):
        raise Forbidden()
    return _overview_page(dealer, forms={"address": form}, status=422)


@bp.route("/dealers/<code>/addresses/<int:address_id>/edit", methods=["GET", "POST"])
@requires("dealers.read")
@tenant_route("dealer")
def address_edit(code, address_id):
    dealer = dealer_or_404(code)
    address = services.address_of(dealer, address_id)
    if not services.may_edit_contacts(current_user, dealer):
        raise Forbidden()
    form = AddressForm(obj=address)
    if form.validate_on_submit():
        data = _address_data(form)
        if not data["is_default"]:
            data.pop("is_default")  # an unticked box changes nothing: another address is made the default instead
        try:
            services.update_address(current_user, dealer, address, data)
        except Invalid as exc:
            apply_errors(form, exc)
        else:
            flash(_("Ship-to address saved."), "success")
            return _back(dealer, "addresses")
    return render_form("dealers/address_form.html", form, form=form, dealer=dealer, address=address)


@bp.route("/dealers/<code>/addresses/<int:address_id>/default", methods=["POST"])
@requires("dealers.read")
@tenant_route("dealer")
def address_default(code, address_id):
    dealer = dealer_or_404(code)
    address = services.address_of(dealer, address_id)
    services.update_address(current_user, dealer, address, {"is_default": True})
    flash(_("Default ship-to address: %(label)s.", label=address.label), "success")
    return _back(dealer, "addresses")


@bp.route("/dealers/<code>/addresses/<int:address_id>/delete", methods=["POST"])
@requires("dealers.read")
@tenant_route("dealer")
def address_delete(code, address_id):
    dealer = dealer_or_404(code)
    address = services.address_of(dealer, address_id)
    services.remove_address(current_user, dealer, address)
    flash(_("Ship-to address removed."), "success")
    return _back(dealer, "addresses")


@bp.route("/dealers/<code>/notes", methods=["POST"])
@requires("dealers.read")
@tenant_route("dealer")
def note_add(code):
    dealer = dealer_or_404(code)
    if not services.may_read_notes(current_user):
        raise Forbidden()
    form = NoteForm(prefix="note")
    if form.validate_on_submit():
        try:
            services.add_note(current_user, dealer, {"body": form.body.data})
        except Invalid as exc:
            apply_errors(form, exc)
        else:
            flash(_("Note added."), "success")
            return _back(dealer, "notes")
    return _overview_page(dealer, forms={"note": form}, status=422)


# ------------------------------------------------------------------ users

USER_FILTERS = ("q", "role", "dealer")


@bp.route("/users")
@requires("users.read")
def users():
    filters = {k: request.args.get(k) or None for k in USER_FILTERS}
    stmt = services.users_query(current_scope(), **filters)
    if request.args.get("format") == "csv":
        rows = query_rows(stmt, scalars=True)  # read in chunks while the file is sent
        return csv_response(
            "users.csv",
            ["username", "name", "role", "dealer_code", "region_code", "locale", "active"],
            (
                [
                    u.username,
                    u.display_name,
                    u.role,
                    u.dealer.code if u.dealer else "",
                    u.region.code if u.region else "",
                    u.locale,
                    u.active,
                ]
                for u in rows
            ),
        )
    by_dealer = not current_user.dealer_id or bool(current_scope().sub_dealer_ids)  # HQ, regions, distributors
    return render_template("dealers/users.html", page=list_page(stmt), filters=filters, ROLE_LABELS=ROLE_LABELS,
                           filters_dealer=by_dealer)  # fmt: skip


def _chooses_dealer() -> bool:
    """Whether the user form offers a dealer: to HQ, and to a distributor's admin (its own dealer or one of its
    sub-dealers, §16); any other dealer admin's users are its own dealer's."""
    return current_user.role != "dealer_admin" or bool(current_scope().sub_dealer_ids)


def _user_form(form: UserForm) -> UserForm:
    scope = current_scope()
    dealers = db.session.execute(scope.select(Dealer).order_by(Dealer.code)).unique().scalars()
    blank = [] if current_user.role == "dealer_admin" else [("", "—")]
    form.dealer_code.choices = as_choices(blank + [(d.code, f"{d.code} {d.name}") for d in dealers])
    form.region_code.choices = as_choices(_region_choices() if can("regions.read") else [("", "—")])
    if current_user.role == "dealer_admin":
        form.role.choices = as_choices((r, ROLE_LABELS[r]) for r in ("dealer_staff", "dealer_admin"))
    return form


def _user_form_data(form: UserForm) -> dict:
    data = {f: getattr(form, f).data for f in ("display_name", "email", "role", "locale", "active")}
    data["dealer_code"] = form.dealer_code.data or None
    data["region_code"] = form.region_code.data or None
    if current_user.role == "dealer_admin":
        data["region_code"] = None
        if not _chooses_dealer() or not data["dealer_code"]:
            data["dealer_code"] = current_user.dealer.code
    if form.password.data:
        data["password"] = form.password.data
    return data


@bp.route("/users/new", methods=["GET", "POST"])
@requires("users.write")
def user_new():
    form = _user_form(UserForm())
    if request.method == "GET" and request.args.get("dealer"):
        form.dealer_code.data = request.args["dealer"]  # from a dealer's overview ("Add a user")
    elif request.method == "GET" and current_user.role == "dealer_admin":
        form.dealer_code.data = current_user.dealer.code
    if form.validate_on_submit():
        data = _user_form_data(form)
        try:
            if not form.password.data:
                raise Invalid(fields={"password": [_("A new user needs a password.")]})
            user = services.create_user(current_user, {"username": form.username.data, **data})
        except Invalid as exc:
            apply_errors(form, exc)
        else:
            flash(_("User %(name)s created.", name=user.username), "success")
            return redirect(url_for("dealers.user_detail", username=user.username))
    return render_form("dealers/user_form.html", form, form=form, user=None, chooses_dealer=_chooses_dealer())


@bp.route("/users/<username>")
@requires("users.read")
@tenant_route("user")
def user_detail(username):
    user = current_scope().get_or_404(User, username=username)
    return render_template("dealers/user_detail.html", user=user)


@bp.route("/users/<username>/edit", methods=["GET", "POST"])
@requires("users.write")
@tenant_route("user")
def user_edit(username):
    user = current_scope().get_or_404(User, username=username)
    form = _user_form(UserForm(obj=user))
    if request.method == "GET":
        form.dealer_code.data = user.dealer.code if user.dealer else ""
        form.region_code.data = user.region.code if user.region else ""
    form.username.data = user.username
    if form.validate_on_submit():
        try:
            services.update_user(current_user, user, _user_form_data(form))
        except Invalid as exc:
            apply_errors(form, exc)
        else:
            flash(_("User %(name)s saved.", name=user.username), "success")
            return redirect(url_for("dealers.user_detail", username=user.username))
    return render_form("dealers/user_form.html", form, form=form, user=user, chooses_dealer=_chooses_dealer())


# ------------------------------------------------------------------ own account


@bp.route("/account", methods=["GET", "POST"])
@requires("account.manage")
def account():
    pw_form = PasswordForm(prefix="pw")
    lang_form = LocaleForm(prefix="lang", locale=current_user.locale)
    if request.method == "POST" and request.form.get("action") == "password" and pw_form.validate_on_submit():
        try:
            services.change_own_password(current_user, pw_form.current_password.data, pw_form.password.data)
        except Invalid as exc:
            apply_errors(pw_form, exc)
        else:
            login_user(current_user._get_current_object())  # keep this session: its id carries the new password stamp
            flash(_("Your password has been changed; other sessions are logged out."), "success")
            return redirect(url_for("dealers.account"))
    if request.method == "POST" and request.form.get("action") == "locale" and lang_form.validate_on_submit():
        services.set_own_locale(current_user, lang_form.locale.data)
        flash(_("Language saved."), "success")
        return redirect(url_for("dealers.account"))
    return render_form("dealers/account.html", pw_form, lang_form, pw_form=pw_form, lang_form=lang_form)
