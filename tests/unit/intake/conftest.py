"""Intake's unit tests: the service in this process on SQLite, with the demo gateway's key
(all scopes) in tests.helpers.AUTH, and keys made for other gateways as a test needs them."""

import pytest

from services.intake import commands, gateways
from tests.helpers import build


@pytest.fixture
def intake(tmp_path):
    service = build("intake", tmp_path)
    yield service
    service.store.dispose()


@pytest.fixture
def make_key(intake):
    """make_key(gateway, *scopes) -> Authorization headers for a new key."""

    def make(gateway: str, *scopes: str) -> dict:
        with intake.store.unit_of_work() as uow:
            scopes = scopes or gateways.DEFAULT_SCOPES
            _key_id, key = commands.create_key(uow, intake.context, gateway, scopes)
        return {"Authorization": f"Bearer {key}"}

    return make
