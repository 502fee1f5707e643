"""Browser forms for rebate programmes and their settlement (Flask-WTF: CSRF on every form).

The forms only carry the input: amounts, thresholds and rates are typed as text and parsed strictly in the view
(never float); the rules (ascending tiers, a basis that fits the tier kind, known SKUs, a period that has ended...)
are the service's and come back as its field errors (portal/rebates/README.md)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, FieldList, Form, FormField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from portal.platform.web import as_choices

TIER_ROWS = 6

BASIS_LABELS = {
    "sell_in_amount": _l("Sell-in amount (shipped, CNY)"),
    "sell_through_amount": _l("Sell-through amount (reported sales, CNY)"),
    "sell_in_units": _l("Sell-in units"),
    "sell_through_units": _l("Sell-through units"),
}
TIER_KIND_LABELS = {
    "percent": _l("Percent of the whole basis"),
    "per_unit": _l("Amount per unit (CNY)"),
}


class TierRowForm(Form):
    """One row of the tiers table (a sub-form: the page's CSRF token covers it)."""

    threshold = StringField(_l("From (basis reached)"), validators=[Optional(), Length(max=20)])
    rate = StringField(_l("Rate"), validators=[Optional(), Length(max=12)])

    def is_blank(self) -> bool:
        return not any((f.data or "").strip() for f in (self.threshold, self.rate))


class ProgrammeForm(FlaskForm):
    code = StringField(_l("Code"), validators=[Length(max=32)], description=_l("e.g. RB-2026Q4-SI; never changes."))
    name = StringField(_l("Name (Chinese)"), validators=[Length(max=200)])
    name_en = StringField(_l("Name (English)"), validators=[Optional(), Length(max=200)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=4000)])
    period_start = DateField(_l("Period from"), validators=[Optional()])
    period_end = DateField(_l("Period until"), validators=[Optional()], description=_l("Both days included."))
    scope = StringField(
        _l("Dealers covered"),
        validators=[Length(max=50)],
        description=_l("all, tier:A (or B, C), region:EAST (a region and its sub-regions) or dealer:SH-001."),
    )
    basis = SelectField(_l("Basis"), choices=as_choices(BASIS_LABELS.items()))
    tier_kind = SelectField(
        _l("Rebate"),
        choices=as_choices(TIER_KIND_LABELS.items()),
        description=_l("Percent for amount bases, an amount per unit for unit bases."),
    )
    cap = StringField(
        _l("Cap per dealer (CNY)"), validators=[Optional(), Length(max=20)], description=_l("Empty: no cap.")
    )
    tiers = FieldList(FormField(TierRowForm), min_entries=TIER_ROWS, max_entries=TIER_ROWS)
    target_skus = StringField(
        _l("Only these SKUs"),
        validators=[Optional(), Length(max=2000)],
        description=_l("Separated by commas; empty: every product (unit bases need a SKU or a category)."),
    )
    target_categories = StringField(
        _l("Only these categories"), validators=[Optional(), Length(max=1000)], description=_l("Separated by commas.")
    )


class ActionForm(FlaskForm):
    """A button that changes state (activate, close, compute, approve): only the CSRF token."""


class AdjustForm(FlaskForm):
    amount = StringField(
        _l("Adjustment (CNY)"), validators=[Length(max=20)], description=_l("Signed: -500.00 lowers the rebate.")
    )
    reason = StringField(_l("Reason"), validators=[Length(max=2000)])
