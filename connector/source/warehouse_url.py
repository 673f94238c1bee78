"""The parts of BigQuery and Snowflake store URLs, checked without their SDKs.

- ``bigquery://PROJECT/DATASET[?location=EU]``: tables named ``table`` are read from
  ``DATASET``, ``other.table`` from dataset ``other`` of the same project; credentials
  are Google's application default credentials (``GOOGLE_APPLICATION_CREDENTIALS``,
  ``gcloud auth application-default login``, a workload identity), never the URL.
- ``snowflake://USER[:PASSWORD]@ACCOUNT/DATABASE/SCHEMA?warehouse=WH[&role=R]
  [&authenticator=A][&private_key_file=PATH]``: SQLAlchemy's Snowflake spelling; tables
  named ``table`` are read from ``DATABASE.SCHEMA``, ``other.table`` from schema
  ``other``.

Errors name the parameters, never their values (a value might be a secret).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from connector.errors import ConfigError

__all__ = ["BigQueryTarget", "SnowflakeTarget", "bigquery_target", "snowflake_target"]

#: BigQuery project ids: 6-30 lower-case letters, digits and hyphens (an optional
#: ``domain:`` prefix for older projects is not accepted in a URL host)
_PROJECT = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")
#: dataset names: letters, digits, underscores, up to 1,024
_DATASET = re.compile(r"[A-Za-z0-9_]{1,1024}")
#: Snowflake account identifiers (``orgname-account``, ``xy12345.eu-west-1``, ...)
_ACCOUNT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_SNOWFLAKE_PARAMETERS = ("warehouse", "role", "authenticator", "private_key_file")
_SETTING = "SEGSYNC_SOURCE_URL"


def _fail(message: str) -> ConfigError:
    return ConfigError(message, file=_SETTING)


def _parameters(query: str, allowed: tuple[str, ...], shown: str) -> dict[str, str]:
    found = parse_qs(query, keep_blank_values=True)
    unknown = sorted(set(found) - set(allowed))
    if unknown:
        raise _fail(
            f"{shown}: unknown parameter {', '.join(unknown)} (it takes {', '.join(allowed)})"
        )
    empty = sorted(k for k, v in found.items() if not v[-1].strip())
    if empty:
        raise _fail(f"{shown}: parameter {', '.join(empty)} is empty")
    return {key: values[-1] for key, values in found.items()}


@dataclass(frozen=True)
class BigQueryTarget:
    project: str
    dataset: str
    location: str | None = None

    def display(self) -> str:
        where = f"?location={self.location}" if self.location else ""
        return f"bigquery://{self.project}/{self.dataset}{where}"


def bigquery_target(dsn: str) -> BigQueryTarget:
    """``bigquery://PROJECT/DATASET[?location=L]`` checked; a ``ConfigError`` otherwise."""
    parts = urlsplit(dsn)
    usage = "use bigquery://PROJECT/DATASET (e.g. bigquery://acme-analytics/crm)"
    if parts.username or parts.password:
        raise _fail(
            "bigquery:// URLs carry no credentials: segsync uses Google's application "
            "default credentials (GOOGLE_APPLICATION_CREDENTIALS or gcloud auth "
            f"application-default login); {usage}"
        )
    project = parts.netloc
    dataset = parts.path.strip("/")
    shown = f"bigquery://{project}/{dataset}"
    if not project or not dataset:
        raise _fail(f"invalid store URL '{shown}': {usage}")
    if not _PROJECT.fullmatch(project):
        raise _fail(
            f"{shown}: '{project}' is not a BigQuery project id (6-30 lower-case letters, "
            "digits and hyphens, starting with a letter)"
        )
    if not _DATASET.fullmatch(dataset):
        raise _fail(
            f"{shown}: '{dataset}' is not a BigQuery dataset name (letters, digits and underscores)"
        )
    location = _parameters(parts.query, ("location",), shown).get("location")
    return BigQueryTarget(project, dataset, location)


@dataclass(frozen=True)
class SnowflakeTarget:
    account: str
    user: str
    database: str
    schema: str
    password: str | None = None
    warehouse: str | None = None
    role: str | None = None
    authenticator: str | None = None
    private_key_file: str | None = None

    def display(self) -> str:
        """The URL without the password."""
        parameters = [
            f"{key}={value}"
            for key in _SNOWFLAKE_PARAMETERS
            if (value := getattr(self, key)) is not None
        ]
        query = f"?{'&'.join(parameters)}" if parameters else ""
        return f"snowflake://{self.user}@{self.account}/{self.database}/{self.schema}{query}"

    def connect_arguments(self) -> dict[str, object]:
        """Keyword arguments of ``snowflake.connector.connect`` (the session in UTC)."""
        arguments: dict[str, object] = {
            "account": self.account,
            "user": self.user,
            "database": self.database,
            "schema": self.schema,
            "session_parameters": {"TIMEZONE": "UTC", "QUERY_TAG": "segsync"},
            "login_timeout": 30,
            "application": "segsync",
        }
        for key in ("password", *_SNOWFLAKE_PARAMETERS):
            value = getattr(self, key)
            if value is not None:
                arguments[key] = value
        return arguments


def snowflake_target(dsn: str) -> SnowflakeTarget:
    """``snowflake://USER[:PASSWORD]@ACCOUNT/DATABASE/SCHEMA?warehouse=WH...`` checked."""
    parts = urlsplit(dsn)
    usage = (
        "use snowflake://USER@ACCOUNT/DATABASE/SCHEMA?warehouse=WH "
        "(the password after USER: or from an authenticator/private_key_file parameter)"
    )
    account = parts.hostname or ""
    path = [unquote(p) for p in parts.path.split("/") if p]
    user = unquote(parts.username or "")
    shown = f"snowflake://{user + '@' if user else ''}{account}{parts.path}"
    if not user or not account or len(path) != 2:
        raise _fail(f"invalid store URL '{shown}': {usage}")
    if parts.port is not None or not _ACCOUNT.fullmatch(account):
        raise _fail(f"{shown}: '{parts.netloc.rsplit('@', 1)[-1]}' is not a Snowflake account")
    found = _parameters(parts.query, _SNOWFLAKE_PARAMETERS, shown)
    password = unquote(parts.password) if parts.password is not None else None
    return SnowflakeTarget(
        account=account,
        user=user,
        database=path[0],
        schema=path[1],
        password=password,
        **found,
    )
