"""Browser forms for statements (Flask-WTF: CSRF on every form). The forms only carry the input; the rules (a month
that has ended, known dealers, a comment that says what is wrong, an amount for a credit note...) are the services'
and come back as their field errors. The disputed lines (checkboxes `line_id`) are read in the view."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from portal.platform.web import as_choices
from portal.statements.services import MAX_COMMENT


class RunForm(FlaskForm):
    period = StringField(_l("Month"), validators=[Length(max=7)], description=_l("A month that has ended."))
    dealer_codes = TextAreaField(
        _l("Dealer codes (optional)"),
        validators=[Optional(), Length(max=50000)],
        description=_l("Separated by commas, spaces or new lines; empty: every dealer."),
    )


class DealerRunForm(FlaskForm):
    dealer_code = StringField(_l("Dealer code"), validators=[Length(max=32)])
    period = StringField(_l("Month"), validators=[Length(max=7)])


class ConfirmForm(FlaskForm):
    comment = TextAreaField(_l("Comment (optional)"), validators=[Optional(), Length(max=MAX_COMMENT)])


class DisputeForm(FlaskForm):
    comment = TextAreaField(_l("What is wrong with the lines you ticked?"), validators=[Length(max=MAX_COMMENT)])


class CommentForm(FlaskForm):
    body = TextAreaField(_l("Message"), validators=[Length(max=MAX_COMMENT)])


RESOLVE_ACTIONS = as_choices(
    (
        ("credit_note", _l("Credit note (posted in the month, re-issues the statement)")),
        ("adjustment", _l("Adjustment (already corrected in the ledger, re-issues the statement)")),
        ("reject", _l("Reject (with the reason)")),
    )
)


class ResolveForm(FlaskForm):
    action = SelectField(_l("Resolution"), choices=RESOLVE_ACTIONS)
    amount = StringField(_l("Credit note amount (CNY)"), validators=[Optional(), Length(max=20)])
    issued_on = DateField(
        _l("Credit note date"), validators=[Optional()], description=_l("Empty: the last day of the month.")
    )
    reason = TextAreaField(_l("Reason"), validators=[Length(max=MAX_COMMENT)])


class RetryForm(FlaskForm):
    pass
