"""factory-boy factories for users of each role (flushed into the test's transaction)."""

from __future__ import annotations

import functools

import factory
from factory.alchemy import SQLAlchemyModelFactory

from app.accounts.models import ClientProfile, User, UserRole, WorkerProfile
from app.accounts.passwords import hash_password
from app.extensions import db
from tests.support.fixtures import TEST_PASSWORD


@functools.cache
def _test_password_hash() -> str:
    return hash_password(TEST_PASSWORD)


class UserFactory(SQLAlchemyModelFactory):
    class Meta:
        model = User
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "flush"

    class Params:
        roles = ("client",)

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    name = factory.Faker("name")
    password_hash = factory.LazyFunction(_test_password_hash)
    active = True
    session_version = 0
    role_rows = factory.LazyAttribute(lambda o: [UserRole(role=role) for role in o.roles])


class ClientFactory(UserFactory):
    class Params:
        roles = ("client",)

    email = factory.Sequence(lambda n: f"client{n}@example.com")
    client_profile = factory.LazyFunction(lambda: ClientProfile(address="1 Test Street", payment_method="card"))


class WorkerFactory(UserFactory):
    class Params:
        roles = ("worker",)

    email = factory.Sequence(lambda n: f"worker{n}@example.com")
    worker_profile = factory.LazyFunction(
        lambda: WorkerProfile(age=3, breed="Tabby", coat_colour="grey", strengths=["cleaning"], weaknesses=["baths"])
    )


class ManagerFactory(UserFactory):
    class Params:
        roles = ("manager",)

    email = factory.Sequence(lambda n: f"manager{n}@example.com")


class BettorFactory(UserFactory):
    """Only managers may bet (US-280), so a bettor is always a manager too."""

    class Params:
        roles = ("manager", "bettor")

    email = factory.Sequence(lambda n: f"bettor{n}@example.com")


class SupplyFactory(UserFactory):
    class Params:
        roles = ("supply",)

    email = factory.Sequence(lambda n: f"supply{n}@example.com")


FACTORY_FOR_ROLE = {
    "client": ClientFactory,
    "worker": WorkerFactory,
    "manager": ManagerFactory,
    "bettor": BettorFactory,
    "supply": SupplyFactory,
}
