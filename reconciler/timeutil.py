"""Timestamps as the store and the audit log write them: UTC, ISO 8601, `Z`."""

from datetime import UTC, datetime


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
