"""Every action the portal writes to the audit log has a label in both languages (the audit page and the HQ home
page show the label; a missing one showed the raw action name)."""

from __future__ import annotations

import ast
from pathlib import Path

from flask_babel import force_locale

from portal.orders.models import STATUSES
from portal.platform.web import AUDIT_ACTION_LABELS

PORTAL = Path(__file__).resolve().parent.parent / "portal"
# actions built at run time (f-strings and conditionals), spelled out
COMPUTED = {
    "portal/orders/services.py": {f"order.{s}" for s in STATUSES if s not in ("submitted", "credit_review")},
    "portal/statements/services.py": {"dispute.credit_note", "dispute.adjustment", "dispute.reject"},
    "portal/catalog/services.py": {"price_list.create", "price_list.update"},
    "portal/rebates/services.py": {"rebate.activate", "rebate.close"},
}
NOT_SHOWN = {"bench.baseline"}  # the benchmark's own endpoint (PORTAL_BENCH_ENDPOINTS), never in production


def recorded_actions() -> tuple[set[str], set[str]]:
    """The action strings passed to audit `record(actor, action, …)` calls, and the files computing theirs."""
    literal, computed_in = set(), set()
    for path in PORTAL.rglob("*.py"):
        tree = ast.parse(path.read_text())
        # the names portal.audit.services.record goes by in this file (`record`, `audit`, …)
        names = {
            alias.asname or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module == "portal.audit.services"
            for alias in node.names
            if alias.name == "record"
        }
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and len(node.args) >= 2):
                continue
            if getattr(node.func, "id", None) not in names:
                continue
            action = node.args[1]
            if isinstance(action, ast.Constant) and isinstance(action.value, str) and "." in action.value:
                literal.add(action.value)
            elif isinstance(action, (ast.JoinedStr, ast.IfExp)):
                computed_in.add(str(path.relative_to(PORTAL.parent)))
    return literal, computed_in


def test_every_recorded_action_has_a_label(app):
    literal, computed_in = recorded_actions()
    assert computed_in == set(COMPUTED), "a record() call computes its action: spell its values out in COMPUTED"
    actions = (literal | set().union(*COMPUTED.values())) - NOT_SHOWN
    assert len(actions) > 40
    missing = sorted(a for a in actions if a not in AUDIT_ACTION_LABELS)
    assert not missing, f"audit actions without a label: {missing}"
    with app.test_request_context():
        for action in actions:
            with force_locale("en"):
                english = str(AUDIT_ACTION_LABELS[action])
            with force_locale("zh_CN"):
                chinese = str(AUDIT_ACTION_LABELS[action])
            assert chinese != english, f"{action}: no Chinese label"
