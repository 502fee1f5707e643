"""Browser forms for orders (Flask-WTF: CSRF on every form). Lines are posted as sku[] / quantity[] and read in
the view; prices are never taken from the browser."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import Length, Optional


class OrderForm(FlaskForm):
    q = StringField(_l("Search the catalogue"), validators=[Optional(), Length(max=100)])
    note = TextAreaField(_l("Note for HQ (optional)"), validators=[Optional(), Length(max=1000)])
    key = HiddenField(validators=[Optional(), Length(max=100)])  # Idempotency-Key: a double submit places one order


class ActionForm(FlaskForm):
    comment = TextAreaField(_l("Comment"), validators=[Optional(), Length(max=1000)])
