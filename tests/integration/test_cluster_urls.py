"""A store URL naming several hosts reaches the one with the asked role, on a real server.

The machine's PostgreSQL is the only server here: a URL that names a closed port first and
the server second must connect to the server, for the event store and for the read models;
one that asks for a standby must find none (the server is a primary).
"""

from __future__ import annotations

import pytest

from application.register import CivilRegister
from domain.commands import Clerking, RegisterBirth
from infrastructure.errors import StoreUnavailable
from infrastructure.store_url import StoreURL
from projections.views import ViewDatabase
from tests.faults.cluster import free_port

pytestmark = pytest.mark.postgres


def cluster_url(url: str, attrs: str) -> str:
    """`url` with a closed loopback port named before its own host, and `attrs`."""
    one = StoreURL.parse(url)
    auth = one.user + (f":{one.password}" if one.password else "")
    hosts = f"127.0.0.1:{free_port()},{one.host}:{one.port}"
    return f"postgresql://{auth}@{hosts}/{one.dbname}?target_session_attrs={attrs}"


def test_a_writer_url_skips_a_dead_host_and_records_on_the_primary(postgres_url: str) -> None:
    writer = cluster_url(postgres_url, "read-write")
    act = RegisterBirth.parse(name="Lê Thị Hoa", sex="female", born="1990-02-03", province="001")
    clerking = Clerking.parse(clerk="c", office="HN-01", reference="MH-1")
    with CivilRegister(writer) as register:
        recorded = register.register_birth(act, clerking)
    with CivilRegister(postgres_url) as register:
        assert register.person(recorded.person.id).id_number == recorded.person.id_number
    views = ViewDatabase.open(writer)  # the read models' own connection
    try:
        with views.transaction() as tx:
            views.raw(tx, "SELECT 1", [])
    finally:
        views.close()


def test_a_url_asking_for_a_standby_finds_none_on_a_primary(postgres_url: str) -> None:
    reader = cluster_url(postgres_url, "standby")
    with pytest.raises(StoreUnavailable, match="not in hot standby mode"):
        CivilRegister(reader).recorder.max_notification_id()
    with pytest.raises(StoreUnavailable, match="not in hot standby mode"):
        ViewDatabase.open(reader).close()
