"""`backend-builder mcp`, driven as an MCP client drives it: over stdio, with the SDK's client.

The client takes a fresh backend to three related resources, evolves one, applies a
plan by its hash and is refused a stale one, and reads a passing `check`, without
writing a file itself.
"""

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.backend_checks import run

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
TOOLS = {
    "describe_project",
    "plan",
    "apply_plan",
    "generate_resource",
    "generate_model",
    "generate_endpoint",
    "add_field",
    "remove_field",
    "rename_field",
    "change_field",
    "destroy_resource",
    "update",
    "status",
    "check",
}


class Client:
    """Calls tools and returns their structured content (or the structured error)."""

    def __init__(self, session: ClientSession) -> None:
        self.session = session

    async def call(self, tool: str, **arguments: Any) -> dict[str, Any]:
        result = await self.session.call_tool(tool, arguments)
        data = result.structured_content
        assert isinstance(data, dict), result
        assert bool(result.is_error) == ("error" in data), data
        return data


async def _session(backend: Path, scenario: Any) -> None:
    params = StdioServerParameters(
        command=str(BIN / "backend-builder"), args=["mcp", "--path", str(backend)]
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        await scenario(session, Client(session), backend)


async def _from_nothing_to_a_passing_check(
    session: ClientSession, client: Client, backend: Path
) -> None:
    listed = await session.list_tools()
    tools = {tool.name: tool for tool in listed.tools}
    assert tools.keys() >= TOOLS
    assert tools["remove_field"].annotations.destructive_hint is True
    assert tools["destroy_resource"].annotations.destructive_hint is True
    assert tools["describe_project"].annotations.read_only_hint is True
    assert "fields" in tools["generate_resource"].input_schema["properties"]

    described = await client.call("describe_project")
    assert described["resources"] == []
    # Reading the backend does not create its SQLite database.
    assert described["pending_migrations"] == {
        "known": True,
        "current": [],
        "pending": described["migrations"],
    }
    assert not (backend / "app.db").exists()

    # Three related resources: one from CLI-style strings, one from objects, one by plan.
    done = await client.call("generate_resource", name="Customer", fields=["name:str"])
    assert done["applied"] is True and "app/models/customer.py" in str(done["changes"])
    done = await client.call(
        "generate_resource",
        name="Product",
        fields=[
            {"name": "title", "type": "str", "unique": True},
            {"name": "price", "type": "decimal", "precision": 10, "scale": 2},
        ],
    )
    assert done["applied"] is True
    planned = await client.call(
        "plan",
        change={
            "kind": "generate_resource",
            "resource": "Purchase",
            "fields": [
                "customer:ref",
                {"name": "product", "type": "ref", "target": "Product"},
                {"name": "status", "type": "enum", "values": ["new", "paid"], "default": "new"},
            ],
        },
    )
    assert planned["applied"] is False and planned["plan_hash"]
    assert not (backend / "app/models/purchase.py").exists()
    applied = await client.call("apply_plan", plan_hash=planned["plan_hash"])
    assert applied == {"plan_hash": planned["plan_hash"], "applied": True}

    described = await client.call("describe_project")
    purchases = next(r for r in described["resources"] if r["name"] == "Purchase")
    assert purchases["refs"] == {"customer": "Customer", "product": "Product"}
    assert "GET /api/v1/purchases/{id}" in purchases["routes"]

    # Evolve: add a field, rename one.
    added = await client.call("add_field", resource="Purchase", fields=["note:text:optional"])
    assert added["operations"][0]["kind"] == "add_column"
    renamed = await client.call("rename_field", resource="Purchase", old="note", new="comment")
    assert renamed["operations"][0]["kind"] == "rename_column"

    # A stale plan: a file it changes is edited after it was made.
    stale = await client.call(
        "plan",
        change={"kind": "add_field", "resource": "Purchase", "fields": ["due_on:date:optional"]},
    )
    schema = backend / "app/schemas/purchase.py"
    schema.write_text(schema.read_text() + "\n# edited meanwhile\n")
    refused = await client.call("apply_plan", plan_hash=stale["plan_hash"])
    assert refused["error"]["code"] == "stale_plan"
    assert "due_on" not in (backend / "app/models/purchase.py").read_text()
    schema.write_text(schema.read_text().removesuffix("\n# edited meanwhile\n"))

    # Structured errors, nothing written.
    error = await client.call("add_field", resource="Purchase", fields=["total:int"])
    assert error["error"]["code"] == "needs_default"
    error = await client.call("remove_field", resource="Purchase", names=["comment"])
    assert error["error"]["code"] == "confirmation_needed"
    # A hand edit where the change goes: refused, with what to do here.
    text = schema.read_text()
    edited = text.replace("non_nullable = frozenset({", 'non_nullable = frozenset({"extra", ', 1)
    assert edited != text
    schema.write_text(edited)
    error = await client.call("add_field", resource="Purchase", fields=["rank:int:default=3"])
    assert error["error"]["code"] == "merge_conflict"
    assert "details.files" in error["error"]["hint"]
    assert "conflict_markers=true" in error["error"]["hint"]
    marked = await client.call(
        "add_field",
        resource="Purchase",
        fields=["rank:int:default=3"],
        conflict_markers=True,
        dry_run=True,
    )
    assert [c["path"] for c in marked["conflicts"]] == ["app/schemas/purchase.py"]
    schema.write_text(text)
    assert "comment" in (backend / "app/models/purchase.py").read_text()

    # Destroying drops a table: confirmed first.
    error = await client.call("destroy_resource", name="Purchase")
    assert error["error"]["code"] == "confirmation_needed"
    assert error["error"]["details"]["tables"] == ["purchases"]
    assert "confirm_data_loss=true" in error["error"]["hint"]
    assert (backend / "app/models/purchase.py").exists()

    manifest = await session.read_resource("backend://manifest")
    assert "[resources.Purchase]" in manifest.contents[0].text
    spec = await session.read_resource("backend://resources/Purchase")
    assert '"comment"' in spec.contents[0].text
    prompt = await session.get_prompt("add_resource", {"request": "invoices for orders"})
    assert "generate_resource" in str(prompt.messages[0].content)

    run(backend, sys.executable, "-m", "alembic", "upgrade", "head")
    described = await client.call("describe_project")
    assert described["pending_migrations"] == {
        "known": True,
        "current": [described["migrations"][-1]],
        "pending": [],
    }
    report = await client.call("check", workers=1)
    assert report["passed"] is True, report
    assert [c["name"] for c in report["checks"]] == ["lint", "tenancy", "migrations", "tests"]
    assert "workers" not in report["checks"][-1]["summary"]  # workers=1: one process
    status = await client.call("status")
    assert status["consistent"] is True


def test_an_agent_builds_evolves_and_checks_a_backend(backend: Path) -> None:
    asyncio.run(_session(backend, _from_nothing_to_a_passing_check))
