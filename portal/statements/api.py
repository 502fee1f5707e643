"""JSON API for statements, runs and disputes (PRODUCT.md §6, §9.1)."""

from __future__ import annotations

from flask import Response
from flask_login import current_user

from portal.background.models import JobRecord
from portal.platform.api import api_blueprint, page_of, paginate
from portal.platform.auth import requires
from portal.platform.tenancy import current_scope, dealer_or_404, not_tenant_route, tenant_route
from portal.statements import runs, services
from portal.statements.models import Dispute, Statement
from portal.statements.schemas import (
    ConfirmSchema,
    DealerStatementCreateSchema,
    DisputeCreateSchema,
    DisputeQuerySchema,
    DisputeSchema,
    JobStartedSchema,
    MessageSchema,
    ResolveSchema,
    RetrySchema,
    RunCreateSchema,
    StatementCommentSchema,
    StatementQuerySchema,
    StatementSchema,
    StatementSummarySchema,
)

blp = api_blueprint("api_statements", __name__, "Statements")


def detail(statement: Statement) -> Statement:
    """A statement with its lines, its disputes and the conversation of its month (read by StatementSchema)."""
    statement.disputes = services.disputes_of(statement)
    statement.conversation = services.thread(statement)
    return statement


@blp.route("/statements/runs", methods=["POST"])
@requires("statements.issue")
@not_tenant_route("a run covers the dealers finance names, or all of them")
@blp.arguments(RunCreateSchema)
@blp.response(202, JobStartedSchema)
def start_run(body):
    """Start the monthly run for a closed month: one job per dealer; follow it at GET /jobs/{id}."""
    record = runs.start_run(current_user, body["period"], body.get("dealer_codes"))
    return {"job_id": record.id}


@blp.route("/statements/runs/<job_id>/retry", methods=["POST"])
@requires("statements.issue")
@tenant_route("job")
@blp.response(202, RetrySchema)
def retry_run(job_id):
    """Queue again the dealers of a run that failed or never finished (e.g. their worker died); the others stay."""
    record = current_scope().get_or_404(JobRecord, id=job_id)
    pending = runs.retry(current_user, record)
    return {"job_id": record.id, "queued": len(pending)}


@blp.route("/dealers/<code>/statements", methods=["POST"])
@requires("statements.issue")
@tenant_route("dealer")
@blp.arguments(DealerStatementCreateSchema)
@blp.response(202, JobStartedSchema)
def issue_for_dealer(body, code):
    """A statement for one dealer on demand (a run of one dealer): a new version only if the ledger changed."""
    dealer = dealer_or_404(code)
    record = runs.start_run(current_user, body["period"], [dealer.code])
    return {"job_id": record.id}


@blp.route("/statements", methods=["GET"])
@requires("statements.read")
@blp.arguments(StatementQuerySchema, location="query")
@blp.response(200, page_of(StatementSummarySchema))
def list_statements(args):
    """Statements in scope; the current version of each month unless `all_versions`."""
    page, per_page = args.pop("page"), args.pop("per_page")
    return paginate(services.statements_query(current_scope(), **args), page, per_page)


@blp.route("/statements/<int:statement_id>", methods=["GET"])
@requires("statements.read")
@tenant_route("statement")
@blp.response(200, StatementSchema)
def get_statement(statement_id):
    return detail(current_scope().get_or_404(Statement, id=statement_id))


@blp.route("/statements/<int:statement_id>/pdf", methods=["GET"])
@requires("statements.read")
@tenant_route("statement")
@blp.response(200, content_type="application/pdf")
def statement_pdf(statement_id):
    """The statement as issued, as PDF."""
    statement = current_scope().get_or_404(Statement, id=statement_id)
    return Response(
        services.pdf_file(statement).read_bytes(),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{statement.number}-v{statement.version}.pdf"'},
    )


@blp.route("/statements/<int:statement_id>/confirm", methods=["POST"])
@requires("statements.reconcile")
@tenant_route("statement")
@blp.arguments(ConfirmSchema)
@blp.response(200, StatementSchema)
def confirm(body, statement_id):
    """The dealer confirms the current version (对账确认)."""
    statement = current_scope().get_or_404(Statement, id=statement_id)
    return detail(services.confirm(current_user, statement, body.get("comment")))


@blp.route("/statements/<int:statement_id>/disputes", methods=["POST"])
@requires("statements.reconcile")
@tenant_route("statement")
@blp.arguments(DisputeCreateSchema)
@blp.response(201, DisputeSchema)
def open_dispute(body, statement_id):
    """The dealer disputes lines of the current version, with a comment."""
    statement = current_scope().get_or_404(Statement, id=statement_id)
    return services.dispute(current_user, statement, body["line_ids"], body["comment"])


@blp.route("/statements/<int:statement_id>/comments", methods=["POST"])
@requires("statements.comment")
@tenant_route("statement")
@blp.arguments(StatementCommentSchema)
@blp.response(201, MessageSchema)
def comment(body, statement_id):
    """A message in the statement's conversation (dealer_admin or finance)."""
    statement = current_scope().get_or_404(Statement, id=statement_id)
    return services.add_comment(current_user, statement, body["body"])


@blp.route("/disputes", methods=["GET"])
@requires("statements.read")
@blp.arguments(DisputeQuerySchema, location="query")
@blp.response(200, page_of(DisputeSchema))
def list_disputes(args):
    """Disputes in scope (finance's queue: `status=open`)."""
    page, per_page = args.pop("page"), args.pop("per_page")
    return paginate(services.disputes_query(current_scope(), **args), page, per_page)


@blp.route("/disputes/<int:dispute_id>", methods=["GET"])
@requires("statements.read")
@tenant_route("dispute")
@blp.response(200, DisputeSchema)
def get_dispute(dispute_id):
    return current_scope().get_or_404(Dispute, id=dispute_id)


@blp.route("/disputes/<int:dispute_id>/resolve", methods=["POST"])
@requires("disputes.resolve")
@tenant_route("dispute")
@blp.arguments(ResolveSchema)
@blp.response(200, DisputeSchema)
def resolve(body, dispute_id):
    """Finance settles a dispute: a credit note or an adjustment (re-issues the month), or a rejection."""
    item = current_scope().get_or_404(Dispute, id=dispute_id)
    return services.resolve(
        current_user, item, action=body["action"], reason=body["reason"], amount=body.get("amount"),
        issued_on=body.get("issued_on"),
    )  # fmt: skip
