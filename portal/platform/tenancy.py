"""Tenancy, applied in one place.

A `Scope` says which dealers the caller may see:

- HQ roles (and integration tokens): every dealer;
- a region manager: the dealers of its region and all its sub-regions;
- a dealer user: its own dealer and, for a distributor (§16), its sub-dealers — whose every order, ledger, credit,
  stock and sale lies between them and the distributor, since a sub-dealer buys from its distributor only. A
  sub-dealer's scope is itself alone: never its distributor's data (prices, credit, orders with HQ) nor a sibling's.

Every model that holds dealer-owned data declares `__scope_clause__(cls, scope)` returning a SQL
condition; `scope.select(Model)` and `scope.get_or_404(Model, ...)` apply it. A model without the
declaration cannot be loaded through a scope at all (TypeError), so forgetting is loud. An object
outside the scope is answered exactly like a missing one (NotFound -> 404).

Views declare what their URL identifiers point at with `@tenant_route(kind)` (or `@not_tenant_route(reason)`);
`tests/test_tenancy_routes.py` walks every route and refuses unclassified ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import g
from flask_babel import gettext as _
from sqlalchemy import ColumnElement, Select, false, select, true

from portal.extensions import db
from portal.platform.errors import NotFound

if TYPE_CHECKING:
    from portal.dealers.models import Dealer


@dataclass(frozen=True)
class Scope:
    kind: str  # "hq" | "region" | "dealer" | "none"
    dealer_id: int | None = None
    region_path: str | None = None
    user_id: int | None = None  # the person behind the scope (for objects people own, e.g. their jobs)
    sub_dealer_ids: tuple[int, ...] = ()  # a distributor's sub-dealers (§16), read once when the scope is made

    @classmethod
    def for_principal(cls, principal) -> Scope:
        role = getattr(principal, "role", None)
        if principal is None or not getattr(principal, "is_authenticated", False):
            return cls("none")
        if getattr(principal, "is_integration", False):
            return cls("hq")
        user_id = getattr(principal, "id", None)
        if role in ("channel_manager", "finance", "hq_admin"):
            return cls("hq", user_id=user_id)
        if role == "region_manager" and principal.region is not None:
            return cls("region", region_path=principal.region.path, user_id=user_id)
        if role in ("dealer_staff", "dealer_admin") and principal.dealer_id is not None:
            # the user loaders (portal.platform.auth) say with the user whether its dealer has sub-dealers at all: a
            # dealer without any (nearly every one) needs no statement here
            known_none = getattr(principal, "has_sub_dealers", None) is False
            return cls(
                "dealer",
                dealer_id=principal.dealer_id,
                user_id=user_id,
                sub_dealer_ids=() if known_none else sub_dealers_of(principal.dealer_id),
            )
        return cls("none")

    @property
    def is_hq(self) -> bool:
        return self.kind == "hq"

    @property
    def is_region(self) -> bool:
        return self.kind == "region"

    @property
    def is_dealer(self) -> bool:
        return self.kind == "dealer"

    @property
    def dealer_ids(self) -> tuple[int, ...]:
        """A dealer scope's dealers: its own, then its sub-dealers (§16)."""
        return (self.dealer_id, *self.sub_dealer_ids) if self.is_dealer else ()

    def own_clause(self, dealer_id_column) -> ColumnElement[bool]:
        """Like `dealer_clause`, but a dealer scope covers its own dealer only (not its sub-dealers): for what a
        distributor holds with HQ and shares with nobody below it."""
        if self.is_dealer:
            return dealer_id_column == self.dealer_id
        return self.dealer_clause(dealer_id_column)

    def dealer_clause(self, dealer_id_column) -> ColumnElement[bool]:
        """Condition on a column holding a dealer id."""
        if self.is_hq:
            return true()
        if self.is_dealer:
            if self.sub_dealer_ids:
                return dealer_id_column.in_(self.dealer_ids)
            return dealer_id_column == self.dealer_id
        if self.is_region:
            from portal.dealers.models import Dealer, Region

            subtree = select(Region.id).where(Region.path.startswith(self.region_path, autoescape=True))
            return dealer_id_column.in_(select(Dealer.id).where(Dealer.region_id.in_(subtree)))
        return false()

    def clause(self, model) -> ColumnElement[bool]:
        declared = getattr(model, "__scope_clause__", None)
        if declared is None:
            raise TypeError(f"{model.__name__} declares no __scope_clause__; it cannot be read through a scope")
        return declared(self)

    def select(self, model, *criteria) -> Select:
        clause = self.clause(model)
        return select(model).where(clause, *criteria)

    def get_or_404(self, model, **by):
        """Load one object by its natural key, inside the scope; 404 when missing or out of scope."""
        stmt = self.select(model).filter_by(**by)
        obj = db.session.execute(stmt).unique().scalar_one_or_none()
        if obj is None:
            raise NotFound(_("%(kind)s not found.", kind=model.__name__))
        return obj

    def first(self, model, **by):
        stmt = self.select(model).filter_by(**by)
        return db.session.execute(stmt).unique().scalar_one_or_none()


def sub_dealers_of(dealer_id: int) -> tuple[int, ...]:
    """The ids of a distributor's sub-dealers (§16), by the indexed parent_id; () for any other dealer."""
    from portal.dealers.models import Dealer

    ids = db.session.execute(select(Dealer.id).where(Dealer.parent_id == dealer_id).order_by(Dealer.id)).scalars()
    return tuple(ids)


def current_scope() -> Scope:
    """The scope of the request's principal (set by the auth layer)."""
    scope = g.get("scope")
    if scope is None:
        from flask_login import current_user

        scope = g.scope = Scope.for_principal(current_user)
    return scope


def own_dealer() -> Dealer:
    """A dealer user's own dealer; 404 for anyone else. It came with the user (a joined relationship of the user the
    auth layer loaded), so the session answers it without a statement; it is always in its own user's scope."""
    from portal.dealers.models import Dealer

    scope = current_scope()
    dealer = db.session.get(Dealer, scope.dealer_id) if scope.is_dealer else None
    if dealer is None:
        raise NotFound(_("%(kind)s not found.", kind="Dealer"))
    return dealer


def dealer_or_404(code: str) -> Dealer:
    """The dealer a URL's dealer code names (in any case), in the caller's scope; 404 when missing or out of scope.
    A dealer user naming its own dealer (its price list, its stock...) gets it without a statement (`own_dealer`)."""
    from portal.dealers.models import Dealer

    scope = current_scope()
    if scope.is_dealer and code.isascii():
        own = own_dealer()
        if own.code.lower() == code.lower():  # as the code's SQL comparison (lower() of both), for ASCII codes
            return own
    return scope.get_or_404(Dealer, code=code)


# --- route classification (read by the route-walking tenancy test) ---


def tenant_route(kind: str):
    """Declare that this route's URL identifiers name a dealer-owned object of `kind`."""

    def mark(view):
        view._tenant_kind = kind
        return view

    return mark


def not_tenant_route(reason: str):
    """Declare that this route's URL arguments name no dealer-owned object (say why)."""

    def mark(view):
        view._tenant_exempt = reason
        return view

    return mark


def route_classification(view) -> tuple[str, str] | None:
    """('kind', k) or ('exempt', reason) for a view function; None when unclassified."""
    for fn in (view, getattr(view, "__wrapped__", None), getattr(view, "view_class", None)):
        if fn is None:
            continue
        if getattr(fn, "_tenant_kind", None):
            return ("kind", fn._tenant_kind)
        if getattr(fn, "_tenant_exempt", None):
            return ("exempt", fn._tenant_exempt)
    return None


def routes_with_identifiers(app):
    """(rule, view) for every route whose URL carries arguments (static files excepted)."""
    for rule in app.url_map.iter_rules():
        if not rule.arguments or rule.endpoint.split(".")[-1] == "static":
            continue
        yield rule, app.view_functions[rule.endpoint]


def unclassified_routes(app) -> list[str]:
    """Routes with URL arguments that declare neither @tenant_route nor @not_tenant_route."""
    return sorted(
        f"{rule.rule} ({rule.endpoint})"
        for rule, view in routes_with_identifiers(app)
        if route_classification(view) is None
    )
