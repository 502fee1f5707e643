"""Browser pages: login, regions, dealers, users and the user's own account."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from sqlalchemy import func, select

from portal.dealers import services
from portal.dealers.forms import DealerForm, LocaleForm, LoginForm, PasswordForm, RegionForm, UserForm
from portal.dealers.models import Dealer, Region, User
from portal.extensions import db
from portal.platform.auth import can, requires
from portal.platform.errors import Invalid, Throttled
from portal.platform.money import parse_money
from portal.platform.tenancy import current_scope, dealer_or_404, not_tenant_route, tenant_route
from portal.platform.uow import commit
from portal.platform.web import (
    CHANNEL_TYPE_LABELS,
    ROLE_LABELS,
    STATUS_LABELS,
    apply_errors,
    as_choices,
    csv_response,
    list_page,
    render_form,
)

bp = Blueprint("dealers", __name__)
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
            ([r.code, r.name, r.parent.code if r.parent else "", r.path, r.approval_limit] for r in items),
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

DEALER_FILTERS = ("q", "region", "tier", "channel_type", "status")


@bp.route("/dealers")
@requires("dealers.read")
def dealers():
    filters = {k: request.args.get(k) or None for k in DEALER_FILTERS}
    stmt = services.dealers_query(current_scope(), **filters)
    if request.args.get("format") == "csv":
        rows = db.session.execute(stmt).unique().scalars()
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
                ]
                for d in rows
            ),
        )
    return render_template(
        "dealers/dealers.html",
        page=list_page(stmt),
        filters=filters,
        region_choices=_region_choices() if can("regions.read") else [],
        CHANNEL_TYPE_LABELS=CHANNEL_TYPE_LABELS,
        STATUS_LABELS=STATUS_LABELS,
    )


def _dealer_form(form: DealerForm) -> DealerForm:
    form.region_code.choices = as_choices(_region_choices(blank=False))
    return form


def _dealer_form_data(form: DealerForm) -> dict:
    return {f: getattr(form, f).data for f in services.DEALER_FIELDS if f != "code"}


@bp.route("/dealers/new", methods=["GET", "POST"])
@requires("dealers.write")
def dealer_new():
    form = _dealer_form(DealerForm())
    if form.validate_on_submit():
        try:
            dealer = services.create_dealer(current_user, {"code": form.code.data, **_dealer_form_data(form)})
        except Invalid as exc:
            apply_errors(form, exc)
        else:
            flash(_("Dealer %(code)s created.", code=dealer.code), "success")
            return redirect(url_for("dealers.dealer_detail", code=dealer.code))
    return render_form("dealers/dealer_form.html", form, form=form, dealer=None)


@bp.route("/dealers/<code>")
@requires("dealers.read")
@tenant_route("dealer")
def dealer_detail(code):
    dealer = dealer_or_404(code)
    users = []
    if can("users.read"):
        users = (
            db.session.execute(current_scope().select(User).where(User.dealer_id == dealer.id).order_by(User.username))
            .unique()
            .scalars()
            .all()
        )
    return render_template("dealers/dealer_detail.html", dealer=dealer, users=users)


@bp.route("/dealers/<code>/edit", methods=["GET", "POST"])
@requires("dealers.write")
@tenant_route("dealer")
def dealer_edit(code):
    dealer = dealer_or_404(code)
    form = _dealer_form(DealerForm(obj=dealer))
    if request.method == "GET":
        form.region_code.data = dealer.region.code
    form.code.data = dealer.code
    if form.validate_on_submit():
        try:
            services.update_dealer(current_user, dealer, _dealer_form_data(form))
        except Invalid as exc:
            apply_errors(form, exc)
        else:
            flash(_("Dealer %(code)s saved.", code=dealer.code), "success")
            return redirect(url_for("dealers.dealer_detail", code=dealer.code))
    return render_form("dealers/dealer_form.html", form, form=form, dealer=dealer)


# ------------------------------------------------------------------ users

USER_FILTERS = ("q", "role", "dealer")


@bp.route("/users")
@requires("users.read")
def users():
    filters = {k: request.args.get(k) or None for k in USER_FILTERS}
    stmt = services.users_query(current_scope(), **filters)
    if request.args.get("format") == "csv":
        rows = db.session.execute(stmt).unique().scalars()
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
    return render_template("dealers/users.html", page=list_page(stmt), filters=filters, ROLE_LABELS=ROLE_LABELS)


def _user_form(form: UserForm) -> UserForm:
    scope = current_scope()
    dealers = db.session.execute(scope.select(Dealer).order_by(Dealer.code)).unique().scalars()
    form.dealer_code.choices = as_choices([("", "—")] + [(d.code, f"{d.code} {d.name}") for d in dealers])
    form.region_code.choices = as_choices(_region_choices() if can("regions.read") else [("", "—")])
    if current_user.role == "dealer_admin":
        form.role.choices = as_choices((r, ROLE_LABELS[r]) for r in ("dealer_staff", "dealer_admin"))
    return form


def _user_form_data(form: UserForm) -> dict:
    data = {f: getattr(form, f).data for f in ("display_name", "email", "role", "locale", "active")}
    data["dealer_code"] = form.dealer_code.data or None
    data["region_code"] = form.region_code.data or None
    if current_user.role == "dealer_admin":
        data["dealer_code"] = current_user.dealer.code
    if form.password.data:
        data["password"] = form.password.data
    return data


@bp.route("/users/new", methods=["GET", "POST"])
@requires("users.write")
def user_new():
    form = _user_form(UserForm())
    if request.method == "GET" and current_user.role == "dealer_admin":
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
    return render_form("dealers/user_form.html", form, form=form, user=None)


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
    return render_form("dealers/user_form.html", form, form=form, user=user)


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
