"""The multi-level channel (PRODUCT.md §16): who sells to whom.

A dealer without a distributor (`parent_id` None) buys from HQ; a sub-dealer buys from its distributor only. What
HQ does for the dealers it sells to (approve orders in credit review, set credit, record payments, keep price lists),
a distributor's admin does for its sub-dealers — and nobody else does it for them: HQ's finance does not record a
sub-dealer's payment, a distributor's admin does nothing for another distributor's sub-dealer. The services call
`check_seller_side` with the HQ permission the action needs; reads go through the one scope (`platform.tenancy`).
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select

from portal.dealers.models import Dealer
from portal.extensions import db
from portal.platform.auth import role_can
from portal.platform.errors import Forbidden, Invalid


def sells_to(actor, dealer: Dealer) -> bool:
    """Whether the actor is one of the users of the dealer's distributor (any dealer role)."""
    own = getattr(actor, "dealer_id", None)
    return own is not None and dealer.parent_id is not None and dealer.parent_id == own


def is_seller_admin(actor, dealer: Dealer) -> bool:
    """Whether the actor is an admin of the dealer's distributor: the one who decides for it as its seller."""
    return sells_to(actor, dealer) and getattr(actor, "role", None) == "dealer_admin"


def acts_as_seller(actor, dealer: Dealer, hq_permission: str) -> bool:
    """Whether the actor may act as the dealer's seller: HQ's `hq_permission` for a dealer that buys from HQ, the
    distributor's admin for a sub-dealer."""
    if dealer.parent_id is None:
        return getattr(actor, "is_integration", False) or role_can(getattr(actor, "role", None), hq_permission)
    return is_seller_admin(actor, dealer)


def check_seller_side(actor, dealer: Dealer, hq_permission: str) -> None:
    """Refuse (403, saying who does it) unless the actor may act as the dealer's seller."""
    if acts_as_seller(actor, dealer, hq_permission):
        return
    if dealer.parent_id is not None:
        raise Forbidden(
            _(
                "%(dealer)s buys from %(seller)s: only %(seller)s's admin does this for it.",
                dealer=dealer.code,
                seller=dealer.parent.code,
            )
        )
    raise Forbidden(_("%(dealer)s buys from HQ: only HQ does this for it.", dealer=dealer.code))


def seller_code(dealer: Dealer) -> str | None:
    """The code of whom the dealer buys from (None: HQ)."""
    return dealer.parent.code if dealer.parent_id is not None else None


def level(dealer: Dealer) -> int:
    """1: buys from HQ (a distributor when it has sub-dealers); 2: a sub-dealer."""
    return 1 if dealer.parent_id is None else 2


def sub_dealers(distributor: Dealer) -> list[Dealer]:
    return list(
        db.session.execute(select(Dealer).where(Dealer.parent_id == distributor.id).order_by(Dealer.code)).scalars()
    )


def seller_in_scope(scope, code: str | None, field: str = "seller") -> Dealer | None:
    """The distributor a `?seller=` names, in the caller's scope (None when not given). An unknown code, one out of
    scope, or a dealer that is itself a sub-dealer is refused as bad input on `field`."""
    code = (code or "").strip()
    if not code:
        return None
    dealer = scope.first(Dealer, code=code)
    if dealer is None or dealer.parent_id is not None:
        raise Invalid(fields={field: [_("No distributor %(code)s.", code=code)]})
    return dealer


def own_refusal(refuse) -> str | None:
    """For a page: the message `refuse(dealer)` raises for the signed-in user's own dealer (shown instead of the
    page's form, e.g. a sub-dealer sends HQ no credit request), else None."""
    from flask_login import current_user

    from portal.platform.errors import DomainError

    if getattr(current_user, "dealer_id", None) is None:
        return None
    try:
        refuse(current_user.dealer)
    except DomainError as exc:
        return exc.message
    return None
