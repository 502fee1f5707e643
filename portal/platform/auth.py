"""Who is calling, and what they may do.

Permissions are declared on each view with `@requires("permission")`; the table below is the single
statement of which role holds which permission (PRODUCT.md §1). Integration tokens hold the permissions
of their scope only.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets

from flask import current_app, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import bindparam, select
from sqlalchemy.orm import aliased

from portal.extensions import db, login_manager
from portal.platform.errors import Forbidden, Unauthorized
from portal.platform.timeutil import utcnow

ALL_PEOPLE = ("dealer_staff", "dealer_admin", "region_manager", "channel_manager", "finance", "hq_admin")
HQ = ("channel_manager", "finance", "hq_admin")

PERMISSIONS: dict[str, tuple[str, ...]] = {
    "home.view": ALL_PEOPLE,
    "account.manage": ALL_PEOPLE,
    "dealers.read": ALL_PEOPLE,
    "dealers.write": ("channel_manager", "hq_admin"),
    "regions.read": ("region_manager",) + HQ,
    "regions.write": ("hq_admin",),
    "users.read": ("dealer_admin", "region_manager", "hq_admin"),
    "users.write": ("dealer_admin", "hq_admin"),
    "audit.read": ("hq_admin",),
    # receivables and credit
    "ledger.read": ALL_PEOPLE,
    "credit.read": ALL_PEOPLE,
    "receivables.read": ALL_PEOPLE,
    "invoices.write": ("finance",),
    "payments.write": ("finance",),
    "credit_notes.write": ("finance",),
    "applications.manage": ("finance",),
    "credit.manage": ("finance",),
    # §14: temporary increase requests (decided by the region manager within its limit, else finance) and notices
    "credit_requests.create": ("dealer_admin",),
    "credit_requests.read": ALL_PEOPLE,
    "credit_requests.decide": ("region_manager", "finance"),
    "payment_notices.send": ("dealer_staff", "dealer_admin"),
    "payment_notices.read": ALL_PEOPLE,
    "payment_notices.manage": ("finance",),
    "jobs.read": ALL_PEOPLE,
    "notifications.read": ALL_PEOPLE,
    "outbox.read": ("finance", "hq_admin"),
    # catalogue, prices, orders
    "catalog.read": ALL_PEOPLE,
    "catalog.write": ("channel_manager", "hq_admin"),
    "prices.manage": ("channel_manager", "hq_admin"),
    "prices.read": ALL_PEOPLE,
    "orders.place": ("dealer_staff", "dealer_admin"),
    "orders.place_for": ("channel_manager", "region_manager"),  # on a dealer's behalf (代客下单), §12
    "orders.read": ALL_PEOPLE,
    "orders.approve": ("region_manager", "channel_manager", "finance", "hq_admin"),
    "orders.cancel": ("dealer_staff", "dealer_admin", "channel_manager", "finance", "hq_admin"),
    # shipping
    "shipments.create": ("channel_manager", "hq_admin"),
    "shipments.read": ALL_PEOPLE,
    "shipments.receive": ("dealer_staff", "dealer_admin"),
    # §13 returns (RMA) and delivery discrepancies
    "returns.create": ("dealer_admin",),  # request and ship back its own dealer's returns
    "returns.read": ALL_PEOPLE,
    "returns.decide": ("channel_manager",),  # approve or reject returns; resolve discrepancies
    "returns.receive": ("channel_manager", "hq_admin"),  # receive returned goods into an HQ warehouse
    # build-line tracking
    "tracking.read": ALL_PEOPLE,
    "production.read": ("region_manager",) + HQ,
    # channel analytics (channel flow, price monitoring)
    "analytics.read": ("region_manager",) + HQ,
    # statements and reconciliation
    "statements.read": ("dealer_admin", "region_manager") + HQ,
    "statements.issue": ("finance",),
    "statements.reconcile": ("dealer_admin",),
    "statements.comment": ("dealer_admin", "finance"),
    "disputes.resolve": ("finance",),
    # HQ stock (dealers and regions see availability bands only)
    "stock.read": HQ,
    "stock.manage": ("channel_manager", "hq_admin"),
    # dealer stock and sell-through
    "sellthrough.write": ("dealer_staff", "dealer_admin"),
    "sellthrough.read": ALL_PEOPLE,
    "dealer_stock.read": ALL_PEOPLE,
    "dealer_stock.adjust": ("dealer_admin",),
    # rebates (dealers see the programmes covering them; regions their dealers' progress)
    "rebates.read": ALL_PEOPLE,
    "rebates.manage": ("channel_manager", "hq_admin"),
    "rebates.settle": ("finance",),
    # bank statements (§14): payer accounts (finance for any dealer, a dealer admin for its own), the statement import
    # and the unmatched receipts (finance)
    "payer_accounts.read": ("dealer_admin", "region_manager") + HQ,
    "payer_accounts.manage": ("dealer_admin", "finance"),
    "bank_statements.import": ("finance",),
    "receipts.manage": ("finance",),
    # collections (§14): the worklist, contact notes and promises to pay (regions: their own dealers)
    "collections.read": ("region_manager",) + HQ,
    "collections.manage": ("region_manager",) + HQ,
    # §16: a distributor's admin sells to its sub-dealers: decides their orders in credit review, sets their credit,
    # records their payments, keeps their price lists and manages their users (each service checks that the dealer
    # is one of the caller's sub-dealers: portal.dealers.channel); its staff ship to them out of its stock
    "sales.manage": ("dealer_admin",),
    "sales.ship": ("dealer_staff", "dealer_admin"),
    # §15 targets and scorecards: HQ sets any region's or dealer's targets, a region manager its subtree's (never its
    # own region's); everyone reads achievement and scorecards in its scope (a dealer: its own only)
    "targets.read": ALL_PEOPLE,
    "targets.write": ("region_manager", "channel_manager", "hq_admin"),
    "scorecards.read": ALL_PEOPLE,
}

# Integration tokens (MES, ERP) never act as a person; they hold only these.
TOKEN_SCOPES: dict[str, tuple[str, ...]] = {
    "production": ("production.events", "production.read"),
    "erp": ("invoices.write", "payments.write"),
}


def role_can(role: str | None, permission: str | tuple[str, ...]) -> bool:
    """Whether the role holds the permission (or, given several, any of them)."""
    if isinstance(permission, tuple):
        return any(role_can(role, p) for p in permission)
    return role in PERMISSIONS.get(permission, ())


def can(permission: str | tuple[str, ...], principal=None) -> bool:
    principal = principal if principal is not None else current_user
    if not getattr(principal, "is_authenticated", False):
        return False
    if getattr(principal, "is_integration", False):
        held = TOKEN_SCOPES.get(principal.scope, ())
        return any(p in held for p in permission) if isinstance(permission, tuple) else permission in held
    return role_can(principal.role, permission)


class IntegrationPrincipal:
    """The caller behind an integration token: no password, no session, a scope."""

    is_authenticated = True
    is_active = True
    is_anonymous = False
    is_integration = True
    role = None
    dealer_id = None
    region = None
    locale = "en"

    def __init__(self, token):
        self.token = token
        self.scope = token.scope
        self.username = f"token:{token.name}"
        self.label = self.username
        self.id = None

    def get_id(self):  # never stored in a session
        return None


# --- tokens ---


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_personal_token(user) -> tuple[str, dt.datetime]:
    from portal.dealers.models import ApiToken

    raw = "drp_u_" + secrets.token_urlsafe(32)
    expires = utcnow() + dt.timedelta(hours=current_app.config["PORTAL_TOKEN_HOURS"])
    db.session.add(
        ApiToken(
            kind="personal", name=f"api:{user.username}", token_hash=_hash(raw), user_id=user.id, expires_at=expires
        )
    )
    db.session.flush()
    return raw, expires


def issue_integration_token(name: str, scope: str, expires_at: dt.datetime | None = None) -> str:
    from portal.dealers.models import ApiToken

    if scope not in TOKEN_SCOPES:
        raise ValueError(f"scope must be one of {', '.join(TOKEN_SCOPES)}")
    raw = "drp_i_" + secrets.token_urlsafe(32)
    db.session.add(ApiToken(kind="integration", name=name, token_hash=_hash(raw), scope=scope, expires_at=expires_at))
    db.session.flush()
    return raw


_loaders: dict[str, object] = {}


def _loader(kind: str):
    """The statement that loads a principal, built once (its only parameter is bound at execution): the user by its
    id ("user") or the token by its hash ("token"), each with whether the user's dealer is a distributor (has
    sub-dealers, §16) — read in the same statement, so that the scope of a dealer without sub-dealers (nearly every
    one) needs no statement of its own to learn it (`Scope.for_principal` reads the ids only when there are some)."""
    stmt = _loaders.get(kind)
    if stmt is None:
        from portal.dealers.models import ApiToken, Dealer, User

        if kind == "user":
            subs = select(Dealer.id).where(Dealer.parent_id == User.dealer_id).exists()
            stmt = select(User, subs).where(User.id == bindparam("key"))
        else:
            owner = aliased(User)
            subs = select(Dealer.id).join(owner, owner.dealer_id == Dealer.parent_id)
            subs = subs.where(owner.id == ApiToken.user_id).exists()
            stmt = select(ApiToken, subs).where(ApiToken.token_hash == bindparam("key"))
        _loaders[kind] = stmt
    return stmt


def _remember_sub_dealers(user, has_sub_dealers) -> None:
    if user is not None:
        user.has_sub_dealers = bool(has_sub_dealers)  # a plain attribute, for this request's scope


def principal_for_token(raw: str):
    row = db.session.execute(_loader("token"), {"key": _hash(raw)}).one_or_none()
    token = row[0] if row is not None else None
    if token is None or token.revoked_at is not None:
        return None
    if token.expires_at is not None and token.expires_at <= utcnow():
        return None
    if token.kind == "integration":
        return IntegrationPrincipal(token)
    user = token.user
    _remember_sub_dealers(user, row[1])
    return user if user is not None and user.active else None


@login_manager.user_loader
def _load_user(session_id: str):
    try:
        user_id, key = session_id.split(":")
        row = db.session.execute(_loader("user"), {"key": int(user_id)}).one_or_none()
    except (ValueError, TypeError):
        return None
    user = row[0] if row is not None else None
    if user is None or not user.active or not secrets.compare_digest(user.session_key, key):
        return None
    _remember_sub_dealers(user, row[1])
    return user


@login_manager.request_loader
def _load_from_bearer(req):
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    g.bearer = True
    return principal_for_token(header[len("Bearer ") :].strip())


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def requires(*permissions: str):
    """Declare the permission a view needs (given several: any of them; the service then checks which side the caller
    acts for, e.g. HQ's finance or a distributor's admin for its sub-dealers, §16). Unauthenticated: 401 (API) or the
    login page (UI)."""
    permission = permissions[0] if len(permissions) == 1 else tuple(permissions)

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                if is_api_request():
                    raise Unauthorized(_("Authentication required: send a bearer token."))
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if not can(permission):
                raise Forbidden()
            return view(*args, **kwargs)

        wrapper._permission = permission
        return wrapper

    return decorate
