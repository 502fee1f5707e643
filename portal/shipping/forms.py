"""Browser forms for shipping (Flask-WTF: CSRF on every form). The units (serial checkboxes) and the stock quantities
(qty-<order line id>) of the ship form are read in the view; prices are never taken from the browser."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField
from wtforms.validators import DataRequired, Length, Optional


class ShipForm(FlaskForm):
    shipped_on = DateField(_l("Ship date"), validators=[DataRequired(message=_l("Choose the ship date."))])
    key = HiddenField(validators=[Optional(), Length(max=100)])  # Idempotency-Key: a double submit ships once


class ReceiveForm(FlaskForm):
    received_on = DateField(_l("Date of receipt"), validators=[DataRequired(message=_l("Choose the date of receipt."))])
