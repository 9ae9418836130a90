"""Timestamps as the store and the audit log write them: UTC, ISO 8601, `Z`.

The fixed width makes them compare correctly as strings, which SQL relies on.
"""

from datetime import UTC, datetime, timedelta

_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def utc_now() -> str:
    return datetime.now(UTC).strftime(_FORMAT)


def utc_in(seconds: float) -> str:
    """The timestamp `seconds` from now."""
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime(_FORMAT)


def format_utc(moment: datetime) -> str:
    """A timezone-aware datetime (as PostgreSQL returns them) in the store's format."""
    return moment.astimezone(UTC).strftime(_FORMAT)


def seconds_since(timestamp: str) -> float:
    """Seconds from a store timestamp until now (negative for one in the future)."""
    moment = datetime.strptime(timestamp, _FORMAT).replace(tzinfo=UTC)
    return (datetime.now(UTC) - moment).total_seconds()
