"""How the channel's ratios are written on pages (channel flow, achievement)."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import format_decimal


def pct(value: Decimal | None) -> str:
    """A fraction as a percentage with one decimal (0.2500 → 25.0%); — for none."""
    return "—" if value is None else format_decimal(value * 100, format="0.0") + "%"
