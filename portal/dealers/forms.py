"""Browser forms (Flask-WTF: CSRF on every form). Business rules live in services, not here."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.validators import Email as EmailValidator

from portal.dealers.models import CHANNEL_TYPES, CONTACT_ROLES, DEALER_STATUSES, ROLES, TIERS
from portal.dealers.services import MIN_PASSWORD
from portal.platform.web import CHANNEL_TYPE_LABELS, ROLE_LABELS, STATUS_LABELS, as_choices

LANG_CHOICES = [("zh_CN", "简体中文"), ("en", "English")]


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])


class RegionForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=32)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    parent_code = SelectField(_l("Parent region"), validators=[Optional()])
    approval_limit = StringField(
        _l("Approval limit (CNY)"),
        validators=[Optional(), Length(max=20)],
        description=_l(
            "Orders whose excess over available credit is within this amount may be approved by the region manager."
        ),
    )


class DealerForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=32)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    parent_code = SelectField(
        _l("Distributor"),
        validators=[Optional()],
        description=_l("A sub-dealer buys from its distributor, not from HQ, and is in its region."),
    )
    # required for a dealer that buys from HQ (the service says so); a sub-dealer takes its distributor's
    region_code = SelectField(_l("Region"), validators=[Optional()])
    tier = SelectField(_l("Tier"), choices=as_choices((t, t) for t in TIERS))
    channel_type = SelectField(
        _l("Channel type"), choices=as_choices((c, CHANNEL_TYPE_LABELS[c]) for c in CHANNEL_TYPES)
    )
    payment_terms_days = IntegerField(
        _l("Payment terms (days)"),
        default=30,
        validators=[InputRequired(message=_l("A whole number of days.")), NumberRange(min=0, max=365)],
    )
    status = SelectField(_l("Status"), choices=as_choices((s, STATUS_LABELS[s]) for s in DEALER_STATUSES))
    contact_name = StringField(_l("Contact"), validators=[Optional(), Length(max=120)])
    contact_phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40)])
    contact_email = StringField(_l("E-mail"), validators=[Optional(), EmailValidator(), Length(max=200)])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=300)])
    account_manager = SelectField(
        _l("Account manager"),
        validators=[Optional()],
        description=_l("The channel manager or region manager who looks after this dealer."),
    )


CONTACT_ROLE_LABELS = {
    "owner": _l("Owner"),
    "general_manager": _l("General manager"),
    "purchasing": _l("Purchasing"),
    "finance": _l("Finance"),
    "logistics": _l("Logistics"),
    "sales": _l("Sales"),
    "service": _l("After-sales service"),
    "other": _l("Other"),
}


class ContactForm(FlaskForm):
    """Checks the shape; the rules (a phone or an e-mail, the phone's form) are the service's, as for the API."""

    role = SelectField(_l("Role"), choices=as_choices((r, CONTACT_ROLE_LABELS[r]) for r in CONTACT_ROLES))
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40)])
    email = StringField(_l("E-mail"), validators=[Optional(), EmailValidator(), Length(max=200)])


class AddressForm(FlaskForm):
    label = StringField(
        _l("Label"), validators=[DataRequired(), Length(max=60)], description=_l("e.g. Showroom, Warehouse")
    )
    recipient = StringField(_l("Recipient"), validators=[Optional(), Length(max=120)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40)])
    address = StringField(_l("Address"), validators=[DataRequired(), Length(max=300)])
    is_default = BooleanField(_l("Default ship-to address"))


class NoteForm(FlaskForm):
    body = TextAreaField(
        _l("Note"),
        validators=[DataRequired(), Length(max=2000)],
        description=_l("Internal: HQ and the region see it, the dealer never does."),
    )


class ActionForm(FlaskForm):
    """CSRF for a button (remove, make default)."""


class UserForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(min=2, max=64)])
    display_name = StringField(_l("Full name"), validators=[Optional(), Length(max=120)])
    email = StringField(_l("E-mail"), validators=[Optional(), EmailValidator(), Length(max=200)])
    role = SelectField(_l("Role"), choices=as_choices((r, ROLE_LABELS[r]) for r in ROLES))
    dealer_code = SelectField(_l("Dealer"), validators=[Optional()])
    region_code = SelectField(_l("Region"), validators=[Optional()])
    locale = SelectField(_l("Language"), choices=as_choices(LANG_CHOICES))
    active = BooleanField(_l("Active"), default=True)
    password = PasswordField(
        _l("Password"),
        validators=[Optional(), Length(max=256)],
        description=_l("At least %(n)s characters, letters mixed with digits or symbols.", n=MIN_PASSWORD),
    )


class PasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired()])
    password = PasswordField(
        _l("New password"),
        validators=[DataRequired(), Length(max=256)],
        description=_l("At least %(n)s characters, letters mixed with digits or symbols.", n=MIN_PASSWORD),
    )


class LocaleForm(FlaskForm):
    locale = SelectField(_l("Language"), choices=as_choices(LANG_CHOICES))
