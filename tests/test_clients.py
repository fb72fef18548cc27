"""Clients made from a generated backend's OpenAPI document, in Python and TypeScript.

`make client` writes a typed Python client (openapi-python-client); the backend's own
end-to-end tests drive a live server through a client generated the same way. `make
client-ts` writes TypeScript types (openapi-typescript, through npx), and code that
uses them must pass `tsc --strict`: request bodies need only their required fields,
sort orders and error bodies are typed.
"""

import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from backend_builder.plan import apply_plan
from backend_builder.project import plan_new
from backend_builder.resource.generate import ALL_LAYERS, plan_generate
from tests.backend_checks import BIN, run

pytestmark = pytest.mark.slow
PATH = {"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}

RESOURCES = {
    "Customer": "name:str email:email:optional",
    "Invoice": "number:str:unique amount:decimal status:enum:draft,sent,paid:default=draft "
    "due_on:date:optional customer:ref",
    "Gadget": "label:str:index count:int:default=3 big:bigint:optional price:float "
    "score:decimal:10,4:optional at:datetime:optional ref_code:uuid:unique meta:json:optional "
    "contact:email:unique level:enum:low,high:optional owner:ref:users:optional",
}

USAGE = """\
import type { components, paths } from "./typescript/schema";

type Schemas = components["schemas"];

// Request bodies: only the required fields, the defaulted and optional ones left out.
export const customer: Schemas["CustomerCreate"] = { name: "Ada" };
export const invoice: Schemas["InvoiceCreate"] = {
  number: "2026-001",
  amount: "12.50",
  customer_id: "0190d2a0-0000-7000-8000-000000000000",
};
export const gadget: Schemas["GadgetCreate"] = {
  label: "box",
  price: 1.5,
  ref_code: "0190d2a0-0000-7000-8000-000000000001",
  contact: "ada@example.com",
};
export const change: Schemas["InvoiceUpdate"] = { status: "paid" };
export const nothing: Schemas["GadgetUpdate"] = {};

// A list's query: a named sort order, a typed filter, the cursor of a Link header.
type InvoiceQuery = NonNullable<paths["/api/v1/invoices/"]["get"]["parameters"]["query"]>;
export const query: InvoiceQuery = { sort: "-created_at", limit: 2, status: "draft" };

// Every error but 422 has one shape; 422 is FastAPI's.
type NotFound =
  paths["/api/v1/invoices/{invoice_id}"]["get"]["responses"][404]["content"]["application/json"];
export const missing: NotFound = { detail: "Invoice not found", code: "invoice_not_found" };
export const invalid: Schemas["HTTPValidationError"] = {
  detail: [{ loc: ["body", "amount"], msg: "invalid", type: "decimal_parsing" }],
};

// What the schema refuses, the compiler refuses.
// @ts-expect-error: a sort order the API does not have
export const wrongSort: InvoiceQuery = { sort: "-nothing" };
// @ts-expect-error: the number of an invoice is required
export const incomplete: Schemas["InvoiceCreate"] = { amount: "1.00", customer_id: "x" };
// @ts-expect-error: an update cannot set a required field to null
export const nulled: Schemas["InvoiceUpdate"] = { number: null };
"""


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A backend with resources of every kind of field."""
    root = tmp_path_factory.mktemp("typescript") / "shop"
    apply_plan(plan_new(root))
    for name, fields in RESOURCES.items():
        apply_plan(plan_generate(root, name, fields.split(), layers=ALL_LAYERS).plan)
    return root


def test_make_client_writes_a_package_that_the_end_to_end_tests_drive(backend: Path) -> None:
    run(backend, "make", "client", **PATH)
    assert (backend / "clients" / "python" / "pyproject.toml").exists()
    tests = [
        "app/tests/test_client.py",
        *(f"app/tests/test_{name.lower()}s.py::TestThroughTheClient" for name in RESOURCES),
    ]
    result = run(backend, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests)
    output = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"\d+ passed in .*", output), output
    assert int(output.split()[0]) == 1 + len(RESOURCES)


@pytest.mark.skipif(
    shutil.which("npx") is None and not os.environ.get("CI"),
    reason="Node.js (npx) is not installed",
)
def test_make_client_ts_writes_types_that_compile_strictly(backend: Path) -> None:
    run(backend, "make", "client-ts", **PATH)
    schema = backend / "clients" / "typescript" / "schema.d.ts"
    assert "invoices_list" in schema.read_text(encoding="utf-8")
    (backend / "clients" / "usage.ts").write_text(USAGE, encoding="utf-8")
    run(
        backend / "clients",
        "npx",
        "--yes",
        "-p",
        "typescript@5",
        "tsc",
        "--strict",
        "--noEmit",
        "--target",
        "es2022",
        "--module",
        "es2022",
        "--moduleResolution",
        "bundler",
        "usage.ts",
        **PATH,
    )
