from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional


class MoneyField(StringField):
    """Amounts are typed as text and parsed by the service layer's strict parser (never float)."""


class InvoiceForm(FlaskForm):
    dealer_code = SelectField(_l("Dealer"), validators=[DataRequired()])
    number = StringField(_l("Invoice number"), validators=[DataRequired(), Length(max=64)])
    issued_on = DateField(_l("Issued on"), validators=[DataRequired()])
    due_on = DateField(
        _l("Due on"), validators=[Optional()], description=_l("Empty: the issue date plus the dealer's payment terms.")
    )
    amount = MoneyField(_l("Amount (gross, CNY)"), validators=[DataRequired(), Length(max=20)])
    order_number = StringField(_l("Order number"), validators=[Optional(), Length(max=32)])


class PaymentForm(FlaskForm):
    dealer_code = SelectField(_l("Dealer"), validators=[DataRequired()])
    amount = MoneyField(_l("Amount (CNY)"), validators=[DataRequired(), Length(max=20)])
    received_on = DateField(_l("Received on"), validators=[DataRequired()])
    reference = StringField(_l("Bank reference"), validators=[DataRequired(), Length(max=64)])


class CreditNoteForm(FlaskForm):
    dealer_code = SelectField(_l("Dealer"), validators=[DataRequired()])
    amount = MoneyField(_l("Amount (CNY)"), validators=[DataRequired(), Length(max=20)])
    issued_on = DateField(_l("Issued on"), validators=[DataRequired()])
    invoice_number = StringField(_l("For invoice (optional)"), validators=[Optional(), Length(max=64)])
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=500)])


class ImportForm(FlaskForm):
    file = FileField(_l("Bank file (CSV or XLSX)"), validators=[FileRequired()])


class LimitForm(FlaskForm):
    amount = MoneyField(_l("New credit limit (CNY)"), validators=[DataRequired(), Length(max=20)])
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=300)])


class IncreaseForm(FlaskForm):
    amount = MoneyField(_l("Temporary increase (CNY)"), validators=[DataRequired(), Length(max=20)])
    valid_from = DateField(_l("Valid from"), validators=[DataRequired()])
    valid_until = DateField(_l("Valid until"), validators=[DataRequired()])
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=300)])


class HoldForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=300)])


class ApplyForm(FlaskForm):
    invoice_number = SelectField(_l("Invoice"), validators=[DataRequired()])
    amount = MoneyField(_l("Amount (CNY)"), validators=[DataRequired(), Length(max=20)])


class ReverseForm(FlaskForm):
    pass
