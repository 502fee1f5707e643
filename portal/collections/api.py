"""JSON API of collections (PRODUCT.md §14): the worklist, promises to pay and contact notes."""

from __future__ import annotations

from flask_login import current_user

from portal.collections import services
from portal.collections.schemas import (
    CollectionContactCreateSchema,
    CollectionContactSchema,
    PromiseCreateSchema,
    PromiseSchema,
    WorklistQuerySchema,
    WorklistRowSchema,
)
from portal.platform.api import api_blueprint, page_of
from portal.platform.auth import requires
from portal.platform.tenancy import current_scope, dealer_or_404, tenant_route

blp = api_blueprint("api_collections", __name__, "Collections")


@blp.route("/collections", methods=["GET"])
@requires("collections.read")
@blp.arguments(WorklistQuerySchema, location="query")
@blp.response(200, page_of(WorklistRowSchema))
def worklist(args):
    """Overdue dealers in the caller's scope: broken promises first, then by overdue amount × oldest days overdue.
    `mine=true`: only the dealers the caller is account manager of."""
    rows = services.worklist(current_scope(), current_user, mine=args["mine"])
    page, per_page = args["page"], args["per_page"]
    start = (page - 1) * per_page
    return {"items": rows[start : start + per_page], "page": page, "per_page": per_page, "total": len(rows)}


@blp.route("/dealers/<code>/promises", methods=["POST"])
@requires("collections.manage")
@tenant_route("dealer")
@blp.arguments(PromiseCreateSchema)
@blp.response(201, PromiseSchema)
def create_promise(body, code):
    """Record a promise to pay (amount > 0, date today or later); it replaces the dealer's open promise. The daily
    scan settles it after its date: kept, or broken (back on top of the worklist, the account manager told)."""
    dealer = dealer_or_404(code)
    return services.add_promise(current_user, dealer, body.get("amount"), body.get("promised_on"), body.get("note"))


@blp.route("/dealers/<code>/promises", methods=["GET"])
@requires("collections.read")
@tenant_route("dealer")
@blp.response(200, PromiseSchema(many=True))
def list_promises(code):
    return services.promises_of(dealer_or_404(code))


@blp.route("/dealers/<code>/collection-contacts", methods=["POST"])
@requires("collections.manage")
@tenant_route("dealer")
@blp.arguments(CollectionContactCreateSchema)
@blp.response(201, CollectionContactSchema)
def create_contact(body, code):
    """Log a collection contact (a call, a visit, a message) and what was said."""
    dealer = dealer_or_404(code)
    return services.add_contact(current_user, dealer, body.get("channel"), body.get("note"))


@blp.route("/dealers/<code>/collection-contacts", methods=["GET"])
@requires("collections.read")
@tenant_route("dealer")
@blp.response(200, CollectionContactSchema(many=True))
def list_contacts(code):
    return services.contacts_of(dealer_or_404(code))
