from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import (
    ARRAY,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.platform.clock import utcnow


class Role(StrEnum):
    CLIENT = "client"
    WORKER = "worker"
    MANAGER = "manager"
    BETTOR = "bettor"
    SUPPLY = "supply"


ROLE_VALUES = tuple(role.value for role in Role)
PAYMENT_METHODS = {"card": "Card", "bank_transfer": "Bank transfer"}


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored normalised (trimmed, lower case); the functional index guards against any other path.
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(120))
    # Null until the person accepts their invitation and sets a password.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    # Bumped on every password change and single-use link: it invalidates old sessions and links.
    session_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    role_rows: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )
    worker_profile: Mapped[WorkerProfile | None] = relationship(
        back_populates="user", cascade="all, delete-orphan", uselist=False
    )
    client_profile: Mapped[ClientProfile | None] = relationship(
        back_populates="user", cascade="all, delete-orphan", uselist=False
    )

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(row.role for row in self.role_rows)

    def has_role(self, role: str) -> bool:
        return role in self.roles

    @property
    def is_active(self) -> bool:  # flask-login refuses inactive users
        return self.active

    @property
    def has_password(self) -> bool:
        return self.password_hash is not None

    def get_id(self) -> str:
        # The session carries the version too, so a password change logs out every other session.
        return f"{self.id}:{self.session_version}"

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


# Case-insensitive uniqueness, whatever path wrote the row.
Index("uq_users_email_lower", func.lower(User.email), unique=True)


class UserRole(db.Model):
    __tablename__ = "user_roles"
    __table_args__ = (
        CheckConstraint("role IN (" + ", ".join(f"'{value}'" for value in ROLE_VALUES) + ")", name="role_known"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(20), primary_key=True, index=True)

    user: Mapped[User] = relationship(back_populates="role_rows")


class WorkerProfile(db.Model):
    """What matching and managers know of a worker (US-120)."""

    __tablename__ = "worker_profiles"
    __table_args__ = (CheckConstraint("age >= 0 AND age <= 40", name="age_range"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    age: Mapped[int | None] = mapped_column(Integer)
    breed: Mapped[str] = mapped_column(String(80), default="")
    coat_colour: Mapped[str] = mapped_column(String(80), default="")
    photo_path: Mapped[str | None] = mapped_column(String(255))
    strengths: Mapped[list[str]] = mapped_column(ARRAY(String(60)), default=list)
    weaknesses: Mapped[list[str]] = mapped_column(ARRAY(String(60)), default=list)

    user: Mapped[User] = relationship(back_populates="worker_profile")


class ClientProfile(db.Model):
    __tablename__ = "client_profiles"
    __table_args__ = (
        CheckConstraint(
            "payment_method IN (" + ", ".join(f"'{key}'" for key in PAYMENT_METHODS) + ")",
            name="payment_method_known",
        ),
        # The link must dial what is shown: both set or both empty, and only + and digits in the link.
        CheckConstraint(
            "(phone = '' AND phone_tel = '') OR (phone <> '' AND phone_tel ~ '^[+]?[0-9]{6,15}$')",
            name="phone_normalised",
        ),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    address: Mapped[str] = mapped_column(Text, default="")
    # As typed (for people) and normalised (for the `tel:` link): app/accounts/phones.py; "" = none.
    phone: Mapped[str] = mapped_column(String(30), default="", server_default="")
    phone_tel: Mapped[str] = mapped_column(String(16), default="", server_default="")
    payment_method: Mapped[str] = mapped_column(String(30), default="card")

    user: Mapped[User] = relationship(back_populates="client_profile")


class ApiToken(db.Model):
    """A bearer token for /api/v1. Only the SHA-256 of the token is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship()


class UserSession(db.Model):
    """A signed-in browser session, so logout can end it on the server (US-002).

    The session cookie carries a random token; only its SHA-256 is stored. A session is valid while
    its row exists, is not revoked and is younger than PERMANENT_SESSION_LIFETIME: a cookie copied
    before logout opens nothing afterwards.
    """

    __tablename__ = "user_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
