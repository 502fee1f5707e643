"""Forms of the collections pages: a contact note and a promise to pay."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from portal.platform.web import as_choices


class ContactForm(FlaskForm):
    channel = SelectField(
        _l("Channel"),
        choices=as_choices(
            [
                ("phone", _l("Phone")),
                ("visit", _l("Visit")),
                ("message", _l("Message")),
                ("email", _l("E-mail")),
                ("other", _l("Other")),
            ]
        ),
        validators=[DataRequired()],
    )
    note = TextAreaField(_l("What was said"), validators=[DataRequired(), Length(max=4000)])


class PromiseForm(FlaskForm):
    amount = StringField(_l("Amount promised (CNY)"), validators=[DataRequired(), Length(max=20)])
    promised_on = DateField(_l("Promised by"), validators=[DataRequired()])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=2000)])
