"""Extensions, created unbound; create_app binds them."""

from flask_babel import Babel
from flask_bootstrap import Bootstrap5
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData

from portal.platform.replica import RoutingSession

# Stable constraint names so Alembic migrations are identical on SQLite and PostgreSQL.
naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# RoutingSession: a report request's plain SELECTs read the streaming replica when one is configured
# (PORTAL_REPLICA_DATABASE_URL, portal/platform/replica.py); everything else, and everything without one, the primary.
db = SQLAlchemy(metadata=MetaData(naming_convention=naming_convention), session_options={"class_": RoutingSession})
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
bootstrap = Bootstrap5()
