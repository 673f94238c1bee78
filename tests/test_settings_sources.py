"""The settings read without pydantic-settings equal what pydantic-settings reads: for any
mix of environment variables, ``.env`` lines and secrets files, ``load_settings`` gives the
same settings (or the same error) whether ``plain_values`` reads them or leaves them to
pydantic-settings; and it does read the common inputs itself."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

import connector.settings as settings_module
from connector.errors import ConfigError
from connector.settings import load_settings
from connector.settings_sources import plain_values

#: names of the README's settings table
PLAIN_NAMES = [
    "SEGSYNC_CONFIG_DIR", "SEGSYNC_SOURCE_URL", "SEGSYNC_STATE_URL", "SEGSYNC_STATE_PATH",
    "SEGSYNC_LOG_LEVEL", "SEGSYNC_STORE__PROFILES_TABLE", "SEGSYNC_STORE__TS",
    "SEGSYNC_MAILCHIMP__API_KEY", "SEGSYNC_MAILCHIMP__MAX_CONNECTIONS",
    "SEGSYNC_KLAVIYO__BASE_URL", "SEGSYNC_HTTP__TOKEN", "SEGSYNC_GUARDS__MAX_REMOVAL_PERCENT",
    "SEGSYNC_RETRY__MAX_SECONDS", "SEGSYNC_BUDGET__ENABLED", "SEGSYNC_BUDGET__URL",
]  # fmt: skip
#: names beyond the plain rules (JSON sections, a duration, a schedule, nesting, unknown
#: fields) and names no field has
OTHER_NAMES = [
    "SEGSYNC_STORE", "SEGSYNC_MAILCHIMP", "SEGSYNC_GUARDS__MAX_STALENESS",
    "SEGSYNC_DEFAULT_SCHEDULE", "SEGSYNC_STORE__NOPE", "SEGSYNC_HTTP__BIND__X",
    "SEGSYNC_CONFIG_DIR__X",
    # no field: ignored by both
    "SEGSYNC_NOPE", "SEGSYNC_STOREX", "OTHER_CONFIG_DIR", "SEGSYNC_",
]  # fmt: skip
VALUES = [
    "", "x", "crm.v_profiles", "5", "50", "-1", "0.5", "true", "no", "maybe", "1h", "15m",
    "0 6 * * *", "7d", "10", "null", "k3y-us6", '{"profiles_table": "p", "ts": "t"}',
    '{"api_key": "s3cret-us1"}', '{"max_connections": "x"}', "[1]", "{", " padded ",
]  # fmt: skip


def _case(name: str) -> st.SearchStrategy[str]:
    return st.sampled_from([name, name.lower(), name[:9] + name[9:].lower()])


# mostly the table's names, so that most examples are read plainly
NAME = st.one_of(*[st.sampled_from(PLAIN_NAMES)] * 9, st.sampled_from(OTHER_NAMES)).flatmap(_case)
ASSIGNMENTS = st.lists(st.tuples(NAME, st.sampled_from(VALUES)), max_size=6)
DOTENV_LINE = st.one_of(
    ASSIGNMENTS.map(lambda pairs: "\n".join(f"{k}={v}" for k, v in pairs)),
    ASSIGNMENTS.map(lambda pairs: "\n".join(f"export {k}='{v}'" for k, v in pairs)),
    st.sampled_from(["# comment", "SEGSYNC_SOURCE_URL", "SEGSYNC_STORE__TS", "=x"]),
)
SECRETS = st.one_of(
    st.just(None),  # no secrets directory
    ASSIGNMENTS,
    st.sampled_from(["subdir", "link", "file"]),  # beyond the plain rules
)


@contextmanager
def _inputs(
    environ: dict[str, str], dotenv: list[str] | None, secrets: Any
) -> Iterator[tuple[Path, Path]]:
    """A working directory with the ``.env`` file and a secrets directory, and only these
    environment variables."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        work, secrets_dir = root / "work", root / "secrets"
        work.mkdir()
        if dotenv is not None:
            (work / ".env").write_text("\n".join(dotenv) + "\n", encoding="utf-8")
        if isinstance(secrets, list):
            secrets_dir.mkdir()
            for name, value in secrets:
                (secrets_dir / name).write_text(value + "\n", encoding="utf-8")
        elif secrets == "subdir":
            (secrets_dir / "segsync_store").mkdir(parents=True)
            (secrets_dir / "segsync_store" / "x").write_text("y")
        elif secrets == "link":
            secrets_dir.mkdir()
            (root / "key").write_text("linked-us1")
            (secrets_dir / "segsync_mailchimp__api_key").symlink_to(root / "key")
        elif secrets == "file":
            secrets_dir.write_text("not a directory")
        env = {**environ, "SEGSYNC_SECRETS_DIR": str(secrets_dir)}
        before = Path.cwd()
        os.chdir(work)
        try:
            with mock.patch.dict(os.environ, env, clear=True):
                yield work, secrets_dir
        finally:
            os.chdir(before)


def _outcome(overrides: dict[str, Any]) -> tuple[str, Any]:
    try:
        read = load_settings(**overrides)
    except ConfigError as exc:
        return "error", str(exc)
    return "ok", read.model_dump()


@given(
    environ=ASSIGNMENTS.map(dict),
    dotenv=st.one_of(st.none(), st.lists(DOTENV_LINE, max_size=3)),
    secrets=SECRETS,
    config_dir=st.sampled_from([None, Path("from-flag")]),
)
def test_plain_reading_equals_pydantic_settings(
    environ: dict[str, str], dotenv: list[str] | None, secrets: Any, config_dir: Path | None
) -> None:
    with _inputs(environ, dotenv, secrets):
        plain = plain_values(
            settings_module.Settings,
            prefix="SEGSYNC_",
            delimiter="__",
            environ=os.environ,
            env_file=Path(".env"),
            secrets_dir=Path(os.environ["SEGSYNC_SECRETS_DIR"]),
        )
        event("read plainly" if plain is not None else "left to pydantic-settings")
        mine = _outcome({"config_dir": config_dir})
        with mock.patch.object(settings_module, "plain_values", return_value=None):
            theirs = _outcome({"config_dir": config_dir})
    assert mine == theirs


@pytest.mark.parametrize(
    ("environ", "dotenv", "secrets"),
    [
        ({}, None, None),
        ({"SEGSYNC_SOURCE_URL": "duckdb:///x.db", "segsync_store__ts": "t"}, None, None),
        ({"SEGSYNC_CONFIG_DIR": "c"}, ["SEGSYNC_STORE__EVENTS_TABLE=e"], None),
        ({}, None, [("segsync_mailchimp__api_key", "k3y-us6")]),
    ],
)
def test_the_common_inputs_are_read_without_pydantic_settings(
    environ: dict[str, str], dotenv: list[str] | None, secrets: Any
) -> None:
    with (
        _inputs(environ, dotenv, secrets),
        mock.patch.object(
            settings_module, "environment_settings", side_effect=AssertionError("not plain")
        ),
    ):
        load_settings()


def test_secrets_lose_to_dotenv_and_dotenv_to_the_environment() -> None:
    secrets = [("SEGSYNC_STORE__TS", "from-secret"), ("segsync_store__event", "from-secret")]
    dotenv = ["SEGSYNC_STORE__TS=from-dotenv", "SEGSYNC_STORE__EMAIL=from-dotenv"]
    with _inputs({"SEGSYNC_STORE__EMAIL": "from-env"}, dotenv, secrets):
        store = load_settings().store
    assert (store.ts, store.event, store.email) == ("from-dotenv", "from-secret", "from-env")
