"""`backend-builder mcp`'s errors for calls that do not fit: arguments that fail a tool's
input schema come back as the structured error (not the SDK's plain text), and reading
an unknown resource names it, without a traceback on the server's stderr. Nothing is
written. In-process with the SDK's client, and once over stdio as a client runs it.
"""

import asyncio
import hashlib
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp.client import Client
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, CallToolResult

from backend_builder.mcp_server import build_server

BIN = Path(sys.executable).parent


def _tree(root: Path) -> dict[str, str]:
    """Every file under `root` with a hash of its content."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _error(result: CallToolResult) -> dict[str, Any]:
    """The structured error of a tool result, checked to be one."""
    assert result.is_error is True, result
    data = result.structured_content
    assert isinstance(data, dict) and set(data) == {"error"}, result
    error = data["error"]
    assert {"code", "message", "hint"} <= set(error), error
    return error


async def _call(backend: Path, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    async with Client(build_server(backend)) as client:
        return _error(await client.call_tool(tool, arguments))


@pytest.mark.parametrize(
    ("tool", "arguments", "named", "wrong"),
    [
        # `fields` for `names`: the missing argument, and the one that is no parameter.
        ("remove_field", {"resource": "Customer", "fields": ["name"]}, "names", "missing"),
        ("remove_field", {"resource": "Customer", "fields": ["name"]}, "fields", "no such"),
        # A field object without its type: its place in the arguments, not pydantic's.
        (
            "generate_resource",
            {"name": "C", "fields": [{"name": "x"}]},
            "fields[0].type",
            "missing",
        ),
        ("add_field", {"resource": "Customer", "fields": "x:int"}, "fields", "valid list"),
        ("plan", {"change": {"kind": "make_it_so"}}, "change.kind", "'generate_resource'"),
        ("check", {"workers": 0}, "workers", "greater than or equal to 1"),
        # Otherwise valid, but for a misspelt dry_run: refused, not applied.
        ("destroy_resource", {"name": "Customer", "dryrun": True}, "dryrun", "no such"),
        ("update", {"dry": True}, "dry", "no such"),
        # "no" is not false: a dry run asked for in words is refused, not applied.
        (
            "generate_resource",
            {"name": "C", "fields": ["x:str"], "dry_run": "no"},
            "dry_run",
            "valid boolean",
        ),
        # An empty name, and arguments too long to be names or fields: refused by the
        # schema, and not echoed back whole.
        ("generate_resource", {"name": "", "fields": ["x:str"]}, "name", "at least 1"),
        ("destroy_resource", {"name": "C" * 5000}, "name", "at most 100"),
        ("rename_field", {"resource": "C", "old": "", "new": "b"}, "old", "at least 1"),
        ("add_field", {"resource": "C", "fields": ["x" * 5000 + ":str"]}, "fields[0]", "at most"),
        # Values the field language would read as more than they are.
        (
            "generate_resource",
            {"name": "C", "fields": [{"name": "t", "type": "str", "default": "a:unique"}]},
            "fields[0]",
            "read as a modifier",
        ),
        (
            "generate_resource",
            {"name": "C", "fields": [{"name": "s", "type": "enum", "values": ["a,b"]}]},
            "fields[0]",
            "no ':' or ','",
        ),
    ],
)
def test_arguments_that_do_not_fit_give_the_structured_error(
    backend: Path, tool: str, arguments: dict[str, Any], named: str, wrong: str
) -> None:
    before = _tree(backend)
    error = asyncio.run(_call(backend, tool, arguments))
    assert error["code"] == "invalid_arguments"
    assert error["message"].startswith(f"invalid arguments for {tool}: ")
    assert f" {named}: " in error["message"]
    assert error["details"]["tool"] == tool
    problems = {e["location"]: e["message"] for e in error["details"]["errors"]}
    assert wrong in problems[named]
    assert f"call {tool} again" in error["hint"]
    assert len(str(error)) < 1000
    assert _tree(backend) == before


def test_an_unknown_tool_gives_the_structured_error_naming_the_tools(backend: Path) -> None:
    error = asyncio.run(_call(backend, "generate_resourse", {"name": "C", "fields": []}))
    assert error["code"] == "unknown_tool"
    assert error["message"] == "no tool 'generate_resourse': did you mean generate_resource?"
    assert error["hint"].startswith("the tools are: add_field, apply_plan, change_field")


@pytest.mark.parametrize(
    ("prompt", "arguments", "message"),
    [
        ("add_resourse", {"request": "invoices"}, "no prompt 'add_resourse': did you mean "),
        ("add_resource", {}, "prompt add_resource needs the argument(s): request"),
    ],
)
def test_a_prompt_that_cannot_be_given_is_invalid_params(
    backend: Path, prompt: str, arguments: dict[str, str], message: str
) -> None:
    async def get() -> MCPError:
        async with Client(build_server(backend)) as client:
            with pytest.raises(MCPError) as raised:
                await client.get_prompt(prompt, arguments)
            return raised.value

    error = asyncio.run(get())
    assert error.error.code == INVALID_PARAMS
    assert error.error.message.startswith(message)


def test_the_hint_lists_the_tool_s_parameters(backend: Path) -> None:
    error = asyncio.run(_call(backend, "remove_field", {"resource": "Customer"}))
    assert error["message"] == "invalid arguments for remove_field: names: missing (it is required)"
    assert error["hint"].endswith(
        "resource, names (required), confirm_data_loss, dry_run, conflict_markers (optional)"
    )
    assert error["details"]["arguments"] == ["names"]


def test_a_field_object_is_not_also_reported_as_a_string(backend: Path) -> None:
    fields = [{"name": "x", "type": "decimal", "precision": "ten"}]
    error = asyncio.run(_call(backend, "generate_resource", {"name": "Thing", "fields": fields}))
    assert [e["location"] for e in error["details"]["errors"]] == ["fields[0].precision"]
    assert "valid string" not in error["message"]  # the `str` member of `str | FieldInput`
    assert "FieldInput" not in error["message"]
    assert not (backend / "app/models/thing.py").exists()


def test_an_unknown_resource_is_named(backend: Path) -> None:
    async def read() -> MCPError:
        async with Client(build_server(backend)) as client:
            with pytest.raises(MCPError) as raised:
                await client.read_resource("backend://resources/Nope")
            return raised.value

    error = asyncio.run(read())
    assert error.error.code == INVALID_PARAMS
    assert error.error.message == "no resource Nope in this backend; it has no resources yet"


def test_over_stdio_errors_are_structured_and_leave_no_traceback(
    backend: Path, tmp_path: Path
) -> None:
    async def session() -> None:
        params = StdioServerParameters(
            command=str(BIN / "backend-builder"), args=["mcp", "--path", str(backend)]
        )
        with (tmp_path / "stderr.txt").open("w") as errlog:
            async with (
                stdio_client(params, errlog=errlog) as (read, write),
                ClientSession(read, write) as client,
            ):
                await client.initialize()
                done = await client.call_tool(
                    "generate_resource", {"name": "Customer", "fields": ["name:str"]}
                )
                assert not done.is_error, done
                before = _tree(backend)

                result = await client.call_tool(
                    "remove_field", {"resource": "Customer", "fields": ["name"]}
                )
                error = _error(result)
                assert error["code"] == "invalid_arguments"
                assert "names: missing" in error["message"]
                assert "fields: no such parameter" in error["message"]
                assert '"invalid_arguments"' in result.content[0].text

                with pytest.raises(MCPError) as raised:
                    await client.read_resource("backend://resources/Nope")
                assert raised.value.error.code == INVALID_PARAMS
                assert raised.value.error.message == (
                    "no resource Nope in this backend; its resources: Customer"
                )
                spec = await client.read_resource("backend://resources/Customer")
                assert '"name": "Customer"' in spec.contents[0].text
                assert _tree(backend) == before

    asyncio.run(session())
    stderr = (tmp_path / "stderr.txt").read_text()
    assert "Traceback" not in stderr
    assert "Nope" in stderr  # logged, as the SDK logs an anticipated failure


def test_a_decimal_object_takes_the_default_of_what_it_leaves_out() -> None:
    from backend_builder.mcp_server import FieldInput

    assert FieldInput(name="p", type="decimal", precision=10).to_token() == "p:decimal:10,2"
    assert FieldInput(name="p", type="decimal", scale=4).to_token() == "p:decimal:12,4"
    assert FieldInput(name="p", type="decimal").to_token() == "p:decimal"


def test_a_planned_loss_of_data_is_applied_only_when_confirmed(backend: Path) -> None:
    """`plan` then `apply_plan` drops nothing that the tool itself would not."""

    async def session() -> tuple[dict[str, Any], dict[str, Any], Any, dict[str, Any]]:
        async with Client(build_server(backend)) as client:
            made = await client.call_tool(
                "generate_resource", {"name": "Note", "fields": ["title:str"]}
            )
            assert made.is_error is False, made
            planned = await client.call_tool(
                "plan", {"change": {"kind": "destroy_resource", "resource": "Note"}}
            )
            plan_hash = planned.structured_content["plan_hash"]
            refused = _error(await client.call_tool("apply_plan", {"plan_hash": plan_hash}))
            still = (backend / "app/models/note.py").exists()
            confirmed = await client.call_tool(
                "apply_plan", {"plan_hash": plan_hash, "confirm_data_loss": True}
            )
            again = _error(await client.call_tool("apply_plan", {"plan_hash": plan_hash}))
            return refused, confirmed.structured_content, still, again

    refused, confirmed, still, again = asyncio.run(session())
    assert refused["code"] == "confirmation_needed" and still is True
    assert "confirm_data_loss=true" in refused["hint"]
    assert confirmed["applied"] is True
    assert not (backend / "app/models/note.py").exists()
    assert again["code"] == "plan_applied"


def test_changes_called_at_once_are_applied_one_after_the_other(backend: Path) -> None:
    """Each is planned on what the one before it wrote: every resource is wired in, and
    the migrations stay one chain."""
    names = ["Task", "Meeting", "Call", "Email"]

    async def session() -> list[CallToolResult]:
        async with Client(build_server(backend)) as client:
            return list(
                await asyncio.gather(
                    *(
                        client.call_tool(
                            "generate_resource", {"name": name, "fields": ["subject:str"]}
                        )
                        for name in names
                    )
                )
            )

    results = asyncio.run(session())
    assert all(result.is_error is False for result in results), results
    manifest = (backend / "backend-builder.toml").read_text()
    assert all(f"[resources.{name}]" in manifest for name in names)
    routers = (backend / "app/api/v1/api.py").read_text()
    assert all(name.lower() in routers for name in names)
    revisions = sorted(path.name[:4] for path in (backend / "alembic/versions").glob("0*.py"))
    assert revisions == ["0001", "0002", "0003", "0004", "0005"]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"kind": "remove_field", "resource": "Customer", "fields": ["name"]}, "fields"),
        ({"kind": "rename_field", "resource": "Customer", "names": ["name"]}, "names"),
    ],
)
def test_a_planned_change_refuses_what_its_kind_does_not_take(
    backend: Path, change: dict[str, Any], named: str
) -> None:
    error = asyncio.run(_call(backend, "plan", {"change": change}))
    assert error["code"] == "invalid_arguments" and error["field"] == named
    assert error["message"] == f"{change['kind']} does not take {named}"


def test_a_field_object_refuses_what_its_type_does_not_take(backend: Path) -> None:
    field = {"name": "title", "type": "str", "values": ["a", "b"]}
    error = asyncio.run(_call(backend, "generate_resource", {"name": "C", "fields": [field]}))
    assert error["code"] == "invalid_arguments"
    assert "values is for enum fields, not str ones" in error["message"]


def test_hints_name_the_tools_not_the_commands(backend: Path) -> None:
    async def session() -> dict[str, Any]:
        async with Client(build_server(backend)) as client:
            made = await client.call_tool(
                "generate_resource", {"name": "Contact", "fields": ["email:str"]}
            )
            assert made.is_error is False, made
            return _error(
                await client.call_tool(
                    "add_field", {"resource": "Contact", "fields": ["email:text:optional"]}
                )
            )

    error = asyncio.run(session())
    assert error["code"] == "field_exists"
    assert error["hint"] == "to change it: change_field Contact email:text:optional"


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        (
            "or remove the fields: backend-builder remove field Deal contact",
            "or remove the fields: remove_field Deal contact",
        ),
        (
            "see `backend-builder generate resource --help`",
            "see the generate_resource tool's description",
        ),
        ("the status command lists the resources", "the status tool lists the resources"),
        (
            "an update of the nulls; its status is kept",
            "an update of the nulls; its status is kept",
        ),
        (
            "backend-builder change field Deal stage:enum:won --replace open=won "
            "--replace lost=VALUE (VALUE one of won)",
            "change_field Deal stage:enum:won replace={open: won, lost: VALUE} "
            "(VALUE one of won)",
        ),
    ],
)
def test_a_command_line_hint_in_tool_terms(hint: str, expected: str) -> None:
    from backend_builder.mcp_server import _in_tool_terms

    assert _in_tool_terms(hint) == expected
