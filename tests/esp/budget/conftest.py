"""Fixtures of the shared-budget tests: the repository root (for driver subprocesses). The
PostgreSQL state store is the suite's ``pg_state`` (tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
