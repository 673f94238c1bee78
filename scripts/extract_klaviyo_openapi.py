"""Extract the part of Klaviyo's OpenAPI document that segsync's emulator validates against.

    python scripts/extract_klaviyo_openapi.py [SPEC] [OUT]

SPEC defaults to shared/openapi/klaviyo-stable.json next to the checkout (Klaviyo's
published stable spec, https://github.com/klaviyo/openapi),
OUT to connector/emulator/klaviyo/openapi_subset.json (committed, shipped in the package).
For every operation the emulator implements that takes a body, the request body's schema
is kept with every schema it references (``$defs``), converted from OpenAPI 3.0 to JSON
Schema 2020-12 (``nullable: true`` becomes a ``null`` alternative, ``oneOf`` becomes
``anyOf``: see ``convert``), so ``jsonschema`` can
check bodies exactly as the published contract states. The rate limits
(``x-klaviyo-ratelimit``) of every operation the emulator serves are kept too: they are
the emulator's windows. Re-run it when the spec changes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPEC = next(
    (
        candidate / "shared" / "openapi" / "klaviyo-stable.json"
        for candidate in (ROOT.parent, ROOT.parent.parent)
        if (candidate / "shared" / "openapi" / "klaviyo-stable.json").exists()
    ),
    ROOT.parent / "shared" / "openapi" / "klaviyo-stable.json",
)
DEFAULT_OUT = ROOT / "connector" / "emulator" / "klaviyo" / "openapi_subset.json"

#: (method, path) of every operation with a body the emulator implements
OPERATIONS = [
    ("POST", "/api/lists"),
    ("POST", "/api/lists/{id}/relationships/profiles"),
    ("DELETE", "/api/lists/{id}/relationships/profiles"),
    ("POST", "/api/profile-bulk-import-jobs"),
    ("POST", "/api/profile-import"),
    ("PATCH", "/api/profiles/{id}"),
    ("POST", "/api/segments"),
    ("PATCH", "/api/segments/{id}"),
    ("POST", "/api/profile-subscription-bulk-create-jobs"),
    ("POST", "/api/profile-subscription-bulk-delete-jobs"),
]
#: (method, path) of every other operation the emulator serves (rate limits only)
READS = [
    ("GET", "/api/accounts"),
    ("GET", "/api/lists"),
    ("GET", "/api/lists/{id}"),
    ("GET", "/api/lists/{id}/profiles"),
    ("GET", "/api/lists/{id}/relationships/profiles"),
    ("GET", "/api/profiles"),
    ("GET", "/api/profiles/{id}"),
    ("GET", "/api/profile-bulk-import-jobs"),
    ("GET", "/api/profile-bulk-import-jobs/{job_id}"),
    ("GET", "/api/profile-bulk-import-jobs/{id}/import-errors"),
    ("GET", "/api/profile-bulk-import-jobs/{id}/profiles"),
    ("GET", "/api/profile-bulk-import-jobs/{id}/relationships/profiles"),
    ("GET", "/api/segments"),
    ("GET", "/api/segments/{id}"),
    ("DELETE", "/api/segments/{id}"),
    ("GET", "/api/segments/{id}/profiles"),
    ("GET", "/api/segments/{id}/relationships/profiles"),
]
_REF = "#/components/schemas/"


def convert(node: Any) -> Any:
    """OpenAPI 3.0 schema → JSON Schema 2020-12 (refs into ``$defs``, nullable)."""
    if isinstance(node, list):
        return [convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {
        key: convert(value)
        for key, value in node.items()
        if key not in ("nullable", "example", "description", "x-klaviyo-pre-release")
    }
    if "$ref" in out:
        out["$ref"] = "#/$defs/" + str(out["$ref"]).removeprefix(_REF)
    if "oneOf" in out:
        # the spec's generator writes oneOf over overlapping alternatives (integer | number,
        # filters that differ only by a discriminating enum), which the API reads as "any
        # of": as JSON Schema's oneOf, 100 would be refused for matching both
        out["anyOf"] = out.pop("oneOf")
    if node.get("nullable"):
        if "type" in out and isinstance(out["type"], str):
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def referenced(node: Any, found: set[str], schemas: dict[str, Any]) -> None:
    """Every component schema ``node`` reaches, transitively."""
    if isinstance(node, list):
        for item in node:
            referenced(item, found, schemas)
    elif isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF):
            name = ref.removeprefix(_REF)
            if name not in found:
                found.add(name)
                referenced(schemas[name], found, schemas)
        for value in node.values():
            referenced(value, found, schemas)


def extract(spec: dict[str, Any]) -> dict[str, Any]:
    schemas = spec["components"]["schemas"]
    operations: dict[str, Any] = {}
    names: set[str] = set()
    for method, path in OPERATIONS:
        operation = spec["paths"][path][method.lower()]
        content = operation["requestBody"]["content"]
        body = next(iter(content.values()))["schema"]
        referenced(body, names, schemas)
        operations[f"{method} {path}"] = {
            "operationId": operation["operationId"],
            "schema": convert(body),
            "rate_limit": operation.get("x-klaviyo-ratelimit"),
            "scopes": operation.get("x-klaviyo-scopes"),
        }
    limits = {
        f"{method} {path}": spec["paths"][path][method.lower()]["x-klaviyo-ratelimit"]
        for method, path in OPERATIONS + READS
    }
    return {
        "source": "Klaviyo OpenAPI (stable), extracted by scripts/extract_klaviyo_openapi.py",
        "revision": spec["info"]["version"],
        "operations": operations,
        "rate_limits": limits,
        "$defs": {name: convert(schemas[name]) for name in sorted(names)},
    }


def main(argv: list[str]) -> None:
    spec_path = Path(argv[1]) if len(argv) > 1 else DEFAULT_SPEC
    out_path = Path(argv[2]) if len(argv) > 2 else DEFAULT_OUT
    subset = extract(json.loads(spec_path.read_text()))
    out_path.write_text(json.dumps(subset, indent=1, sort_keys=True) + "\n")
    print(f"{out_path}: {len(subset['operations'])} operations, {len(subset['$defs'])} schemas")


if __name__ == "__main__":
    main(sys.argv)
