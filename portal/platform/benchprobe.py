"""A baseline endpoint for the order benchmark, mounted only with PORTAL_BENCH_ENDPOINTS=1.

`POST /api/v1/bench/baseline` authenticates like any API call, validates a small JSON body and inserts one
row (an audit entry) in one transaction — everything an order submission does except pricing and the credit
gate, so the benchmark's ratio shows what the business logic costs."""

from __future__ import annotations

from flask_login import current_user
from marshmallow import fields

from portal.audit.services import record
from portal.platform.api import StrictSchema, api_blueprint
from portal.platform.auth import requires

blp = api_blueprint("api_bench", __name__, "Benchmark baseline (only with PORTAL_BENCH_ENDPOINTS=1)")


class BaselineSchema(StrictSchema):
    lines = fields.List(fields.Dict(), required=True)
    note = fields.String(allow_none=True)


@blp.route("/bench/baseline", methods=["POST"])
@requires("orders.place")
@blp.arguments(BaselineSchema)
@blp.response(201, BaselineSchema)
def baseline(body):
    record(current_user, "bench.baseline", "bench", str(len(body["lines"])), dealer_id=current_user.dealer_id)
    return body
