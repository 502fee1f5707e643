"""What the shipping domain tells other domains (connected in `portal.wiring`)."""

from __future__ import annotations

from portal.platform.events import Signal

goods_shipped = Signal(
    "goods-shipped",
    "A shipment and its lines are flushed: receivers get `(actor, order=, shipment=, quantities_by_line=)` with "
    "{order line id: quantity shipped now}; HQ stock takes the stock quantities out of its warehouses, or refuses "
    "(raises) and the shipment writes nothing.",
)
