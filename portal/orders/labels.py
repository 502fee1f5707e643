"""How order statuses are named to people (pages, notifications and messages), in their language."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

ORDER_STATUS_LABELS = {
    "submitted": _l("Submitted"),
    "credit_review": _l("Credit review"),
    "approved": _l("Approved"),
    "in_production": _l("In production"),
    "built": _l("Built"),
    "shipped": _l("Shipped"),
    "delivered": _l("Delivered"),
    "rejected": _l("Rejected"),
    "cancelled": _l("Cancelled"),
}
