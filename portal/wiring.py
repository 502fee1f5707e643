"""Every connection between domains, in one table, connected once by `create_app`.

A domain declares what it tells others in its `events.py` (blinker signals, `portal.platform.events`); who reacts,
and in which order, is decided here and nowhere else. Importing a module never changes what another module does,
so the credit gate counts every open order whichever modules a process imported, and the order of the reactions to
an approval (allocate HQ stock, then make the units) is the order of this table.
"""

from __future__ import annotations


def connections() -> tuple[tuple, ...]:
    """(signal, receiver) in call order per signal."""
    from portal.credit import events as credit_events
    from portal.credit import notices
    from portal.inventory import hq
    from portal.orders import events as order_events
    from portal.orders import services as orders
    from portal.production import services as production
    from portal.shipping import events as shipping_events
    from portal.shipping import services as shipping

    return (
        # exposure (§3): approved, in production and built orders' gross, less what of them is shipped (invoiced)
        (credit_events.open_order_exposure, orders.open_orders_gross),
        (credit_events.open_order_exposure, shipping.shipped_value),
        # an approved order: HQ stock allocates its stock lines, then production makes its build-to-order units
        (order_events.order_approved, hq.allocate_order),
        (order_events.order_approved, production.create_units),
        # cancelling: refused once anything is shipped; once cancelled, the allocations go back
        (order_events.order_before_cancel, shipping.refuse_cancel_after_shipping),
        (order_events.order_cancelled, hq.release_order),
        # amending: refused once anything is shipped; then HQ stock and production follow the new lines
        (order_events.order_before_amend, shipping.refuse_amend_after_shipping),
        (order_events.order_amended, hq.follow_amendment),
        (order_events.order_amended, production.follow_amendment),
        # shipping: the stock quantities leave HQ's warehouses (or the shipment is refused)
        (shipping_events.goods_shipped, hq.consume_shipment),
        # a posted payment matches the dealer's payment notice with its reference and amount (§14)
        (credit_events.payment_posted, notices.match_posted),
    )


def connect(app=None) -> None:
    """Connect every receiver (idempotent: a second app in the same process connects nothing twice)."""
    for signal, receiver in connections():
        signal.connect(receiver, weak=False)
