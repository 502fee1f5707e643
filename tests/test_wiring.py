"""The connections between domains are declared in one table (portal/wiring.py) and made by create_app: each signal
has exactly these receivers in this order — an import that connected one more, or a connection left out, fails
here — and exposure really counts through them (credit never imports orders or shipping)."""

from __future__ import annotations

import ast
from pathlib import Path

from portal import wiring
from portal.credit.events import open_order_exposure, payment_posted
from portal.orders.events import (
    order_amended,
    order_approved,
    order_before_amend,
    order_before_cancel,
    order_cancelled,
)
from portal.shipping.events import goods_shipped

EXPECTED = {
    "open-order-exposure": ["portal.orders.services.open_orders_gross", "portal.shipping.services.shipped_value"],
    "order-approved": ["portal.inventory.hq.allocate_order", "portal.production.services.create_units"],
    "order-before-cancel": ["portal.shipping.services.refuse_cancel_after_shipping"],
    "order-cancelled": ["portal.inventory.hq.release_order"],
    "order-before-amend": ["portal.shipping.services.refuse_amend_after_shipping"],
    "order-amended": ["portal.inventory.hq.follow_amendment", "portal.production.services.follow_amendment"],
    "goods-shipped": ["portal.inventory.hq.consume_shipment"],
    "payment-posted": ["portal.credit.notices.match_posted"],
}
SIGNALS = (
    open_order_exposure,
    order_approved,
    order_before_cancel,
    order_cancelled,
    order_before_amend,
    order_amended,
    goods_shipped,
    payment_posted,
)


def _name(fn) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def test_every_signal_has_exactly_the_declared_receivers_in_order(app):
    assert {s.name: [_name(r) for r in s.receiver_list()] for s in SIGNALS} == EXPECTED
    declared: dict[str, list[str]] = {}
    for signal, receiver in wiring.connections():
        declared.setdefault(signal.name, []).append(_name(receiver))
    assert declared == EXPECTED


def test_connecting_again_changes_nothing(app):
    wiring.connect(app)
    assert {s.name: [_name(r) for r in s.receiver_list()] for s in SIGNALS} == EXPECTED


def test_no_module_connects_or_appends_to_another_domain_at_import():
    """Only portal/wiring.py calls `.connect(`; no module appends to a list of hooks."""
    offenders = []
    for path in Path("portal").rglob("*.py"):
        if path.name == "wiring.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "connect":
                target = ast.unparse(node.func.value)
                if target.endswith(("_approved", "_cancel", "_cancelled", "_shipped", "_exposure")):
                    offenders.append(f"{path}:{node.lineno}")
    assert offenders == []
    assert not Path("portal/credit/services.py").read_text().count("from portal.orders")


def test_exposure_counts_each_provider(client, world):
    """An approved stock order of 3,390.00 gross, a third of it shipped: open orders 2,260.00 + receivables 1,130.00.
    Without open_orders_gross exposure would miss the order; without shipped_value it would count the shipped
    third twice (once as an open order, once as an invoice)."""
    world.region("WIRE")
    dealer = world.dealer(region="WIRE")
    world.credit_limit(dealer, "100000.00")
    world.user("channel_manager", username="wire.cm")
    sku = world.product(list_price="1000.00")
    world.stock(sku, 10, "SH")
    order = world.order(dealer, [(sku, 3)])
    world.shipment(order, [(sku, 1)])
    credit = client.get(f"/api/v1/dealers/{dealer}/credit", headers=world.auth("wire.cm")).get_json()
    assert (credit["open_orders"], credit["open_receivables"], credit["exposure"]) == ("2260.00", "1130.00", "3390.00")


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_presentation_stays_beside_the_views():
    """Services, models and reports never import the web layer (labels, formats); a view never imports another
    domain's views or an api module (shared queries live in services, shared labels in `<domain>/labels.py`)."""
    offenders = []
    for path in sorted(Path("portal").rglob("*.py")):
        imports = _imports(path)
        presentation = path.stem.endswith("views") or path.name in ("forms.py", "__init__.py")
        if not presentation and path.parts[1] != "platform":
            offenders += [f"{path}: {m}" for m in imports if m.startswith("portal.platform.web")]
        if path.stem.endswith("views"):
            offenders += [f"{path}: {m}" for m in imports
                          if m.endswith((".views", ".api")) or ".views." in m or ".api." in m]  # fmt: skip
    assert offenders == []
