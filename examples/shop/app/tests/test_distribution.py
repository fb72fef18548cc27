"""Citus: how the tables are distributed, and row-level security on every node.

These tests run when TEST_DATABASE_URL names a Citus coordinator, and skip elsewhere:

    bash scripts/citus_cluster.sh up
    TEST_DATABASE_URL=$(bash scripts/citus_cluster.sh url) pytest

On Citus the whole suite runs as usual; besides these tests, every resource's
contract checks that each of its requests is routed to one shard
(`test_is_routed_to_one_shard`), and test_isolation.py runs its row-level security
cases on a distributed table.
"""

import asyncio
import time
import uuid

import httpx
import pytest
from fastapi.testclient import TestClient

from app.core.db import transaction
from app.core.tenancy import tenant_tables
from app.main import app
from app.models import Base
from app.tests.conftest import (
    APP_ROLE,
    Statement,
    TestUser,
    assert_routed_to_one_shard,
    citus_only,
    prepare_database,
    run_async,
    run_sql,
)

pytestmark = citus_only

REFERENCE_TABLES = {"users", "refresh_tokens"}


def resource_tables() -> list[str]:
    """The tables of the app's resources (not those other tests make for themselves)."""
    return sorted(tenant_tables() & set(Base.metadata.tables))


@pytest.fixture(scope="module", autouse=True)
def migrated() -> None:
    """The tables, as the migrations made them."""
    prepare_database()


def distribution() -> dict[str, tuple[str, str | None, int]]:
    """Each Citus table: its method ('h' hash, 'n' reference), column and co-location."""
    rows = run_sql(
        "SELECT logicalrelid::text, partmethod::text, "
        "CASE WHEN partmethod = 'h' THEN column_to_column_name(logicalrelid, partkey) END, "
        "colocationid FROM pg_dist_partition"
    )
    return {
        name: (method, column, colocation) for name, method, column, colocation in rows
    }


def on_every_shard(table: str, query: str) -> list[str]:
    """What `query` returns on each shard of `table` (`%1$s` is the shard's name)."""
    rows = run_sql(
        "SELECT success, result FROM run_command_on_shards(CAST(:table AS regclass), :query)",
        table=table,
        query=query,
    )
    assert all(success for success, _ in rows), rows
    return [result for _, result in rows]


def test_every_table_is_distributed_by_project() -> None:
    tables = distribution()
    assert set(Base.metadata.tables) <= set(tables)
    for table in REFERENCE_TABLES:
        assert tables[table][0] == "n", table
    method, column, colocation = tables["projects"]
    assert (method, column) == ("h", "id")
    for table in ["memberships", *resource_tables()]:
        assert tables[table] == ("h", "project_id", colocation), table


def test_row_level_security_is_forced_on_every_shard() -> None:
    for table in resource_tables():
        shards = run_sql(
            "SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = CAST(:table AS regclass)",
            table=table,
        )[0][0]
        forced = on_every_shard(
            table,
            "SELECT relrowsecurity AND relforcerowsecurity AND EXISTS "
            "(SELECT FROM pg_policy WHERE polrelid = '%1$s'::regclass) "
            "FROM pg_class WHERE oid = '%1$s'::regclass",
        )
        assert forced == ["t"] * shards, table


def test_the_application_role_owns_and_bypasses_nothing_on_any_node() -> None:
    rows = run_sql(
        "SELECT success, result FROM run_command_on_all_nodes(format($$SELECT rolsuper OR "
        "rolbypassrls OR rolcreaterole FROM pg_roles WHERE rolname = %L$$, CAST(:role AS text)))",
        role=APP_ROLE,
    )
    assert len(rows) >= 3
    assert rows == [(True, "f")] * len(rows)
    for table in ["memberships", *resource_tables()]:
        owners = on_every_shard(
            table,
            "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = '%1$s'::regclass",
        )
        assert APP_ROLE not in owners, table


def test_the_check_of_routed_requests_refuses_a_query_over_every_shard() -> None:
    project = uuid.uuid4()
    assert_routed_to_one_shard(
        [
            Statement(
                "SELECT count(*) FROM memberships WHERE project_id = $1", (project,)
            )
        ]
    )
    with pytest.raises(AssertionError, match="Task Count"):
        assert_routed_to_one_shard([Statement("SELECT count(*) FROM memberships", ())])


def test_the_application_connections_do_not_hide_shards() -> None:
    """Each new connection of the application sends `SHOW_SHARDS`.

    With the shards hidden, asyncpg's look-up of an array type (the parameter of
    `column.in_(...)`) takes 300 ms of the coordinator's CPU, once per connection.
    """

    async def visibility() -> str:
        async with transaction() as db:
            value: str = await db.driver.fetchval(
                "SHOW citus.override_table_visibility"
            )
            return value

    assert run_async(visibility()) == "off"


def placement(project_id: uuid.UUID) -> tuple[int, int]:
    """The shard of a project (in `projects`) and the port of the node that holds it."""
    [(shard, port)] = run_sql(
        "SELECT shardid, nodeport FROM pg_dist_placement JOIN pg_dist_node USING (groupid) "
        "WHERE shardid = get_shard_id_for_distribution_column('projects', CAST(:p AS uuid))",
        p=str(project_id),
    )
    return int(shard), int(port)


def test_a_project_moves_to_another_worker_while_it_is_used(
    client: TestClient, owner: TestUser, outsider: TestUser
) -> None:
    shard, source = placement(owner.project_id)
    [(target,)] = run_sql(
        "SELECT nodeport FROM pg_dist_node WHERE shouldhaveshards AND nodeport <> :source "
        "ORDER BY nodeport LIMIT 1",
        source=source,
    )
    project = f"/api/v1/projects/{owner.project_id}"
    answers: list[int] = []
    names: list[str] = []  # renames answered 200, in order: one writer

    async def use(seconds: float) -> None:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver"
        ) as http:
            deadline = time.monotonic() + seconds
            n = 0
            while time.monotonic() < deadline:
                n += 1
                name = f"moving {n}"
                renamed, members = await asyncio.gather(
                    http.put(project, json={"name": name}, headers=owner.headers),
                    http.get(f"{project}/members", headers=owner.headers),
                )
                answers.extend([renamed.status_code, members.status_code])
                if renamed.status_code == 200:
                    names.append(name)
                if members.status_code == 200:
                    assert {member["user_id"] for member in members.json()} == {
                        str(owner.id)
                    }

    async def move_meanwhile() -> None:
        load = asyncio.ensure_future(use(3.0))
        await asyncio.sleep(0.5)
        await asyncio.to_thread(
            run_sql,
            "SELECT citus_move_shard_placement(:shard, '127.0.0.1', :source, '127.0.0.1', "
            ":target, shard_transfer_mode => 'block_writes')",
            shard=shard,
            source=source,
            target=target,
        )
        await load

    run_async(move_meanwhile())
    assert placement(owner.project_id) == (shard, target)
    assert answers and set(answers) == {200}
    response = client.get(project, headers=owner.headers)
    assert response.json()["name"] == names[-1]
    assert (
        client.get(
            f"/api/v1/projects/{outsider.project_id}", headers=owner.headers
        ).status_code
        == 404
    )
