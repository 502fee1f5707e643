"""Regions, dealers and users: the rules. Services flush, never commit; they take the actor explicitly."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from decimal import Decimal

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from portal.audit.services import record, snapshot
from portal.dealers.channel import is_seller_admin
from portal.dealers.models import (
    CHANNEL_TYPES,
    CONTACT_ROLES,
    DEALER_ROLES,
    DEALER_STATUSES,
    LOCALES,
    ROLES,
    TIERS,
    Dealer,
    DealerAddress,
    DealerContact,
    DealerNote,
    LoginThrottle,
    Region,
    User,
)
from portal.extensions import db
from portal.platform.errors import Conflict, Forbidden, Invalid, Throttled
from portal.platform.money import ZERO, money
from portal.platform.tenancy import Scope, sub_dealers_of
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
    snap["account_manager"] = dealer.account_manager.username if dealer.account_manager else None
    if dealer.parent_id is not None:  # said only for a sub-dealer (a dealer's entries stay as they were)
        snap["parent_code"] = dealer.parent.code
    return snap


ACCOUNT_MANAGER_ROLES = ("channel_manager", "region_manager")


def account_manager_choices(dealer: Dealer | None = None) -> list[User]:
    """Who may look after a dealer: active channel managers, and region managers of the dealer's region or of a
    region above it (all region managers for a dealer not created yet)."""
    stmt = select(User).where(User.role.in_(ACCOUNT_MANAGER_ROLES), User.active.is_(True)).order_by(User.username)
    users = db.session.execute(stmt).unique().scalars().all()
    if dealer is None or dealer.region is None:
        return list(users)
    return [u for u in users if u.role == "channel_manager" or dealer.region.path.startswith(u.region.path)]


def _account_manager(value: str | None, region: Region | None, parent: Dealer | None = None) -> User | None:
    """The user named by `value` (a username; None or "" clears), checked: a channel manager, or a region manager
    whose region holds the dealer's. A sub-dealer (`parent` given) has none: it deals with its distributor, not with
    HQ (§16), and HQ's collections never chase it."""
    if value is None or not str(value).strip():
        return None
    if parent is not None:
        message = _("A sub-dealer deals with its distributor %(parent)s: it has no account manager at HQ.",
                    parent=parent.code)  # fmt: skip
        raise Invalid(fields={"account_manager": [message]})
    name = str(value).strip().lower()
    user = db.session.execute(select(User).where(func.lower(User.username) == name)).unique().scalar_one_or_none()
    if user is None or not user.active or user.role not in ACCOUNT_MANAGER_ROLES:
        raise Invalid(fields={"account_manager": [_("Choose an active channel manager or region manager.")]})
    if user.role == "region_manager" and region is not None and not region.path.startswith(user.region.path):
        raise Invalid(fields={"account_manager": [_("This region manager does not look after the dealer's region.")]})
    return user


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


def _actor_scope(actor) -> Scope:
    """The scope the actor reads through; the system itself (no actor: the CLI, the demo) sees every dealer."""
    return Scope("hq") if actor is None else Scope.for_principal(actor)


def _distributor(scope: Scope, code: str, region_code: str | None) -> Dealer:
    """The distributor a new sub-dealer buys from (§16), checked: in the caller's scope (else the words of an unknown
    dealer), buying from HQ itself (one level deep), active, and in the region given (a sub-dealer is in its
    distributor's region; none given: that one)."""
    code = (code or "").strip()
    parent = scope.first(Dealer, code=code) if code else None
    if parent is None:
        raise Invalid(fields={"parent_code": [_("Unknown dealer %(code)s.", code=code)]})
    if parent.parent_id is not None:
        message = _("%(code)s is itself a sub-dealer of %(parent)s: sub-dealers go one level deep only.",
                    code=parent.code, parent=parent.parent.code)  # fmt: skip
        raise Invalid(fields={"parent_code": [message]})
    if parent.status != "active":
        message = _("%(code)s is suspended: it cannot take on a sub-dealer.", code=parent.code)
        raise Invalid(fields={"parent_code": [message]})
    if region_code:
        region = region_by_code(region_code)
        if region.id != parent.region_id:
            message = _("A sub-dealer is in its distributor's region: %(parent)s is in %(parent_region)s, not in "
                        "%(region)s.", parent=parent.code, parent_region=parent.region.code,
                        region=region.code)  # fmt: skip
            raise Invalid(fields={"parent_code": [message], "region_code": [message]})
    return parent


def create_dealer(actor, data: dict, scope: Scope | None = None) -> Dealer:
    """A new dealer: one that buys from HQ, in `region_code`; or, given `parent_code`, a sub-dealer of that distributor
    (§16), in its region. Nothing is written when anything is refused."""
    code = data["code"].strip()
    if not CODE_RE.match(code):
        raise Invalid(fields={"code": [_("Letters, digits, '-' and '_' only (at most 32).")]})
    _check_dealer_values(data)
    existing = db.session.execute(select(Dealer.code).filter_by(code=code)).scalar_one_or_none()  # in any case
    if existing is not None:
        raise Invalid(fields={"code": [_("Dealer %(code)s already exists.", code=existing)]})
    parent = None
    if data.get("parent_code"):
        parent = _distributor(scope or _actor_scope(actor), data["parent_code"], data.get("region_code"))
        region = parent.region
    elif not data.get("region_code"):
        raise Invalid(fields={"region_code": [_("Required (a sub-dealer takes its distributor's region).")]})
    else:
        region = region_by_code(data["region_code"])
    dealer = Dealer(
        code=code,
        name=data["name"].strip(),
        region=region,
        parent=parent,
        tier=data["tier"],
        channel_type=data["channel_type"],
        payment_terms_days=data.get("payment_terms_days", 30),
        status=data.get("status", "active"),
        **{f: (data.get(f) or None) for f in ("contact_name", "contact_phone", "contact_email", "address")},
    )
    dealer.account_manager = _account_manager(data.get("account_manager"), region, parent)
    db.session.add(dealer)
    db.session.flush()
    after = _dealer_snapshot(dealer)
    if after["account_manager"] is None:
        del after["account_manager"]  # said only when there is one (the entry of a new dealer stays as it was)
    record(actor, "dealer.create", "dealer", code, after=after, dealer_id=dealer.id)
    return dealer


def _same_code(a: str | None, b: str | None) -> bool:
    return (a or "").strip().lower() == (b or "").strip().lower()


def update_dealer(actor, dealer: Dealer, data: dict) -> Dealer:
    """Change what `data` names. A dealer's distributor is fixed at creation (§16); a sub-dealer stays in its
    distributor's region, and a distributor moved to another region takes its sub-dealers along (each audited as a
    dealer update). Suspending a distributor is allowed: its sub-dealers stay, but cannot order from a suspended
    seller (the orders service checks it)."""
    if "code" in data and data["code"] != dealer.code:
        raise Invalid(fields={"code": [_("A dealer's code cannot change.")]})
    parent = dealer.parent
    if "parent_code" in data and not _same_code(data["parent_code"], parent.code if parent else None):
        message = _("A dealer's distributor is set when it is created and cannot change.")
        raise Invalid(fields={"parent_code": [message]})
    _check_dealer_values(data)
    before = _dealer_snapshot(dealer)
    moved = False
    if "region_code" in data:
        region = region_by_code(data["region_code"])
        if parent is not None and region.id != parent.region_id:
            message = _("A sub-dealer stays in its distributor's region (%(region)s): move %(parent)s instead.",
                        region=parent.region.code, parent=parent.code)  # fmt: skip
            raise Invalid(fields={"region_code": [message]})
        moved = region.id != dealer.region_id
        dealer.region = region
    if "account_manager" in data:
        dealer.account_manager = _account_manager(data["account_manager"], dealer.region, parent)
    elif (
        (manager := dealer.account_manager) is not None
        and manager.role == "region_manager"
        and not dealer.region.path.startswith(manager.region.path)
    ):
        dealer.account_manager = None  # moved out of the manager's region: nobody looks after it there yet
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
    if moved and parent is None:
        subs = select(Dealer).where(Dealer.parent_id == dealer.id).order_by(Dealer.code)
        for sub in db.session.execute(subs).unique().scalars().all():
            sub_before = _dealer_snapshot(sub)
            sub.region = dealer.region
            db.session.flush()
            record(actor, "dealer.update", "dealer", sub.code, before=sub_before, after=_dealer_snapshot(sub),
                   dealer_id=sub.id)  # fmt: skip
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


def _attachment(data: dict, actor=None) -> tuple[Dealer | None, object]:
    role = data["role"]
    dealer = region = None
    errors = {}
    if role in DEALER_ROLES:
        if not data.get("dealer_code"):
            errors["dealer_code"] = [_("Required for a dealer role.")]
        elif getattr(actor, "role", None) == "dealer_admin":
            # looked up in the admin's own scope: a dealer it does not see answers as one it may not use, so the
            # message never tells another dealer exists
            dealer = Scope.for_principal(actor).first(Dealer, code=data["dealer_code"].strip())
            if dealer is None:
                errors["dealer_code"] = [_own_dealers_message(actor)]
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


def _own_dealers_message(actor) -> str:
    if sub_dealers_of(actor.dealer_id):
        return _("Your own dealer or one of your sub-dealers only.")
    return _("Your own dealer only.")


def _guard_dealer_admin(actor, role: str, dealer: Dealer | None) -> None:
    """A dealer_admin manages the users of its own dealer and, for a distributor, of its sub-dealers (§16: what HQ
    does for its dealers' users, the distributor's admin does for its sub-dealers'), dealer roles only; never another
    dealer's, and a sub-dealer's admin never its distributor's or a sibling's."""
    if getattr(actor, "role", None) == "dealer_admin":
        if role not in DEALER_ROLES:
            raise Invalid(fields={"role": [_("A dealer administrator creates dealer users only.")]})
        if dealer is None or (dealer.id != actor.dealer_id and not is_seller_admin(actor, dealer)):
            raise Invalid(fields={"dealer_code": [_own_dealers_message(actor)]})


def create_user(actor, data: dict) -> User:
    username = data["username"].strip()
    if not USERNAME_RE.match(username):
        raise Invalid(fields={"username": [_("2-64 letters, digits, '.', '-' or '_'.")]})
    if data["role"] not in ROLES:
        raise Invalid(fields={"role": [_("One of %(choices)s.", choices=", ".join(ROLES))]})
    if getattr(actor, "role", None) == "dealer_admin" and not data.get("dealer_code"):
        data = {**data, "dealer_code": actor.dealer.code}
    dealer, region = _attachment(data, actor)
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
    dealer, region = _attachment(merged, actor)
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
    level: int | None = None,
    parent: str | None = None,
):
    """The dealers of the scope, filtered. `level` 1: those that buy from HQ (distributors among them), 2: sub-dealers
    (§16); `parent`: the sub-dealers of that distributor (a code the caller does not see lists nothing)."""
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
    if level in (1, 2):
        stmt = stmt.where(Dealer.parent_id.is_(None) if level == 1 else Dealer.parent_id.is_not(None))
    if parent:
        seller = db.session.execute(
            select(Dealer.id).where(scope.clause(Dealer), Dealer.code == parent.strip())
        ).scalar_one_or_none()
        stmt = stmt.where(Dealer.parent_id == seller) if seller is not None else stmt.where(False)
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


# ---------------------------------------------------------------- contacts, ship-to addresses, internal notes
#
# Who may change what (PRODUCT.md §12; the permission table has no entries of its own for these, so the rules are
# here, checked after the dealer was found in the caller's scope — an outsider gets 404 before any of this):
# - contacts and ship-to addresses: HQ's administrators and channel managers, and the dealer's own dealer_admin (for
#   a sub-dealer also its distributor's dealer_admin, §16); everyone who sees the dealer reads them;
# - internal notes: HQ and the dealer's region read and add them; dealer users never see that they exist.

CONTACT_EDITOR_ROLES = ("channel_manager", "hq_admin")
NOTE_ROLES = ("region_manager", "channel_manager", "finance", "hq_admin")
PHONE_RE = re.compile(r"^\+?[0-9][0-9 ()\-]{2,38}(?:(?:转|ext\.?|x)\s?[0-9]{1,6})?$", re.IGNORECASE)
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_NOTE = 2000


def may_edit_contacts(actor, dealer: Dealer) -> bool:
    """HQ's editors, the dealer's own admin, and for a sub-dealer its distributor's admin (who keeps its sub-dealers'
    records as HQ keeps its dealers', §16)."""
    role = getattr(actor, "role", None)
    if role == "dealer_admin":
        return actor.dealer_id == dealer.id or is_seller_admin(actor, dealer)
    return role in CONTACT_EDITOR_ROLES


def may_read_notes(actor) -> bool:
    return getattr(actor, "role", None) in NOTE_ROLES


def _must_edit_contacts(actor, dealer: Dealer) -> None:
    if not may_edit_contacts(actor, dealer):
        raise Forbidden(_("Only HQ and the dealer's administrator change its contacts and addresses."))


def _text(data: dict, key: str, errors: dict, *, required: bool, limit: int) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        errors[key] = [_("Text expected.")]
        return None
    value = (value or "").strip()
    if not value:
        if required:
            errors[key] = [_("Required.")]
        return None
    if len(value) > limit:
        errors[key] = [_("At most %(n)s characters.", n=limit)]
    return value


def _phone(data: dict, errors: dict) -> str | None:
    phone = _text(data, "phone", errors, required=False, limit=40)
    if phone and "phone" not in errors and (not PHONE_RE.match(phone) or sum(c.isdigit() for c in phone) < 5):
        errors["phone"] = [_("A phone number: digits, spaces, '+', '-' and brackets (e.g. 021-6234 5678).")]
    return phone


def _contact_values(data: dict) -> dict:
    errors: dict[str, list[str]] = {}
    role = data.get("role")
    if not role:
        errors["role"] = [_("Required.")]
    elif role not in CONTACT_ROLES:
        errors["role"] = [_("One of %(choices)s.", choices=", ".join(CONTACT_ROLES))]
    values = {
        "role": role,
        "name": _text(data, "name", errors, required=True, limit=120),
        "phone": _phone(data, errors),
        "email": _text(data, "email", errors, required=False, limit=200),
    }
    if values["email"] and "email" not in errors and not EMAIL_RE.match(values["email"]):
        errors["email"] = [_("An e-mail address, e.g. name@example.cn.")]
    if not errors and not values["phone"] and not values["email"]:
        errors["phone"] = [_("Give a phone number or an e-mail address (or both).")]
    if errors:
        raise Invalid(fields=errors)
    return values


def _contact_snapshot(contact: DealerContact) -> dict:
    return {"contact": contact.id, **snapshot(contact, ("role", "name", "phone", "email"))}


def contacts_of(dealer: Dealer) -> list[DealerContact]:
    order = case({r: i for i, r in enumerate(CONTACT_ROLES)}, value=DealerContact.role)
    stmt = select(DealerContact).where(DealerContact.dealer_id == dealer.id).order_by(order, DealerContact.id)
    return list(db.session.execute(stmt).scalars())


def _row_id(value) -> int | None:
    """An id from a URL (digits, within the id columns' range), else None."""
    text = str(value)
    if not text.isascii() or not text.isdigit() or len(text) > 10 or int(text) > 2**31 - 1:
        return None
    return int(text)


def contact_of(dealer: Dealer, contact_id) -> DealerContact:
    """One contact of the dealer (already found in the caller's scope); 404 for another dealer's or a missing one."""
    from portal.platform.errors import NotFound

    contact_id = _row_id(contact_id)
    contact = db.session.execute(
        select(DealerContact).where(DealerContact.id == contact_id, DealerContact.dealer_id == dealer.id)
    ).scalar_one_or_none()
    if contact is None:
        raise NotFound(_("%(kind)s not found.", kind="DealerContact"))
    return contact


def add_contact(actor, dealer: Dealer, data: dict) -> DealerContact:
    _must_edit_contacts(actor, dealer)
    values = _contact_values(data)
    contact = DealerContact(dealer_id=dealer.id, created_by=getattr(actor, "username", None) or "system", **values)
    db.session.add(contact)
    db.session.flush()
    record(actor, "dealer.contact.add", "dealer", dealer.code, after=_contact_snapshot(contact), dealer_id=dealer.id)
    return contact


def update_contact(actor, dealer: Dealer, contact: DealerContact, data: dict) -> DealerContact:
    """Change what `data` names (missing keys keep their value)."""
    _must_edit_contacts(actor, dealer)
    before = _contact_snapshot(contact)
    values = _contact_values({k: data.get(k, getattr(contact, k)) for k in ("role", "name", "phone", "email")})
    for key, value in values.items():
        setattr(contact, key, value)
    db.session.flush()
    record(actor, "dealer.contact.update", "dealer", dealer.code, before=before, after=_contact_snapshot(contact),
           dealer_id=dealer.id)  # fmt: skip
    return contact


def remove_contact(actor, dealer: Dealer, contact: DealerContact) -> None:
    _must_edit_contacts(actor, dealer)
    before = _contact_snapshot(contact)
    db.session.delete(contact)
    db.session.flush()
    record(actor, "dealer.contact.remove", "dealer", dealer.code, before=before, dealer_id=dealer.id)


def _lock_addresses(dealer: Dealer) -> None:
    """The dealer's row, locked for the rest of the transaction (FOR NO KEY UPDATE: rows referencing the dealer can
    still be inserted), so two requests never both leave a default address: the rule lives here, there is no
    partial unique index behind it."""
    db.session.execute(select(Dealer.id).where(Dealer.id == dealer.id).with_for_update(key_share=True)).scalar_one()


def _address_values(data: dict) -> dict:
    errors: dict[str, list[str]] = {}
    values = {
        "label": _text(data, "label", errors, required=True, limit=60),
        "recipient": _text(data, "recipient", errors, required=False, limit=120),
        "phone": _phone(data, errors),
        "address": _text(data, "address", errors, required=True, limit=300),
    }
    if "is_default" in data and not isinstance(data["is_default"], bool):
        errors["is_default"] = [_("true or false.")]
    if errors:
        raise Invalid(fields=errors)
    return values


def _address_snapshot(address: DealerAddress) -> dict:
    snap = snapshot(address, ("label", "recipient", "phone", "address", "is_default", "active"))
    return {"address_id": address.id, **snap}


def addresses_of(dealer: Dealer) -> list[DealerAddress]:
    """The dealer's ship-to addresses in use, the default first."""
    stmt = (
        select(DealerAddress)
        .where(DealerAddress.dealer_id == dealer.id, DealerAddress.active.is_(True))
        .order_by(DealerAddress.is_default.desc(), DealerAddress.label, DealerAddress.id)
    )
    return list(db.session.execute(stmt).scalars())


def address_of(dealer: Dealer, address_id) -> DealerAddress:
    """One ship-to address of the dealer still in use; 404 for another dealer's, a removed or a missing one."""
    from portal.platform.errors import NotFound

    address_id = _row_id(address_id)
    address = db.session.execute(
        select(DealerAddress).where(
            DealerAddress.id == address_id, DealerAddress.dealer_id == dealer.id, DealerAddress.active.is_(True)
        )
    ).scalar_one_or_none()
    if address is None:
        raise NotFound(_("%(kind)s not found.", kind="DealerAddress"))
    return address


def _make_default(dealer: Dealer, address: DealerAddress) -> None:
    db.session.execute(
        update(DealerAddress)
        .where(DealerAddress.dealer_id == dealer.id, DealerAddress.id != address.id, DealerAddress.is_default.is_(True))
        .values(is_default=False)
        .execution_options(synchronize_session="fetch")
    )
    address.is_default = True


def _default_left(dealer: Dealer) -> None:
    """After the default went away: the oldest address still in use becomes the default (one always is, while the
    dealer has any)."""
    remaining = db.session.execute(
        select(DealerAddress)
        .where(DealerAddress.dealer_id == dealer.id, DealerAddress.active.is_(True))
        .order_by(DealerAddress.id)
        .limit(1)
    ).scalar_one_or_none()
    if remaining is not None:
        _make_default(dealer, remaining)


def add_address(actor, dealer: Dealer, data: dict) -> DealerAddress:
    """A new ship-to address; the dealer's first one, or one given with `is_default`, becomes the default."""
    _must_edit_contacts(actor, dealer)
    values = _address_values(data)
    _lock_addresses(dealer)
    has_default = db.session.execute(
        select(DealerAddress.id).where(
            DealerAddress.dealer_id == dealer.id, DealerAddress.active.is_(True), DealerAddress.is_default.is_(True)
        )
    ).first()
    address = DealerAddress(dealer_id=dealer.id, created_by=getattr(actor, "username", None) or "system",
                            is_default=False, active=True, **values)  # fmt: skip
    db.session.add(address)
    db.session.flush()
    if data.get("is_default") is True or has_default is None:
        _make_default(dealer, address)
    db.session.flush()
    record(actor, "dealer.address.add", "dealer", dealer.code, after=_address_snapshot(address), dealer_id=dealer.id)
    return address


def update_address(actor, dealer: Dealer, address: DealerAddress, data: dict) -> DealerAddress:
    """Change what `data` names. `is_default: true` makes it the default (the previous one stops being it); the
    default cannot be switched off directly — another address is made the default instead."""
    _must_edit_contacts(actor, dealer)
    keys = ("label", "recipient", "phone", "address")
    values = _address_values({**{k: data.get(k, getattr(address, k)) for k in keys},
                              **({"is_default": data["is_default"]} if "is_default" in data else {})})  # fmt: skip
    if data.get("is_default") is False and address.is_default:
        message = _("A dealer always has a default address: make another one the default.")
        raise Invalid(fields={"is_default": [message]})
    _lock_addresses(dealer)
    before = _address_snapshot(address)
    for key, value in values.items():
        setattr(address, key, value)
    if data.get("is_default") is True:
        _make_default(dealer, address)
    db.session.flush()
    record(actor, "dealer.address.update", "dealer", dealer.code, before=before, after=_address_snapshot(address),
           dealer_id=dealer.id)  # fmt: skip
    return address


def remove_address(actor, dealer: Dealer, address: DealerAddress) -> None:
    """No longer offered as a ship-to address (kept, inactive, for the orders that were sent there)."""
    _must_edit_contacts(actor, dealer)
    _lock_addresses(dealer)
    before = _address_snapshot(address)
    was_default = address.is_default
    address.active, address.is_default = False, False
    db.session.flush()
    if was_default:
        _default_left(dealer)
        db.session.flush()
    record(actor, "dealer.address.remove", "dealer", dealer.code, before=before, after=_address_snapshot(address),
           dealer_id=dealer.id)  # fmt: skip


def notes_of(dealer: Dealer, limit: int = 50) -> list[DealerNote]:
    stmt = (
        select(DealerNote)
        .where(DealerNote.dealer_id == dealer.id)
        .order_by(DealerNote.created_at.desc(), DealerNote.id.desc())
        .limit(limit)
    )
    return list(db.session.execute(stmt).scalars())


def add_note(actor, dealer: Dealer, data: dict) -> DealerNote:
    """An internal note (a call, a visit) by HQ or the dealer's region; notes are never changed afterwards."""
    if not may_read_notes(actor):
        raise Forbidden()
    errors: dict[str, list[str]] = {}
    body = _text(data, "body", errors, required=True, limit=MAX_NOTE)
    if errors:
        raise Invalid(fields=errors)
    note = DealerNote(dealer_id=dealer.id, body=body, author=getattr(actor, "username", None) or "system")
    db.session.add(note)
    db.session.flush()
    record(actor, "dealer.note.add", "dealer", dealer.code, after={"note": note.id, "body": body}, dealer_id=dealer.id)
    return note


# ---------------------------------------------------------------- the dealer list with its figures, sortable

LIST_SORTS = ("code", "balance", "overdue", "utilisation")


def dealer_figure_columns(on: dt.date, among) -> tuple[dict, list]:
    """The figures of the dealers `among` (a SELECT of dealer ids) as columns of a dealer row, and the subqueries to
    outer-join for them: the ledger balance, what is overdue on `on`, the approved orders not yet invoiced, the
    permanent limit and the temporary increases in force, and the utilisation in percent (NULL without credit). Each
    is the figure the dealer's pages show: the balance is the ledger's closing (as `balance_sql`), overdue the ageing's
    1–30 … over 90 buckets together (tests/test_dealer_list_sort.py holds them equal), open orders and increases the
    expressions of `credit_summary`.

    The balance and the overdue amount come from one grouped pass over the ledger and the applications of `among`
    (the page's dealers when the list is sorted by code, every listed dealer when it is sorted by a figure): a
    correlated subquery per row cost PostgreSQL 2.5 s for 2,000 dealers at 100k invoices, and its cost estimate made
    JIT compile for 1.7 s at 1M (bench/overview.py)."""
    from sqlalchemy import and_, literal, null

    from portal.credit.models import Application, DealerCredit, LedgerEntry
    from portal.credit.services import _open_orders_sql, _temporary_sql
    from portal.platform.money import sql_round

    # overdue = the invoices due before `on` less what is applied to them by `on` (every application is dated on or
    # after its invoice, so nothing issued after `on` takes part), i.e. the ageing's overdue buckets together; what is
    # applied to them = everything applied by `on` − what is applied to the invoices not yet due (few: recent ones),
    # so the applications need no join with their invoices but for those
    invoice = LedgerEntry.__table__.alias("not_due_invoice")
    is_invoice = LedgerEntry.type == "invoice"
    led = (
        select(
            LedgerEntry.dealer_id.label("dealer_id"),
            func.sum(case((is_invoice, LedgerEntry.amount), else_=-LedgerEntry.amount)).label("balance"),
            func.sum(case((and_(is_invoice, LedgerEntry.due_on < on), LedgerEntry.amount), else_=0)).label("due"),
        )
        .where(LedgerEntry.dealer_id.in_(among))
        .group_by(LedgerEntry.dealer_id)
        .subquery("list_ledger")
    )
    applied = (
        select(Application.dealer_id.label("dealer_id"), func.sum(Application.amount).label("applied"))
        .where(Application.applied_on <= on, Application.dealer_id.in_(among))
        .group_by(Application.dealer_id)
        .subquery("list_applied")
    )
    not_due = (
        select(Application.dealer_id.label("dealer_id"), func.sum(Application.amount).label("applied"))
        .join(invoice, invoice.c.id == Application.invoice_id)
        .where(
            invoice.c.type == "invoice",
            invoice.c.due_on >= on,
            invoice.c.dealer_id.in_(among),
            Application.applied_on <= on,
        )
        .group_by(Application.dealer_id)
        .subquery("list_not_due")
    )
    joins = [(sub, sub.c.dealer_id == Dealer.id) for sub in (led, applied, not_due)]
    balance = sql_round(func.coalesce(led.c.balance, 0))
    overdue = sql_round(
        func.coalesce(led.c.due, 0) - (func.coalesce(applied.c.applied, 0) - func.coalesce(not_due.c.applied, 0))
    )
    limit = (
        select(func.coalesce(DealerCredit.credit_limit, 0)).where(DealerCredit.dealer_id == Dealer.id).scalar_subquery()
    )
    orders = _open_orders_sql(Dealer.id)
    temporary = _temporary_sql(Dealer.id, on)
    credit = func.coalesce(limit, 0) + func.coalesce(temporary, 0)
    exposure = func.coalesce(balance, 0) + func.coalesce(orders, 0)
    utilisation = case((credit > 0, exposure * literal(100) / credit), else_=null())
    columns = {
        "balance": balance.label("balance"),
        "overdue": overdue.label("overdue"),
        "open_orders": orders.label("open_orders"),
        "credit_limit": func.coalesce(limit, 0).label("credit_limit"),
        "temporary": sql_round(func.coalesce(temporary, 0)).label("temporary"),
        "utilisation": utilisation.label("utilisation"),
    }
    return columns, joins


class DealerRow:
    """A dealer of the list with its figures; reads like the Dealer for everything else (templates, schemas)."""

    def __init__(self, dealer: Dealer, figures: dict):
        self.dealer = dealer
        self.balance = money(figures["balance"] or 0)
        self.overdue = money(figures["overdue"] or 0)
        self.open_orders = money(figures["open_orders"] or 0)
        self.credit_limit = money(figures["credit_limit"] or 0)
        self.temporary = money(figures["temporary"] or 0)
        self.credit = money(self.credit_limit + self.temporary)
        self.exposure = money(self.balance + self.open_orders)
        self.available = money(self.credit - self.exposure)
        # as credit_utilisation (the receivables page) rounds it
        self.utilisation = (self.exposure / self.credit * 100).quantize(Decimal("0.1")) if self.credit > 0 else None

    def __getattr__(self, name):
        return getattr(self.dealer, name)


def dealer_rows(stmt, *, sort: str = "code", direction: str = "asc", page: int = 1, per_page: int = 25,
                on: dt.date | None = None) -> dict:  # fmt: skip
    """A page of `dealers_query(...)` with each dealer's figures, sorted by code, balance, overdue or utilisation
    (dealers without credit last either way), in one statement for the rows with their figures (plus the count, and
    the page's ids when sorted by code), whatever the number of rows. Sorted by code, the figures are computed for
    the page's dealers only; sorted by a figure, for every dealer the filters keep."""
    from portal.platform.timeutil import today

    on = on or today()
    key = sort if sort in LIST_SORTS else "code"
    by_code = Dealer.code.desc() if direction == "desc" else Dealer.code.asc()
    offset = (page - 1) * per_page
    ids = stmt.with_only_columns(Dealer.id).order_by(None)
    total = db.session.execute(select(func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()
    items: list[DealerRow] = []
    if offset < total:
        if key == "code":
            # the page's ids first, as values: with `IN (SELECT … LIMIT 50)` PostgreSQL expected every dealer and read
            # the whole ledger (700 ms at 1M invoices); with the ids it reads their rows by index
            ids = list(db.session.execute(ids.order_by(by_code, Dealer.id).limit(per_page).offset(offset)).scalars())
        columns, joins = dealer_figure_columns(on, ids)
        rows_stmt = stmt.add_columns(*columns.values())
        for sub, on_clause in joins:
            rows_stmt = rows_stmt.outerjoin(sub, on_clause)
        rows_stmt = rows_stmt.options(joinedload(Dealer.account_manager), joinedload(Dealer.parent)).order_by(None)
        if key == "code":
            rows_stmt = rows_stmt.where(Dealer.id.in_(ids)).order_by(by_code, Dealer.id)
        else:
            first = (columns[key].desc() if direction == "desc" else columns[key].asc()).nulls_last()
            rows_stmt = rows_stmt.order_by(first, Dealer.code, Dealer.id).limit(per_page).offset(offset)
        for row in db.session.execute(rows_stmt).unique().all():
            items.append(DealerRow(row[0], row._mapping))
    return {"items": items, "page": page, "per_page": per_page, "total": total}


# ---------------------------------------------------------------- a distributor's sub-dealers (§16)


def open_order_counts(dealer_ids) -> dict[int, int]:
    """How many open orders (the overview's open statuses) each dealer has, in one grouped statement."""
    from portal.dealers.overview import OPEN_ORDER_STATUSES
    from portal.orders.models import Order

    ids = list(dealer_ids)
    if not ids:
        return {}
    stmt = (
        select(Order.dealer_id, func.count())
        .where(Order.dealer_id.in_(ids), Order.status.in_(OPEN_ORDER_STATUSES))
        .group_by(Order.dealer_id)
    )
    return {dealer_id: int(n) for dealer_id, n in db.session.execute(stmt)}


def sub_dealer_rows(scope: Scope, distributor: Dealer, *, sort: str = "code", direction: str = "asc", page: int = 1,
                    per_page: int = 50, on: dt.date | None = None) -> dict:  # fmt: skip
    """A page of the distributor's sub-dealers that the caller sees, each with the dealer list's figures — which for a
    sub-dealer are its account with its distributor (balance, overdue, limit and temporary increases, exposure,
    available) — and its count of open orders. A sub-dealer has none (its page is empty)."""
    stmt = dealers_query(scope).where(Dealer.parent_id == distributor.id)
    result = dealer_rows(stmt, sort=sort, direction=direction, page=page, per_page=per_page, on=on)
    counts = open_order_counts(row.id for row in result["items"])
    for row in result["items"]:
        row.open_order_count = counts.get(row.id, 0)
    return result


def distributors(scope: Scope) -> list[Dealer]:
    """The dealers of the scope that have sub-dealers (for the list's filter)."""
    has_subs = select(Dealer.parent_id).where(Dealer.parent_id.is_not(None))
    stmt = scope.select(Dealer, Dealer.id.in_(has_subs)).order_by(Dealer.code)
    return list(db.session.execute(stmt).unique().scalars())


def visible_dealer_ids(scope: Scope, ids) -> set[int]:
    """Which of these dealers the scope sees (e.g. whether a sub-dealer's distributor may be linked to)."""
    ids = {i for i in ids if i is not None}
    if not ids:
        return set()
    if scope.is_hq:
        return ids
    return set(db.session.execute(select(Dealer.id).where(scope.clause(Dealer), Dealer.id.in_(ids))).scalars())
