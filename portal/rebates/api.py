"""Rebates API (PRODUCT.md §11, portal/rebates/README.md)."""

from __future__ import annotations

from flask_login import current_user

from portal.platform.api import api_blueprint, page_of, paginate
from portal.platform.auth import requires
from portal.platform.tenancy import current_scope, dealer_or_404, tenant_route
from portal.rebates import services
from portal.rebates.models import RebateProgramme, RebateSettlement
from portal.rebates.schemas import (
    RebateAdjustSchema,
    RebateApproveAllSchema,
    RebateDealerProgressListSchema,
    RebateProgrammeCreateSchema,
    RebateProgrammeQuerySchema,
    RebateProgrammeSchema,
    RebateProgrammeSummarySchema,
    RebateProgrammeUpdateSchema,
    RebateProgressQuerySchema,
    RebateProgressSchema,
    RebateSettlementQuerySchema,
    RebateSettlementSchema,
)
from portal.statements.schemas import JobStartedSchema

blp = api_blueprint("api_rebates", __name__, "Rebates")


def _programme(code: str) -> RebateProgramme:
    return current_scope().get_or_404(RebateProgramme, code=code)


def _settlement(code: str, dealer: str) -> RebateSettlement:
    scope = current_scope()
    programme = scope.get_or_404(RebateProgramme, code=code)
    dealer_obj = dealer_or_404(dealer)
    return scope.get_or_404(RebateSettlement, programme_id=programme.id, dealer_id=dealer_obj.id)


@blp.route("/rebates", methods=["GET"])
@requires("rebates.read")
@blp.arguments(RebateProgrammeQuerySchema, location="query")
@blp.response(200, page_of(RebateProgrammeSummarySchema))
def list_programmes(args):
    """Programmes in scope, newest period first (regions and dealers: those covering them, drafts excluded)."""
    page, per_page = args.pop("page"), args.pop("per_page")
    return paginate(services.programmes_query(current_scope(), **args), page, per_page)


@blp.route("/rebates", methods=["POST"])
@requires("rebates.manage")
@blp.arguments(RebateProgrammeCreateSchema)
@blp.response(201, RebateProgrammeSchema)
def create_programme(body):
    """A draft programme; every problem of the body is answered at once (422, tier problems under `tiers`)."""
    return services.save_programme(current_user, body)


@blp.route("/rebates/<code>", methods=["GET"])
@requires("rebates.read")
@tenant_route("rebate")
@blp.response(200, RebateProgrammeSchema)
def get_programme(code):
    return _programme(code)


@blp.route("/rebates/<code>", methods=["PUT"])
@requires("rebates.manage")
@tenant_route("rebate")
@blp.arguments(RebateProgrammeUpdateSchema)
@blp.response(200, RebateProgrammeSchema)
def update_programme(body, code):
    """Edit a draft (fields left out keep their value); active or closed: name, name_en, description only."""
    return services.save_programme(current_user, body, _programme(code))


@blp.route("/rebates/<code>/activate", methods=["POST"])
@requires("rebates.manage")
@tenant_route("rebate")
@blp.response(200, RebateProgrammeSchema)
def activate(code):
    """draft → active: dealers see their progress; tiers, basis, scope and period are frozen."""
    return services.activate(current_user, _programme(code))


@blp.route("/rebates/<code>/close", methods=["POST"])
@requires("rebates.manage")
@tenant_route("rebate")
@blp.response(200, RebateProgrammeSchema)
def close(code):
    """active → closed (computing the settlement closes it too)."""
    return services.close(current_user, _programme(code))


@blp.route("/rebates/<code>/progress", methods=["GET"])
@requires("rebates.read")
@tenant_route("rebate")
@blp.arguments(RebateProgressQuerySchema, location="query")
@blp.response(200, RebateProgressSchema)
def progress(args, code):
    """Each covered dealer in scope: basis so far, tier reached, accrued rebate, what the next tier needs (a dealer:
    its own row)."""
    programme = _programme(code)
    return services.progress(current_scope(), programme, as_of=args.get("as_of"), dealer_code=args.get("dealer"))


@blp.route("/rebates/<code>/settlements", methods=["POST"])
@requires("rebates.settle")
@tenant_route("rebate")
@blp.response(202, JobStartedSchema)
def start_settlement(code):
    """Compute or refresh the settlements once the period has ended (409 `period_not_ended` before); follow the job
    at GET /jobs/{id}."""
    return {"job_id": services.start_settlement(current_user, _programme(code)).id}


@blp.route("/rebates/<code>/settlements", methods=["GET"])
@requires("rebates.read")
@tenant_route("rebate")
@blp.arguments(RebateSettlementQuerySchema, location="query")
@blp.response(200, page_of(RebateSettlementSchema))
def list_settlements(args, code):
    """The programme's settlements in scope (a dealer: its own, once approved)."""
    page, per_page = args.pop("page"), args.pop("per_page")
    return paginate(services.settlements_query(current_scope(), _programme(code), **args), page, per_page)


@blp.route("/rebates/<code>/settlements/<dealer>/adjust", methods=["POST"])
@requires("rebates.settle")
@tenant_route("rebate_settlement")
@blp.arguments(RebateAdjustSchema)
@blp.response(200, RebateSettlementSchema)
def adjust(body, code, dealer):
    """Finance's signed adjustment of a computed settlement, with a reason (409 `already_approved` once approved)."""
    return services.adjust(current_user, _settlement(code, dealer), body["amount"], body["reason"])


@blp.route("/rebates/<code>/settlements/<dealer>/approve", methods=["POST"])
@requires("rebates.settle")
@tenant_route("rebate_settlement")
@blp.response(200, RebateSettlementSchema)
def approve(code, dealer):
    """Approve one dealer's settlement: one credit note on its ledger (409 `already_approved` the second time)."""
    return services.approve(current_user, _settlement(code, dealer))


@blp.route("/rebates/<code>/settlements/approve", methods=["POST"])
@requires("rebates.settle")
@tenant_route("rebate")
@blp.response(200, RebateApproveAllSchema)
def approve_all(code):
    """Approve every computed settlement of the programme."""
    return services.approve_all(current_user, _programme(code))


@blp.route("/dealers/<code>/rebates", methods=["GET"])
@requires("rebates.read")
@tenant_route("dealer")
@blp.response(200, RebateDealerProgressListSchema)
def dealer_rebates(code):
    """The dealer's progress in every active programme covering it (and those closed in the last 45 days)."""
    scope = current_scope()
    return {"items": services.dealer_progress(scope, dealer_or_404(code))}
