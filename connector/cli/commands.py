"""Imports every command module so each registers itself on ``app``."""

from connector.cli import (  # noqa: F401
    cmd_apply,
    cmd_audit,
    cmd_demo,
    cmd_doctor,
    cmd_emulator,
    cmd_explain,
    cmd_init,
    cmd_load,
    cmd_plan,
    cmd_preview,
    cmd_report,
    cmd_run,
    cmd_schema,
    cmd_status,
    cmd_sync,
    cmd_validate,
)
