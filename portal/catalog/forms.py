"""Browser forms for the catalogue and price lists (Flask-WTF: CSRF on every form).

Amounts and rates are typed as text and parsed strictly in the view (never float); business rules live in
portal.catalog.services.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, DateField, FieldList, Form, FormField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from portal.catalog.labels import OPTION_GROUP_LABELS
from portal.catalog.option_admin import LABEL_MAX, POSITION_RANGE
from portal.catalog.services import PRIORITY_RANGE


class MoneyField(StringField):
    """An amount typed as text, parsed with portal.platform.money.parse_money."""


class ProductForm(FlaskForm):
    sku = StringField(_l("SKU"), validators=[DataRequired(), Length(max=40)])
    name = StringField(_l("Name (Chinese)"), validators=[DataRequired(), Length(max=200)])
    name_en = StringField(_l("Name (English)"), validators=[Optional(), Length(max=200)])
    category = StringField(_l("Category"), validators=[DataRequired(), Length(max=60)])
    unit = StringField(_l("Unit"), validators=[DataRequired(), Length(max=16)])
    list_price = MoneyField(
        _l("List price (CNY, net of tax)"),
        validators=[DataRequired(), Length(max=20)],
        description=_l("The dealer base price before price policies."),
    )
    tax_rate = StringField(
        _l("Tax rate"), default="0.13", validators=[DataRequired(), Length(max=8)], description=_l("e.g. 0.13")
    )
    min_resale_price = MoneyField(
        _l("Minimum resale price (CNY)"),
        validators=[Optional(), Length(max=20)],
        description=_l("Floor for price monitoring of sell-through; empty: none."),
    )
    build_to_order = BooleanField(_l("Built to order (each unit tracked)"))
    lead_time_days = IntegerField(
        _l("Lead time (days)"),
        default=0,
        validators=[InputRequired(message=_l("A whole number of days.")), NumberRange(min=0, max=3650)],
    )
    active = BooleanField(_l("Active"), default=True)


class ProductImportForm(FlaskForm):
    file = FileField(
        _l("Product file (CSV, UTF-8)"),
        validators=[FileRequired()],
        description=_l(
            "Columns: sku, name, name_en, category, unit, list_price, tax_rate, min_resale_price, build_to_order, "
            "lead_time_days, active. Existing SKUs are updated, new ones created; the file is applied whole or not at "
            "all."
        ),
    )


class RuleForm(Form):
    """One row of a price list's rules table (a sub-form: the page's CSRF token covers it)."""

    sku = StringField(_l("SKU"), validators=[Optional(), Length(max=40)])
    category = StringField(_l("Category"), validators=[Optional(), Length(max=60)])
    min_qty = StringField(_l("From quantity"), validators=[Optional(), Length(max=7)])
    unit_price = MoneyField(_l("Unit price (CNY)"), validators=[Optional(), Length(max=20)])
    discount_pct = StringField(_l("Discount (%)"), validators=[Optional(), Length(max=8)])

    def is_blank(self) -> bool:
        return not any((f.data or "").strip() for f in (self.sku, self.category, self.unit_price, self.discount_pct))


class PriceListForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    scope = StringField(
        _l("Applies to"),
        validators=[DataRequired(), Length(max=50)],
        description=_l("all, tier:A (or B, C), region:EAST (a region and its sub-regions) or dealer:SH-001."),
    )
    valid_from = DateField(_l("Valid from"), validators=[Optional()])
    valid_to = DateField(_l("Valid until"), validators=[Optional()], description=_l("Empty: open ended."))
    priority = IntegerField(
        _l("Priority"),
        default=0,
        validators=[InputRequired(message=_l("A whole number.")), NumberRange(*PRIORITY_RANGE)],
        description=_l("Among lists of the same scope, the higher priority wins."),
    )
    active = BooleanField(_l("Active"), default=True)
    rules = FieldList(FormField(RuleForm), min_entries=5)


class PricePreviewForm(FlaskForm):
    class Meta:
        csrf = False  # a read-only GET form

    dealer = StringField(_l("Dealer code"), validators=[DataRequired(), Length(max=32)])
    sku = StringField(_l("SKU"), validators=[DataRequired(), Length(max=40)])
    qty = IntegerField(
        _l("Quantity"),
        default=1,
        validators=[InputRequired(message=_l("A whole number.")), NumberRange(min=1, max=100000)],
    )
    on = DateField(_l("On"), validators=[Optional()])


class CategoryForm(FlaskForm):
    """A category's names; its code (what products carry) never changes."""

    name = StringField(_l("Name (Chinese)"), validators=[DataRequired(), Length(max=120)])
    name_en = StringField(_l("Name (English)"), validators=[DataRequired(), Length(max=120)])


class OptionEditForm(FlaskForm):
    """An option's labels, price delta, default mark and position (its group and code never change)."""

    label = StringField(_l("Label (Chinese)"), validators=[DataRequired(), Length(max=LABEL_MAX)])
    label_en = StringField(_l("Label (English)"), validators=[DataRequired(), Length(max=LABEL_MAX)])
    price_delta = MoneyField(
        _l("Price delta (CNY, net of tax)"),
        default="0.00",
        validators=[Optional(), Length(max=20)],
        description=_l("Added to the list price, then priced by the dealer's price policy; 0 for none."),
    )
    position = IntegerField(
        _l("Position"),
        default=0,
        validators=[InputRequired(message=_l("A whole number.")), NumberRange(*POSITION_RANGE)],
        description=_l("Smaller first within the group."),
    )
    is_default = BooleanField(
        _l("Default of its group"), description=_l("Taken when an order line does not choose in this group.")
    )


class OptionForm(OptionEditForm):
    """A new option of a build-to-order product."""

    group = SelectField(
        _l("Group"), choices=lambda: [SelectChoice(g, label) for g, label in OPTION_GROUP_LABELS.items()]
    )
    code = StringField(
        _l("Code"),
        validators=[DataRequired(), Length(max=20)],
        description=_l("Capital letters, digits and -, e.g. WHT; unique within the group."),
    )
