"""The fixtures of the SQLAlchemy adapter's tests: ``adapter``, every layout on SQLite,
PostgreSQL and MySQL/MariaDB (emptied for each test), and the ones it is made from."""

from __future__ import annotations

import pytest
from support.adapters import (
    SETUP_PARAMS,
    emptied_adapter,
    made_adapters,  # noqa: F401 - a fixture
    pg_engine,  # noqa: F401 - a fixture
    pg_schema,  # noqa: F401 - a fixture
)

from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter


@pytest.fixture(params=SETUP_PARAMS)
def adapter(request: pytest.FixtureRequest) -> SQLAlchemyAdapter:
    layout, database = request.param
    return emptied_adapter(request, layout, database)
