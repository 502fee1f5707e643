"""Targets forms (PRODUCT.md §15): the grid (its cells are read from the request by `views`; the form carries the
CSRF token) and the file import."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired


class GridForm(FlaskForm):
    """The targets grid: one text input per editable cell, named `t:<scope>:<YYYY-MM>`."""


class TargetImportForm(FlaskForm):
    file = FileField(_l("Targets file (CSV or XLSX)"), validators=[FileRequired()])
