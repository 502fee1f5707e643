"""JSON API for temporary credit increase requests (PRODUCT.md §14)."""

from __future__ import annotations

from flask_login import current_user
from marshmallow import Schema, fields, validate

from portal.credit import requests
from portal.credit.models import CreditRequest
from portal.dealers.models import Dealer
from portal.platform.api import PageArgs, StrictSchema, api_blueprint, page_of, paginate
from portal.platform.auth import requires
from portal.platform.money import Money
from portal.platform.tenancy import current_scope, tenant_route

blp = api_blueprint("api_credit_requests", __name__, "Credit requests")


class CreditRequestCreateSchema(StrictSchema):
    amount = Money(required=True, allow_zero=False)
    valid_until = fields.Date(required=True, metadata={"description": "from today to 90 days ahead"})
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class CreditRequestDecisionSchema(StrictSchema):
    comment = fields.String(validate=validate.Length(max=1000), metadata={"description": "required to reject"})


class CreditRequestSchema(Schema):
    id = fields.Integer()
    dealer_code = fields.Function(lambda r: r.dealer.code)
    amount = Money()
    valid_until = fields.Date()
    reason = fields.String()
    status = fields.String(metadata={"description": "pending | approved | rejected | withdrawn"})
    stage = fields.String(metadata={"description": "who decides: region | finance"})
    requested_by = fields.String()
    decided_by = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    comment = fields.String(allow_none=True)
    increase_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()


class CreditRequestQuerySchema(PageArgs):
    status = fields.String(validate=validate.OneOf(("pending", "approved", "rejected", "withdrawn")))


def _request(request_id: int) -> CreditRequest:
    return current_scope().get_or_404(CreditRequest, id=request_id)


@blp.route("/credit-requests", methods=["POST"])
@requires("credit_requests.create")
@blp.arguments(CreditRequestCreateSchema)
@blp.response(201, CreditRequestSchema)
def create_request(body):
    """A dealer administrator asks for a temporary increase of its own dealer's credit."""
    dealer = current_scope().get_or_404(Dealer, id=current_user.dealer_id)
    return requests.create_request(current_user, dealer, **body)


@blp.route("/credit-requests", methods=["GET"])
@requires("credit_requests.read")
@blp.arguments(CreditRequestQuerySchema, location="query")
@blp.response(200, page_of(CreditRequestSchema))
def list_requests(args):
    """The requests in the caller's scope, pending first."""
    page, per_page = args.pop("page"), args.pop("per_page")
    return paginate(requests.requests_query(current_scope(), args.get("status")), page, per_page)


@blp.route("/credit-requests/<int:request_id>", methods=["GET"])
@requires("credit_requests.read")
@tenant_route("credit_request")
@blp.response(200, CreditRequestSchema)
def get_request(request_id):
    return _request(request_id)


@blp.route("/credit-requests/<int:request_id>/approve", methods=["POST"])
@requires("credit_requests.decide")
@tenant_route("credit_request")
@blp.arguments(CreditRequestDecisionSchema)
@blp.response(200, CreditRequestSchema)
def approve_request(body, request_id):
    """Approve: the temporary increase (today to valid_until) is created; a decided request answers 409."""
    return requests.approve(current_user, _request(request_id), body.get("comment"))


@blp.route("/credit-requests/<int:request_id>/reject", methods=["POST"])
@requires("credit_requests.decide")
@tenant_route("credit_request")
@blp.arguments(CreditRequestDecisionSchema)
@blp.response(200, CreditRequestSchema)
def reject_request(body, request_id):
    """Reject with a comment (required)."""
    return requests.reject(current_user, _request(request_id), body.get("comment") or "")


@blp.route("/credit-requests/<int:request_id>/withdraw", methods=["POST"])
@requires("credit_requests.create")
@tenant_route("credit_request")
@blp.response(200, CreditRequestSchema)
def withdraw_request(request_id):
    """A dealer administrator takes back its dealer's pending request; a decided (or withdrawn) one answers 409."""
    return requests.withdraw(current_user, _request(request_id))


@blp.route("/credit-requests/<int:request_id>/forward", methods=["POST"])
@requires("credit_requests.decide")
@tenant_route("credit_request")
@blp.arguments(CreditRequestDecisionSchema)
@blp.response(200, CreditRequestSchema)
def forward_request(body, request_id):
    """A region manager passes a request within its limit on to finance."""
    return requests.forward(current_user, _request(request_id), body.get("comment"))
