"""DRP Portal: the application factory."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import g, request, session
from flask_login import current_user
from werkzeug.routing import IntegerConverter

from portal.config import Config
from portal.extensions import babel, bootstrap, csrf, db, login_manager, migrate
from portal.platform.uow import PortalFlask

ROOT = Path(__file__).resolve().parent.parent


def select_locale():
    """The user's own language; before login, the one chosen on the login page, else the browser's — as a Babel
    locale parsed once per process (Flask-Babel would parse the code on every request)."""
    from portal.platform.i18n import parsed_locale

    return parsed_locale(_locale_code())


def _locale_code() -> str:
    from flask import current_app, has_request_context

    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if getattr(current_user, "is_authenticated", False) and getattr(current_user, "locale", None):
        return current_user.locale
    if session.get("locale") in ("zh_CN", "en"):
        return session["locale"]
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"])
    if best is None:
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    return "en" if best == "en" else "zh_CN"


class DatabaseInteger(IntegerConverter):
    """`<int:id>` up to the largest value of the id columns (INTEGER, 2³¹ − 1 on PostgreSQL): a larger id is a 404,
    not a driver error (found by API fuzzing)."""

    def __init__(self, map, fixed_digits=0, min=None, max=2**31 - 1, signed=False):  # noqa: A002 (werkzeug's names)
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def create_app(overrides: dict | None = None) -> PortalFlask:
    app = PortalFlask(
        __name__,
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder="static",
    )
    app.url_map.converters["int"] = DatabaseInteger
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(Config(app.instance_path).as_dict())
    if overrides:
        app.config.update(overrides)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from portal.platform.i18n import compile_catalogs

    for directory in app.config["BABEL_TRANSLATION_DIRECTORIES"].split(";"):
        compile_catalogs(directory)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "basic"
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    from portal.platform.i18n import use_iso_dates

    use_iso_dates(babel)  # 2026-12-07 14:30 in both languages
    from portal.platform.i18n import use_request_translations

    use_request_translations(app)  # templates' _() read the request's translations once (a tenth of a page's CPU)
    bootstrap.init_app(app)

    _register_models()
    from portal import wiring

    wiring.connect(app)  # every cross-domain connection, in one table (portal/wiring.py)
    _register_blueprints(app)

    from portal.platform import security

    security.install(app)  # first: its after_request hook runs last, so its headers are the ones sent

    from portal.platform import handlers, web

    handlers.register(app)
    web.register(app)

    from portal import cli

    cli.register(app)

    @app.before_request
    def _api_csrf():
        # API calls with a bearer token need no CSRF token; a browser session calling the API does.
        g.pop("scope", None)
        if request.path.startswith("/api/") and request.method not in ("GET", "HEAD", "OPTIONS"):
            if request.headers.get("Authorization", "").startswith("Bearer "):
                return None
            if current_user.is_authenticated:
                csrf.protect()
        return None

    from portal.platform import replica

    replica.install(app)  # last: reports read the streaming replica, when one is configured (docs/REPLICA.md)
    return app


def _register_models() -> None:
    """Every model module, so the mappers and the metadata know every table (nothing else: no side effects)."""
    import portal.audit.models  # noqa: F401
    import portal.background.models  # noqa: F401
    import portal.banking.models  # noqa: F401
    import portal.catalog.models  # noqa: F401
    import portal.collections.models  # noqa: F401
    import portal.credit.models  # noqa: F401
    import portal.dealers.models  # noqa: F401
    import portal.inventory.models  # noqa: F401
    import portal.notify.models  # noqa: F401
    import portal.orders.models  # noqa: F401
    import portal.platform.sqlite  # noqa: F401  (transaction handling for the embedded database)
    import portal.production.models  # noqa: F401
    import portal.rebates.models  # noqa: F401
    import portal.returns.models  # noqa: F401
    import portal.shipping.models  # noqa: F401
    import portal.statements.models  # noqa: F401
    import portal.targets.models  # noqa: F401


def _register_blueprints(app) -> None:
    from portal.analytics import api as analytics_api
    from portal.analytics import views as analytics_views
    from portal.audit import api as audit_api
    from portal.audit import views as audit_views
    from portal.background import api as jobs_api
    from portal.background import views as jobs_views
    from portal.banking import api as banking_api
    from portal.banking import views as banking_views
    from portal.catalog import api as catalog_api
    from portal.catalog import views as catalog_views
    from portal.collections import api as collections_api
    from portal.collections import services as collections_services
    from portal.collections import views as collections_views
    from portal.credit import api as credit_api
    from portal.credit import notices_api, notices_views, requests_api, requests_views
    from portal.credit import views as credit_views
    from portal.dealers import api as dealers_api
    from portal.dealers import views as dealers_views
    from portal.home import api as home_api
    from portal.home import views as home_views
    from portal.inventory import api as inventory_api
    from portal.inventory import backorders_api, backorders_views, hq_api, hq_views
    from portal.inventory import views as inventory_views
    from portal.notify import api as notify_api
    from portal.notify import views as notify_views
    from portal.orders import api as orders_api
    from portal.orders import views as orders_views
    from portal.platform import apidocs
    from portal.platform.api import api
    from portal.production import api as production_api
    from portal.production import views as production_views
    from portal.rebates import api as rebates_api
    from portal.rebates import views as rebates_views
    from portal.returns import api as returns_api
    from portal.returns import views as returns_views
    from portal.shipping import api as shipping_api
    from portal.shipping import views as shipping_views
    from portal.statements import api as statements_api
    from portal.statements import views as statements_views
    from portal.targets import achievement_api, achievement_views, scorecard_api, scorecard_views
    from portal.targets import api as targets_api
    from portal.targets import views as targets_views

    collections_services.policy(app.config)  # the dunning policy is checked at start-up (a ConfigError stops it)
    for bp in (
        home_views.bp,
        dealers_views.bp,
        dealers_views.auth_bp,
        audit_views.bp,
        apidocs.bp,
        credit_views.bp,
        jobs_views.bp,
        notify_views.bp,
        catalog_views.bp,
        orders_views.bp,
        production_views.bp,
        shipping_views.bp,
        statements_views.bp,
        hq_views.bp,
        backorders_views.bp,
        inventory_views.bp,
        analytics_views.bp,
        rebates_views.bp,
        returns_views.bp,
        banking_views.bp,
        collections_views.bp,
        requests_views.bp,
        notices_views.bp,
        targets_views.bp,
        achievement_views.bp,
        scorecard_views.bp,
    ):
        app.register_blueprint(bp)
    api.init_app(app)
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    api_blueprints = (
        dealers_api.auth_blp,
        dealers_api.blp,
        audit_api.blp,
        credit_api.blp,
        jobs_api.blp,
        notify_api.blp,
        catalog_api.blp,
        orders_api.blp,
        production_api.blp,
        shipping_api.blp,
        statements_api.blp,
        hq_api.blp,
        backorders_api.blp,
        inventory_api.blp,
        analytics_api.blp,
        rebates_api.blp,
        returns_api.blp,
        home_api.blp,
        banking_api.blp,
        collections_api.blp,
        requests_api.blp,
        notices_api.blp,
        targets_api.blp,
        achievement_api.blp,
        scorecard_api.blp,
    )
    if app.config.get("PORTAL_BENCH_ENDPOINTS"):
        from portal.platform import benchprobe

        api_blueprints = (*api_blueprints, benchprobe.blp)
    for bp in api_blueprints:
        api.register_blueprint(bp)
        csrf.exempt(bp)
    # The API is CSRF-exempt at the Flask-WTF level; session-authenticated API writes are checked in
    # _api_csrf above, bearer-token calls need no CSRF token.
