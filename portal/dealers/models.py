"""Regions (a tree), dealers and users (PRODUCT.md §1)."""

from __future__ import annotations

import datetime as dt
import secrets
from decimal import Decimal

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, false, func, or_, select, true
from sqlalchemy.orm import ColumnProperty, Mapped, column_property, mapped_column, relationship
from sqlalchemy.sql import operators

from portal.extensions import db
from portal.platform.money import ZERO, MoneyColumn
from portal.platform.timeutil import UTCDateTime, utcnow

TIERS = ("A", "B", "C")
CHANNEL_TYPES = ("4s_store", "chain", "department_store", "franchise", "specialty")
DEALER_STATUSES = ("active", "suspended")
DEALER_ROLES = ("dealer_staff", "dealer_admin")
REGION_ROLES = ("region_manager",)
HQ_ROLES = ("channel_manager", "finance", "hq_admin")
ROLES = DEALER_ROLES + REGION_ROLES + HQ_ROLES
LOCALES = ("zh_CN", "en")


class CodeComparator(ColumnProperty.Comparator[str]):
    """A region's or dealer's code, as SQL compares it: without regard to case.

    Codes are stored as they were given ("SH-001") and are unique regardless of case (the unique index on lower(code),
    uq_<table>_code_ci), so `Dealer.code == "sh-001"` (and filter_by(code=...), in_()) finds SH-001 wherever a code
    comes from: a URL, a filter, a request body, an imported file.
    """

    def operate(self, op, *other, **kwargs):
        column = self.__clause_element__()
        if op in (operators.eq, operators.ne) and other[0] is not None:
            return op(func.lower(column), func.lower(other[0]), **kwargs)
        if op in (operators.in_op, operators.not_in_op) and isinstance(other[0], list | tuple | set | frozenset):
            return op(func.lower(column), [func.lower(value) for value in other[0]], **kwargs)
        return op(column, *other, **kwargs)


class Region(db.Model):
    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = column_property(
        mapped_column(String(32), unique=True, nullable=False), comparator_factory=CodeComparator
    )
    name: Mapped[str] = mapped_column(String(120))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    # Materialised path of codes, e.g. "/HQ/EAST/SH/": a subtree is one indexed prefix match.
    path: Mapped[str] = mapped_column(String(512), index=True)
    approval_limit: Mapped[Decimal] = mapped_column(MoneyColumn, default=ZERO)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    parent: Mapped[Region | None] = relationship(remote_side=[id], lazy="joined", innerjoin=False)

    __table_args__ = (CheckConstraint("approval_limit >= 0", name="approval_limit_non_negative"),)

    @property
    def depth(self) -> int:
        return self.path.strip("/").count("/")

    @classmethod
    def __scope_clause__(cls, scope):
        if scope.is_hq:
            return true()
        if scope.is_region:
            return cls.path.startswith(scope.region_path, autoescape=True)
        return false()

    def __repr__(self) -> str:
        return f"<Region {self.code}>"


class Dealer(db.Model):
    __tablename__ = "dealers"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = column_property(
        mapped_column(String(32), unique=True, nullable=False), comparator_factory=CodeComparator
    )
    name: Mapped[str] = mapped_column(String(200))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    tier: Mapped[str] = mapped_column(String(1))
    channel_type: Mapped[str] = mapped_column(String(32))
    payment_terms_days: Mapped[int] = mapped_column(default=30)
    status: Mapped[str] = mapped_column(String(16), default="active")
    contact_name: Mapped[str | None] = mapped_column(String(120))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    contact_email: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(300))
    # HQ's or the region's person who looks after this dealer (a channel or region manager); HQ-only on the page
    account_manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", use_alter=True, name="fk_dealers_account_manager_id_users")
    )
    # §16: the distributor (一级经销商) this sub-dealer (二级经销商) buys from; None: the dealer buys from HQ. One level
    # deep, in the distributor's region (checked by the dealers service).
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("dealers.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    region: Mapped[Region] = relationship(lazy="joined", innerjoin=True)
    parent: Mapped[Dealer | None] = relationship(remote_side=[id], foreign_keys=[parent_id], lazy="select")
    account_manager: Mapped[User | None] = relationship(foreign_keys=[account_manager_id], lazy="select")

    __table_args__ = (
        CheckConstraint("tier IN ('A', 'B', 'C')", name="tier_valid"),
        CheckConstraint("status IN ('active', 'suspended')", name="status_valid"),
        CheckConstraint("payment_terms_days >= 0", name="payment_terms_non_negative"),
        CheckConstraint("parent_id IS NULL OR parent_id <> id", name="parent_not_self"),
    )

    @classmethod
    def __scope_clause__(cls, scope):
        return scope.dealer_clause(cls.id)

    @property
    def is_sub_dealer(self) -> bool:
        return self.parent_id is not None

    def __repr__(self) -> str:
        return f"<Dealer {self.code}>"


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(120))
    email: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(32))
    dealer_id: Mapped[int | None] = mapped_column(ForeignKey("dealers.id"), index=True)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    locale: Mapped[str] = mapped_column(String(8), default="zh_CN")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    password_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Part of the session id: rotated when the password changes, which ends every other session.
    session_key: Mapped[str] = mapped_column(String(32), default=lambda: secrets.token_hex(16))

    dealer: Mapped[Dealer | None] = relationship(foreign_keys=[dealer_id], lazy="joined")
    region: Mapped[Region | None] = relationship(lazy="joined")

    __table_args__ = (
        CheckConstraint(
            "role IN ('dealer_staff', 'dealer_admin', 'region_manager', 'channel_manager', 'finance', 'hq_admin')",
            name="role_valid",
        ),
        CheckConstraint(
            "(role IN ('dealer_staff', 'dealer_admin') AND dealer_id IS NOT NULL AND region_id IS NULL)"
            " OR (role = 'region_manager' AND region_id IS NOT NULL AND dealer_id IS NULL)"
            " OR (role IN ('channel_manager', 'finance', 'hq_admin') AND dealer_id IS NULL AND region_id IS NULL)",
            name="role_attachment",
        ),
    )

    # Flask-Login: a deactivated user cannot log in and loses its sessions.
    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return f"{self.id}:{self.session_key}"

    def rotate_session_key(self) -> None:
        self.session_key = secrets.token_hex(16)

    @property
    def label(self) -> str:
        return self.display_name or self.username

    @property
    def is_hq(self) -> bool:
        return self.role in HQ_ROLES

    @classmethod
    def __scope_clause__(cls, scope):
        if scope.is_hq:
            return true()
        if scope.is_region:
            return or_(
                scope.dealer_clause(cls.dealer_id),
                cls.region_id.in_(select(Region.id).where(Region.__scope_clause__(scope))),
            )
        if scope.is_dealer:  # a distributor's admin manages its sub-dealers' users too (§16)
            return scope.dealer_clause(cls.dealer_id)
        return false()

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}>"


CONTACT_ROLES = ("owner", "general_manager", "purchasing", "finance", "logistics", "sales", "service", "other")


class DealerContact(db.Model):
    """One of a dealer's people, by role (the dealer's own `contact_*` fields stay its primary contact)."""

    __tablename__ = "dealer_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        CheckConstraint(
            "role IN ('owner', 'general_manager', 'purchasing', 'finance', 'logistics', 'sales', 'service', 'other')",
            name="role_valid",
        ),
    )

    @classmethod
    def __scope_clause__(cls, scope):
        return scope.dealer_clause(cls.dealer_id)


class DealerAddress(db.Model):
    """A ship-to address of a dealer (收货地址); orders choose one (§12). At most one default per dealer."""

    __tablename__ = "dealer_addresses"

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), index=True)
    label: Mapped[str] = mapped_column(String(60))
    recipient: Mapped[str | None] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str] = mapped_column(String(300))
    is_default: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @classmethod
    def __scope_clause__(cls, scope):
        return scope.dealer_clause(cls.dealer_id)


class DealerNote(db.Model):
    """An internal note about a dealer by HQ or its region (a call, a visit); dealers never see them."""

    __tablename__ = "dealer_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), index=True)
    body: Mapped[str] = mapped_column(String(2000))
    author: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @classmethod
    def __scope_clause__(cls, scope):
        return false() if scope.is_dealer else scope.dealer_clause(cls.dealer_id)


class ApiToken(db.Model):
    """Bearer tokens: personal ones (from POST /auth/token, expiring) and integration ones (with a scope).

    Only a SHA-256 of the token is stored.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "personal" | "integration"
    name: Mapped[str] = mapped_column(String(120))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    scope: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User | None] = relationship(lazy="joined")

    __table_args__ = (
        CheckConstraint(
            "(kind = 'personal' AND user_id IS NOT NULL AND scope IS NULL)"
            " OR (kind = 'integration' AND user_id IS NULL AND scope IS NOT NULL)",
            name="kind_shape",
        ),
    )


class LoginThrottle(db.Model):
    """Failed logins per username (known or not, so the answer never reveals which names exist)."""

    __tablename__ = "login_throttle"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


Index("ix_dealers_region_status", Dealer.region_id, Dealer.status)
# Codes are unique regardless of case (CodeComparator). On SQLite the migration builds these as (code COLLATE NOCASE),
# the same rule for the ASCII codes services accept, because SQLAlchemy cannot reflect an expression index there.
Index("uq_regions_code_ci", func.lower(Region.__table__.c.code), unique=True)
Index("uq_dealers_code_ci", func.lower(Dealer.__table__.c.code), unique=True)
