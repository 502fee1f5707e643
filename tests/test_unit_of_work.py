"""One action, one transaction, decided by the action's outcome: a domain error raised in a request rolls it back
whatever the view answers — a view that catches it after a service flushed and redirects (302) commits nothing —
while a check that only asks whether an action would pass (`uow.probing`) does not spoil the request."""

from __future__ import annotations

import pytest
from flask import Blueprint, redirect

from portal.dealers.models import Region
from portal.extensions import db
from portal.platform.errors import Conflict
from portal.platform.uow import probing
from tests.conftest import make_app


def _flush_region(code: str) -> None:
    db.session.add(Region(code=code, name=code, path=f"/{code}/"))
    db.session.flush()


@pytest.fixture
def uow_app(app):
    """A second app on the same database with three views that flush a region, then meet a domain error."""
    views = Blueprint("uow_probe", __name__)

    @views.route("/uow/caught", methods=["POST"])
    def caught():
        _flush_region("CAUGHT")
        try:
            raise Conflict("refused after a flush")
        except Conflict:
            return redirect("/somewhere")  # a 302: the old rule committed on any answer below 400

    @views.route("/uow/probed", methods=["POST"])
    def probed():
        _flush_region("PROBED")
        try:
            with probing():
                raise Conflict("would be refused")
        except Conflict:
            pass
        return redirect("/somewhere")

    @views.route("/uow/clean", methods=["POST"])
    def clean():
        _flush_region("CLEAN")
        return redirect("/somewhere")

    second = make_app(app.config["SQLALCHEMY_DATABASE_URI"], WTF_CSRF_ENABLED=False)
    second.register_blueprint(views)
    return second


@pytest.mark.parametrize("path, code, kept", [("/uow/caught", "CAUGHT", False), ("/uow/probed", "PROBED", True),
                                              ("/uow/clean", "CLEAN", True)])  # fmt: skip
def test_a_caught_domain_error_rolls_the_request_back(uow_app, world, path, code, kept):
    answer = uow_app.test_client().post(path)
    assert answer.status_code == 302
    assert world.count(Region, code=code) == (1 if kept else 0)

