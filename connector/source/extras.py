"""Optional stores' packages, installed as pip extras, imported only when such a store opens.

``require("pyspark.sql", "spark", "Spark stores")`` returns the module, or raises a
``ConfigError`` that names the extra to install.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from connector.errors import ConfigError

__all__ = ["install_hint", "require"]


def install_hint(extra: str) -> str:
    return f"pip install 'segsync[{extra}]'"


def require(module: str, extra: str, what: str) -> ModuleType:
    """``module`` imported, or a ``ConfigError`` telling which extra provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing = exc.name or module
        raise ConfigError(
            f"{what} need the '{extra}' extra ({missing} is not installed): "
            f"install it with {install_hint(extra)}",
            file="SEGSYNC_SOURCE_URL",
        ) from None
