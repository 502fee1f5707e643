"""What the orders domain tells other domains (connected in `portal.wiring`). Each receiver gets
`(actor, order=order)` inside the order's transaction."""

from __future__ import annotations

from portal.platform.events import Signal

order_approved = Signal(
    "order-approved",
    "An order became `approved` (at placement when it fits the credit, or by an approver): HQ stock allocates its "
    "stock lines, production creates the units of its build-to-order lines.",
)
order_before_cancel = Signal(
    "order-before-cancel",
    "An order is about to be cancelled; a receiver refuses by raising (shipping: nothing may be shipped yet). "
    "Also asked, under `uow.probing`, to decide whether to offer the cancel button.",
)
order_cancelled = Signal(
    "order-cancelled",
    "An order was cancelled: HQ stock gives back its allocations.",
)
order_before_amend = Signal(
    "order-before-amend",
    "An order is about to be amended; a receiver refuses by raising `Conflict(code='not_amendable')` (shipping: "
    "nothing may be shipped yet). Also asked under `uow.probing` to decide whether to offer the amend button.",
)
order_amended = Signal(
    "order-amended",
    "An order's lines changed (`removed`: the lines about to be deleted; `was_approved`: whether it was approved "
    "before). HQ stock trims or backorders its stock lines and releases what removed lines held; production adds or "
    "removes units of build-to-order lines. An order now out of `approved` holds nothing and has no units.",
)
