"""Each ESP lives in its own package: outside ``connector/esp/<name>/`` and the emulator, no
code names an ESP — no identifier, no string — so adding one touches its package and the
registry, and nothing elsewhere silently treats an unknown ESP as a known one.

Docstrings and comments may name ESPs (as examples); code may not. The allow-list is the
wiring that has to know every ESP by name, each with its reason.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

from connector.esp.registry import ESPS
from connector.settings import ESP_SECTIONS, Settings

ROOT = Path(__file__).resolve().parents[2] / "connector"
ESP_NAMES = sorted(ESPS)
NAMED = re.compile("|".join(ESP_NAMES), re.IGNORECASE)

#: module (relative to connector/) → why it may name ESPs
ALLOWED = {
    "esp/registry.py": "the one line per ESP package: `esp:` name -> its EspSpec",
}


def _docstring_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not isinstance(body, list) or not body or not isinstance(body[0], ast.Expr):
            continue
        value = body[0].value
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            lines.update(range(value.lineno, (value.end_lineno or value.lineno) + 1))
    return lines


def esp_names_in(path: Path) -> list[str]:
    """``line: token`` for every identifier or string (docstrings aside) naming an ESP."""
    text = path.read_text(encoding="utf-8")
    docstrings = _docstring_lines(ast.parse(text))
    found = []
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type not in (tokenize.NAME, tokenize.STRING):
            continue
        if token.type != tokenize.NAME and token.start[0] in docstrings:
            continue
        if NAMED.search(token.string):
            found.append(f"{token.start[0]}: {token.string[:70]}")
    return found


def _outside_esp_packages() -> list[Path]:
    modules = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if parts[0] == "emulator" or (parts[0] == "esp" and len(parts) > 2):
            continue  # the emulator, and connector/esp/<name>/
        modules.append(path)
    return modules


def test_no_module_outside_the_esp_packages_names_an_esp() -> None:
    offenders = {
        str(path.relative_to(ROOT)): names
        for path in _outside_esp_packages()
        if str(path.relative_to(ROOT)) not in ALLOWED and (names := esp_names_in(path))
    }
    assert offenders == {}


def test_the_allow_list_is_short_and_current() -> None:
    modules = {str(p.relative_to(ROOT)) for p in _outside_esp_packages()}
    assert len(ALLOWED) <= 1
    for name in ALLOWED:
        assert name in modules, f"{name} is allowed but does not exist"
        assert esp_names_in(ROOT / name), f"{name} no longer names an ESP: drop it from ALLOWED"


def test_every_registered_esp_has_its_package_its_destination_model_and_settings() -> None:
    packages = {p.name for p in (ROOT / "esp").iterdir() if (p / "__init__.py").exists()}
    assert set(ESP_NAMES) <= packages
    for name, spec in ESPS.items():
        assert spec.name == name
        assert spec.destination.esp_name() == name
        assert spec.destination.__module__ == f"connector.esp.{name}.destination"
        assert spec.settings.__module__ == f"connector.esp.{name}.configuration"
        # Settings has the ESP's section as a field named after it: SEGSYNC_<NAME>__API_KEY
        assert Settings.model_fields[name].annotation is spec.settings
        assert spec.settings in ESP_SECTIONS
    assert len(ESP_SECTIONS) == len(ESPS)


def test_the_scan_sees_identifiers_and_strings_but_not_docstrings(tmp_path: Path) -> None:
    name = ESP_NAMES[0]
    module = tmp_path / "m.py"
    module.write_text(
        f'"""About {name}."""\n'
        f"# {name} in a comment\n"
        f"def f() -> str:\n"
        f'    """{name} in a docstring."""\n'
        f"    {name}_id = 1\n"
        f'    return f"{{x}} {name.title()}"\n',
        encoding="utf-8",
    )
    assert [line.split(":")[0] for line in esp_names_in(module)] == ["5", "6"]
