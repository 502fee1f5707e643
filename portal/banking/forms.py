from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional


class PayerAccountForm(FlaskForm):
    account_number = StringField(_l("Account number"), validators=[DataRequired(), Length(max=80)])
    account_name = StringField(_l("Account name"), validators=[DataRequired(), Length(max=120)])


class StatementForm(FlaskForm):
    file = FileField(_l("Bank statement (CSV or XLSX, as the bank exported it)"), validators=[FileRequired()])
    bank = SelectField(_l("Bank layout"), validators=[Optional()])


class AssignForm(FlaskForm):
    dealer_code = StringField(_l("Dealer code"), validators=[DataRequired(), Length(max=32)])
    register_account = BooleanField(_l("Register the payer account for this dealer"))


class DismissForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=300)])
