"""Regions, dealers and users: the rules. Services flush, never commit; they take the actor explicitly."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from portal.audit.services import record, snapshot
from portal.dealers.models import (
    CHANNEL_TYPES,
    DEALER_ROLES,
    DEALER_STATUSES,
    LOCALES,
    ROLES,
    TIERS,
    Dealer,
    LoginThrottle,
    Region,
    User,
)
from portal.extensions import db
from portal.platform.errors import Conflict, Invalid, Throttled
from portal.platform.money import ZERO
from portal.platform.tenancy import Scope
from portal.platform.timeutil import utcnow

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")
MIN_PASSWORD = 10
# Passwords of 10+ characters that lead the published leak lists (English and Chinese users alike), compared without
# case: a password that passes the other rules but that a guessing attack tries first.
_COMMON = """
    password123 password1! password12 password1234 passw0rd123 p@ssw0rd123 p@ssword123 password@123 password#123
    qwerty1234 qwerty12345 qwerty123456 qwertyuiop1 qwertyuiop123 1qaz2wsx3edc 1q2w3e4r5t 1q2w3e4r5t6y zaq12wsx3edc
    abc1234567 abcd123456 abcd1234567 abc123456789 a123456789 a1234567890 aa123456789 aa12345678 qq123456789
    admin12345 admin123456 admin@1234 admin@12345 administrator1 welcome123 welcome1234 welcome@123 iloveyou123
    iloveyou1314 woaini1314 woaini520 woaini5201314 5201314abc changeme123 letmein123 sunshine123 football123
    monkey12345 dragon12345 master12345 superman123 baseball123 princess123 trustno1234 computer123 internet123
    test123456 test1234567 testtest123 12345abcde 123456abcd 123456qwerty 123qweasdzxc qweasdzxc123 zxcvbnm123
    asdfghjkl123 1234qwer1234 qwer1234qwer drp-pass-2026 portal12345 portal@2026 dealer12345 dealer@2026
"""
COMMON_PASSWORDS = frozenset(_COMMON.split())

DEALER_FIELDS = (
    "code",
    "name",
    "region_code",
    "tier",
    "channel_type",
    "payment_terms_days",
    "status",
    "contact_name",
    "contact_phone",
    "contact_email",
    "address",
)


# ---------------------------------------------------------------- regions


def _region_snapshot(region: Region) -> dict:
    snap = snapshot(region, ("code", "name", "approval_limit"))
    snap["parent_code"] = region.parent.code if region.parent else None
    return snap


def region_by_code(code: str, field: str = "region_code") -> Region:
    region = db.session.execute(select(Region).filter_by(code=code)).unique().scalar_one_or_none()
    if region is None:
        raise Invalid(fields={field: [_("Unknown region %(code)s.", code=code)]})
    return region


def create_region(actor, data: dict) -> Region:
    code = data["code"].strip()
    if not CODE_RE.match(code):
        raise Invalid(fields={"code": [_("Letters, digits, '-' and '_' only (at most 32).")]})
    existing = db.session.execute(select(Region.code).filter_by(code=code)).scalar_one_or_none()  # in any case
    if existing is not None:
        raise Invalid(fields={"code": [_("Region %(code)s already exists.", code=existing)]})
    parent = region_by_code(data["parent_code"], "parent_code") if data.get("parent_code") else None
    region = Region(
        code=code,
        name=data["name"].strip(),
        parent=parent,
        path=(parent.path if parent else "/") + code + "/",
        approval_limit=data.get("approval_limit") or ZERO,
    )
    db.session.add(region)
    db.session.flush()
    record(actor, "region.create", "region", code, after=_region_snapshot(region))
    return region


def update_region(actor, region: Region, data: dict) -> Region:
    before = _region_snapshot(region)
    if "name" in data:
        region.name = data["name"].strip()
    if "approval_limit" in data:
        region.approval_limit = data["approval_limit"]
    if "parent_code" in data and data["parent_code"] != before["parent_code"]:
        new_parent = region_by_code(data["parent_code"], "parent_code") if data["parent_code"] else None
        if new_parent is not None and new_parent.path.startswith(region.path):
            raise Invalid(fields={"parent_code": [_("A region cannot move under itself or its own sub-region.")]})
        old_path = region.path
        new_path = (new_parent.path if new_parent else "/") + region.code + "/"
        region.parent = new_parent
        for node in (
            db.session.execute(select(Region).where(Region.path.startswith(old_path, autoescape=True)))
            .unique()
            .scalars()
        ):
            node.path = new_path + node.path[len(old_path) :]
    db.session.flush()
    record(actor, "region.update", "region", region.code, before=before, after=_region_snapshot(region))
    return region


# ---------------------------------------------------------------- dealers


def _dealer_snapshot(dealer: Dealer) -> dict:
    snap = snapshot(dealer, tuple(f for f in DEALER_FIELDS if f != "region_code"))
    snap["region_code"] = dealer.region.code if dealer.region else None
    return snap


def _check_dealer_values(data: dict) -> None:
    errors: dict[str, list[str]] = {}
    if "tier" in data and data["tier"] not in TIERS:
        errors["tier"] = [_("One of %(choices)s.", choices=", ".join(TIERS))]
    if "channel_type" in data and data["channel_type"] not in CHANNEL_TYPES:
        errors["channel_type"] = [_("One of %(choices)s.", choices=", ".join(CHANNEL_TYPES))]
    if "status" in data and data["status"] not in DEALER_STATUSES:
        errors["status"] = [_("One of %(choices)s.", choices=", ".join(DEALER_STATUSES))]
    if "payment_terms_days" in data and not (0 <= int(data["payment_terms_days"]) <= 365):
        errors["payment_terms_days"] = [_("Between 0 and 365 days.")]
    if errors:
        raise Invalid(fields=errors)


def create_dealer(actor, data: dict) -> Dealer:
    code = data["code"].strip()
    if not CODE_RE.match(code):
        raise Invalid(fields={"code": [_("Letters, digits, '-' and '_' only (at most 32).")]})
    _check_dealer_values(data)
    existing = db.session.execute(select(Dealer.code).filter_by(code=code)).scalar_one_or_none()  # in any case
    if existing is not None:
        raise Invalid(fields={"code": [_("Dealer %(code)s already exists.", code=existing)]})
    region = region_by_code(data["region_code"])
    dealer = Dealer(
        code=code,
        name=data["name"].strip(),
        region=region,
        tier=data["tier"],
        channel_type=data["channel_type"],
        payment_terms_days=data.get("payment_terms_days", 30),
        status=data.get("status", "active"),
        **{f: (data.get(f) or None) for f in ("contact_name", "contact_phone", "contact_email", "address")},
    )
    db.session.add(dealer)
    db.session.flush()
    record(actor, "dealer.create", "dealer", code, after=_dealer_snapshot(dealer), dealer_id=dealer.id)
    return dealer


def update_dealer(actor, dealer: Dealer, data: dict) -> Dealer:
    if "code" in data and data["code"] != dealer.code:
        raise Invalid(fields={"code": [_("A dealer's code cannot change.")]})
    _check_dealer_values(data)
    before = _dealer_snapshot(dealer)
    if "region_code" in data:
        dealer.region = region_by_code(data["region_code"])
    for f in (
        "name",
        "tier",
        "channel_type",
        "payment_terms_days",
        "status",
        "contact_name",
        "contact_phone",
        "contact_email",
        "address",
    ):
        if f in data:
            value = data[f]
            setattr(
                dealer,
                f,
                value.strip() or None if isinstance(value, str) and f.startswith(("contact", "addr")) else value,
            )
    db.session.flush()
    record(
        actor,
        "dealer.update",
        "dealer",
        dealer.code,
        before=before,
        after=_dealer_snapshot(dealer),
        dealer_id=dealer.id,
    )
    return dealer


def dealer_by_code(code: str, field: str = "dealer_code") -> Dealer:
    dealer = db.session.execute(select(Dealer).filter_by(code=code)).unique().scalar_one_or_none()
    if dealer is None:
        raise Invalid(fields={field: [_("Unknown dealer %(code)s.", code=code)]})
    return dealer


# ---------------------------------------------------------------- users


def _user_snapshot(user: User) -> dict:
    snap = snapshot(user, ("username", "display_name", "email", "role", "locale", "active"))
    snap["dealer_code"] = user.dealer.code if user.dealer else None
    snap["region_code"] = user.region.code if user.region else None
    return snap


def check_password_policy(password: str, username: str = "") -> None:
    problems = []
    if len(password) < MIN_PASSWORD:
        problems.append(_("At least %(n)s characters.", n=MIN_PASSWORD))
    if password.isdigit() or password.isalpha():
        problems.append(_("Mix letters with digits or symbols."))
    if username and username.lower() in password.lower():
        problems.append(_("Must not contain the username."))
    if password.lower() in COMMON_PASSWORDS:
        problems.append(_("This password is too common; choose one that is harder to guess."))
    if problems:
        raise Invalid(fields={"password": problems})


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def _attachment(data: dict) -> tuple[Dealer | None, object]:
    role = data["role"]
    dealer = region = None
    errors = {}
    if role in DEALER_ROLES:
        if not data.get("dealer_code"):
            errors["dealer_code"] = [_("Required for a dealer role.")]
        else:
            dealer = dealer_by_code(data["dealer_code"])
    elif data.get("dealer_code"):
        errors["dealer_code"] = [_("Only dealer roles belong to a dealer.")]
    if role == "region_manager":
        if not data.get("region_code"):
            errors["region_code"] = [_("Required for a region manager.")]
        else:
            region = region_by_code(data["region_code"])
    elif data.get("region_code"):
        errors["region_code"] = [_("Only region managers belong to a region.")]
    if errors:
        raise Invalid(fields=errors)
    return dealer, region


def _guard_dealer_admin(actor, role: str, dealer: Dealer | None) -> None:
    """A dealer_admin manages its own dealer's users only, and cannot create HQ or region users."""
    if getattr(actor, "role", None) == "dealer_admin":
        if role not in DEALER_ROLES:
            raise Invalid(fields={"role": [_("A dealer administrator creates dealer users only.")]})
        if dealer is None or dealer.id != actor.dealer_id:
            raise Invalid(fields={"dealer_code": [_("Your own dealer only.")]})


def create_user(actor, data: dict) -> User:
    username = data["username"].strip()
    if not USERNAME_RE.match(username):
        raise Invalid(fields={"username": [_("2-64 letters, digits, '.', '-' or '_'.")]})
    if data["role"] not in ROLES:
        raise Invalid(fields={"role": [_("One of %(choices)s.", choices=", ".join(ROLES))]})
    if getattr(actor, "role", None) == "dealer_admin" and not data.get("dealer_code"):
        data = {**data, "dealer_code": actor.dealer.code}
    dealer, region = _attachment(data)
    _guard_dealer_admin(actor, data["role"], dealer)
    if data.get("locale", "zh_CN") not in LOCALES:
        raise Invalid(fields={"locale": [_("One of %(choices)s.", choices=", ".join(LOCALES))]})
    check_password_policy(data["password"], username)
    if db.session.execute(select(User.id).where(func.lower(User.username) == username.lower())).first():
        raise Invalid(fields={"username": [_("User %(name)s already exists.", name=username)]})
    user = User(
        username=username,
        display_name=data.get("display_name") or None,
        email=data.get("email") or None,
        password_hash=hash_password(data["password"]),
        role=data["role"],
        dealer=dealer,
        region=region,
        locale=data.get("locale", "zh_CN"),
        active=data.get("active", True),
    )
    db.session.add(user)
    db.session.flush()
    record(actor, "user.create", "user", username, after=_user_snapshot(user), dealer_id=user.dealer_id)
    return user


def update_user(actor, user: User, data: dict) -> User:
    """Change role, attachment, names, locale, active; `password` (if given) sets a new password."""
    if "username" in data and data["username"] != user.username:
        raise Invalid(fields={"username": [_("A username cannot change.")]})
    before = _user_snapshot(user)
    merged = {
        "role": data.get("role", user.role),
        "dealer_code": data.get("dealer_code", before["dealer_code"]),
        "region_code": data.get("region_code", before["region_code"]),
    }
    if merged["role"] not in ROLES:
        raise Invalid(fields={"role": [_("One of %(choices)s.", choices=", ".join(ROLES))]})
    if "role" in data and data["role"] not in DEALER_ROLES:
        merged["dealer_code"] = data.get("dealer_code")
    if "role" in data and data["role"] != "region_manager":
        merged["region_code"] = data.get("region_code")
    dealer, region = _attachment(merged)
    _guard_dealer_admin(actor, merged["role"], dealer)
    if getattr(actor, "id", None) == user.id and (merged["role"] != user.role or data.get("active") is False):
        raise Invalid(fields={"role": [_("You cannot change your own role or deactivate yourself.")]})
    if data.get("locale", user.locale) not in LOCALES:
        raise Invalid(fields={"locale": [_("One of %(choices)s.", choices=", ".join(LOCALES))]})
    user.role, user.dealer, user.region = merged["role"], dealer, region
    for f in ("display_name", "email", "locale", "active"):
        if f in data:
            setattr(user, f, data[f] if data[f] != "" else None)
    if data.get("password"):
        check_password_policy(data["password"], user.username)
        user.password_hash = hash_password(data["password"])
        user.password_changed_at = utcnow()
        user.rotate_session_key()
    db.session.flush()
    after = _user_snapshot(user)
    if data.get("password"):
        before["password"], after["password"] = "(old)", "(reset)"
    record(actor, "user.update", "user", user.username, before=before, after=after, dealer_id=user.dealer_id)
    return user


def change_own_password(user: User, current: str, new: str) -> None:
    if not check_password_hash(user.password_hash, current):
        raise Invalid(fields={"current_password": [_("The current password is wrong.")]})
    check_password_policy(new, user.username)
    if check_password_hash(user.password_hash, new):
        raise Invalid(fields={"password": [_("Choose a password different from the current one.")]})
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    user.rotate_session_key()
    db.session.flush()
    record(user, "user.password", "user", user.username, dealer_id=user.dealer_id)


def set_own_locale(user: User, locale: str) -> None:
    if locale not in LOCALES:
        raise Invalid(fields={"locale": [_("One of %(choices)s.", choices=", ".join(LOCALES))]})
    before = {"locale": user.locale}
    user.locale = locale
    db.session.flush()
    record(
        user, "user.locale", "user", user.username, before=before, after={"locale": locale}, dealer_id=user.dealer_id
    )


# ---------------------------------------------------------------- authentication


def throttle_key(username: str, address: str | None) -> str:
    """The login_throttle row of one username (case-insensitive, known or not) tried from one client address:
    a SHA-256 hex digest, so any username and an IPv6 address fit the 64-character key and the table lists no names."""
    raw = f"{(username or '').strip().lower()}\n{address or '-'}"
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def authenticate(username: str, password: str, address: str | None = None) -> User:
    """Check a password, with throttling per username and client address: after N failures within the window
    (PORTAL_LOGIN_MAX_FAILURES, PORTAL_LOGIN_LOCK_MINUTES) that pair is locked for the window, even for the right
    password; another address is not locked (so nobody locks a user out from elsewhere), and a success clears it.

    Raises Throttled while locked and LoginFailed otherwise; the caller commits after LoginFailed so the failure
    counts although the answer is an error. The counter is a database row updated in one statement, so it holds
    across gunicorn workers and concurrent attempts (on SQLite and PostgreSQL alike).
    """
    cfg = current_app.config
    key = throttle_key(username, address)
    now = utcnow()
    throttle = db.session.get(LoginThrottle, key)
    if throttle and throttle.locked_until and throttle.locked_until > now:
        minutes = max(1, int((throttle.locked_until - now).total_seconds() // 60) + 1)
        raise Throttled(_("Too many failed logins; try again in %(n)s minutes.", n=minutes), code="login_throttled")
    name = (username or "").strip().lower()
    user = db.session.execute(select(User).where(func.lower(User.username) == name)).unique().scalar_one_or_none()
    if user is None or not user.active or not check_password_hash(user.password_hash, password or ""):
        window = dt.timedelta(minutes=cfg["PORTAL_LOGIN_LOCK_MINUTES"])
        _count_failure(key, now, window, cfg["PORTAL_LOGIN_MAX_FAILURES"])
        raise LoginFailed()
    if throttle is not None:
        db.session.delete(throttle)
        db.session.flush()
    return user


def _count_failure(key: str, now: dt.datetime, window: dt.timedelta, limit: int) -> None:
    """One more failure for the key, in one UPDATE (a new window when the last one is over; locked at the limit),
    or a new row; a row inserted by a concurrent attempt in between is updated instead."""
    stale = LoginThrottle.window_started_at < now - window
    failures = case((stale, 1), else_=LoginThrottle.failures + 1)
    stmt = (
        update(LoginThrottle)
        .where(LoginThrottle.username == key)
        .values(
            failures=failures,
            window_started_at=case((stale, now), else_=LoginThrottle.window_started_at),
            locked_until=case((failures >= limit, now + window), (stale, None), else_=LoginThrottle.locked_until),
        )
        .execution_options(synchronize_session=False)
    )
    for _attempt in range(2):
        if db.session.execute(stmt).rowcount:
            break
        try:
            with db.session.begin_nested():
                locked = now + window if limit <= 1 else None
                db.session.add(LoginThrottle(username=key, failures=1, window_started_at=now, locked_until=locked))
            break
        except IntegrityError:
            continue  # inserted meanwhile by a concurrent attempt: count on that row


class LoginFailed(Conflict):
    """Wrong username or password."""

    status = 401
    code = "invalid_credentials"

    def __init__(self):
        super().__init__(str(_l("Wrong username or password.")))


# ---------------------------------------------------------------- list queries (UI and API share them)


def regions_query(scope: Scope, under: str | None = None):
    stmt = scope.select(Region).order_by(Region.path)
    if under:
        root = db.session.execute(scope.select(Region).filter_by(code=under)).unique().scalar_one_or_none()
        stmt = stmt.where(Region.path.startswith(root.path, autoescape=True)) if root else stmt.where(False)
    return stmt


def dealers_query(
    scope: Scope,
    *,
    q: str | None = None,
    region: str | None = None,
    tier: str | None = None,
    channel_type: str | None = None,
    status: str | None = None,
):
    stmt = scope.select(Dealer).order_by(Dealer.code)
    if q:
        like = f"%{q.strip().lower()}%"
        stmt = stmt.where(func.lower(Dealer.code).like(like) | func.lower(Dealer.name).like(like))
    if region:
        root = db.session.execute(select(Region).filter_by(code=region)).unique().scalar_one_or_none()
        subtree = select(Region.id).where(Region.path.startswith(root.path, autoescape=True)) if root else None
        stmt = stmt.where(Dealer.region_id.in_(subtree)) if subtree is not None else stmt.where(False)
    for column, value in ((Dealer.tier, tier), (Dealer.channel_type, channel_type), (Dealer.status, status)):
        if value:
            stmt = stmt.where(column == value)
    return stmt


def users_query(scope: Scope, *, q: str | None = None, role: str | None = None, dealer: str | None = None):
    stmt = scope.select(User).order_by(User.username)
    if q:
        like = f"%{q.strip().lower()}%"
        stmt = stmt.where(func.lower(User.username).like(like) | func.lower(User.display_name).like(like))
    if role:
        stmt = stmt.where(User.role == role)
    if dealer:
        stmt = stmt.where(User.dealer_id.in_(select(Dealer.id).where(Dealer.code == dealer)))
    return stmt
