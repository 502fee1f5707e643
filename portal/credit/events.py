"""The credit domain's extension point (connected in `portal.wiring`)."""

from __future__ import annotations

from portal.platform.events import Signal

open_order_exposure = Signal(
    "open-order-exposure",
    "Called with the dealer id column; each receiver answers a scalar SQL expression of money that counts towards "
    "the dealer's open-order exposure (§3: approved orders not yet invoiced). Orders add the gross of approved, in "
    "production and built orders; shipping takes off what of them is already shipped (so invoiced).",
)
payment_posted = Signal(
    "payment-posted",
    "Payments were posted (by hand, by the API, from a file or a bank statement), after they were applied: receivers "
    "get `(actor, payments=[entry, …])` in the same transaction — one payment, or a bank statement's all at once. "
    "Payment notices with the same reference and amount are matched.",
)
