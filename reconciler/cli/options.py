"""Options that several commands share, declared once."""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TextIO

import click
from click.core import ParameterSource

from reconciler.model import DEFAULT_SCOPE
from reconciler.store.open import DEFAULT_STORE_URL
from reconciler.vault.auth_methods import AUTH_METHODS

F = Callable[..., Any]
if TYPE_CHECKING:  # ParamType is generic from click 8.2 on; 8.1, still supported, is not
    _DurationType = click.ParamType[float, Any]
    _PointInTimeType = click.ParamType[str, Any]
    _KeyValueType = click.ParamType[tuple[str, str], Any]
    _ListenAddressType = click.ParamType[tuple[str, int], Any]
else:
    _DurationType = _PointInTimeType = _KeyValueType = _ListenAddressType = click.ParamType
STORE_VARIABLE = "SMTPCFG_STORE"


def _store_url(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """An empty URL is an error, never the default: an empty SMTPCFG_STORE is what a CI
    job gets for a missing secret, and must not plan against a store of its own."""
    given = ctx.get_parameter_source("store_url")
    if given is ParameterSource.DEFAULT and os.environ.get(STORE_VARIABLE) is not None:
        value = os.environ[STORE_VARIABLE]  # click passes over an empty variable
    if not value.strip():
        where = "--store" if given is ParameterSource.COMMANDLINE else STORE_VARIABLE
        raise click.UsageError(
            f"{where} is empty: give the store's URL (sqlite:///PATH or postgresql://...)"
        )
    return value


def store_option(function: F) -> F:
    return click.option(
        "--store",
        "store_url",
        envvar=STORE_VARIABLE,
        default=DEFAULT_STORE_URL,
        show_default=True,
        metavar="URL",
        callback=_store_url,
        help="The store: sqlite:///RELATIVE/PATH, sqlite:////ABSOLUTE/PATH or "
        "postgresql://...; `smtpcfg init` creates it [env: SMTPCFG_STORE]",
    )(function)


def plan_key_option(function: F) -> F:
    return click.option(
        "--plan-key-file",
        type=click.Path(dir_okay=False, path_type=Path),
        metavar="FILE",
        help="File holding the key that signs saved plans (plan --out) and that apply "
        "checks them with [default: the key in $SMTPCFG_PLAN_KEY, if set].",
    )(function)


_SCOPE_NAME = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")


def _scope_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not _SCOPE_NAME.match(value):
        raise click.BadParameter(
            f"{value!r} is not a valid scope name: lowercase letters, digits, '-' and '.'"
        )
    return value


def owning_scope_option(function: F) -> F:
    """The scope a plan or apply owns (and export writes out)."""
    return click.option(
        "--scope",
        envvar="SMTPCFG_SCOPE",
        default=DEFAULT_SCOPE,
        show_default=True,
        callback=_scope_name,
        help="The scope these manifests own in a shared store [env: SMTPCFG_SCOPE].",
    )(function)


def filter_scope_option(function: F) -> F:
    """An optional scope filter for reading commands."""
    return click.option(
        "--scope", callback=_scope_name, help="Only resources of this scope [default: every scope]."
    )(function)


def vault_auth_option(function: F) -> F:
    return click.option(
        "--vault-auth",
        type=click.Choice(AUTH_METHODS),
        envvar="SMTPCFG_VAULT_AUTH",
        default=None,
        help="How to log in to Vault [env: SMTPCFG_VAULT_AUTH; default: token].",
    )(function)


def manifests_option(required: bool) -> Callable[[F], F]:
    return click.option(
        "-f",
        "--filename",
        "paths",
        multiple=True,
        required=required,
        metavar="PATH",
        help="Manifest file or folder (searched for *.yaml, *.yml); '-' reads stdin. Repeatable.",
    )


def manifest_paths(function: F) -> F:
    """Manifest files and folders as positional PATHs and as repeated `-f PATH`, joined
    into the command's `paths` (at least one): `smtpcfg validate a.yaml b.yaml -f dir/`.
    Positional paths are what pre-commit and shell globs pass."""

    @functools.wraps(function)
    def joined(*args: Any, positional_paths: tuple[str, ...], **kwargs: Any) -> Any:
        paths = (*kwargs.pop("paths"), *positional_paths)
        if not paths:
            raise click.UsageError("give the manifests: PATH... or -f PATH (files or folders)")
        return function(*args, paths=paths, **kwargs)

    joined = click.argument("positional_paths", nargs=-1, metavar="[PATH]...")(joined)
    return manifests_option(required=False)(joined)


def use_color(stream: TextIO | None = None) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    stream = stream or sys.stdout
    return bool(stream.isatty()) and not os.environ.get("NO_COLOR")


class Duration(_DurationType):
    """A length of time such as `30d`, `12h`, `45m` or `90s`, in seconds."""

    name = "duration"
    _UNITS: ClassVar[dict[str, int]] = {"s": 1, "m": 60, "h": 3600, "d": 86400}

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float):
            return value
        seconds = self.parse(str(value))
        if seconds is None:
            self.fail(
                f"{value!r} is not a duration: a number and a unit, s, m, h or d (e.g. 30d, 12h)",
                param,
                ctx,
            )
        return seconds

    @classmethod
    def parse(cls, text: str) -> float | None:
        """The seconds `text` means, or None when it is not a duration."""
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", text)
        return float(match.group(1)) * cls._UNITS[match.group(2)] if match else None


class PointInTime(_PointInTimeType):
    """A moment, as the store writes times: an ISO 8601 date or date and time (UTC
    unless it names a zone), or a duration before now (`7d`, `12h`).

    A date alone is the start of that day, or with `end_of_day` the start of the next
    one, so `--until 2026-12-01` takes in the whole of that day.
    """

    name = "time"

    def __init__(self, *, end_of_day: bool = False) -> None:
        self.end_of_day = end_of_day

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from datetime import UTC, date, datetime, timedelta

        from reconciler.timeutil import format_utc

        text = str(value).strip()
        seconds = Duration.parse(text)
        if seconds is not None:
            return format_utc(datetime.now(UTC) - timedelta(seconds=seconds))
        try:
            day = date.fromisoformat(text)
        except ValueError:
            pass
        else:
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return format_utc(start + timedelta(days=1) if self.end_of_day else start)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            self.fail(
                f"{value!r} is not a time: an ISO 8601 date or time (2026-12-01, "
                "2026-12-01T09:30Z) or a duration before now (7d, 12h)",
                param,
                ctx,
            )
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        # An until bound includes the moment itself.
        return format_utc(moment + timedelta(microseconds=1) if self.end_of_day else moment)


class KeyValue(_KeyValueType):
    """`KEY=VALUE`, as a (key, value) pair."""

    name = "key=value"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[str, str]:
        if isinstance(value, tuple):
            return value
        key, sep, text = str(value).partition("=")
        if not sep or not key:
            # Named as the option is typed, as click words errors of a command's own checks.
            raise click.BadParameter(
                f"{value!r} is not KEY=VALUE",
                ctx,
                param,
                param_hint=param.opts[0] if param else None,
            )
        return key, text


def output_format_option(*formats: str) -> Callable[[F], F]:
    """`-o/--output FORMAT`, one of `formats`, the first by default."""
    return click.option(
        "-o",
        "--output",
        "output_format",
        type=click.Choice(list(formats)),
        default=formats[0],
        show_default=True,
    )


def actor_option(what: str) -> Callable[[F], F]:
    """`--actor NAME`: who does it, for the audit (as `apply` records it)."""
    return click.option(
        "--actor",
        metavar="NAME",
        help=f"Who {what}, for the audit [default: $GITHUB_ACTOR and similar CI "
        "variables, else the OS user].",
    )


class ListenAddress(_ListenAddressType):
    """`HOST:PORT` to listen on: `127.0.0.1:9464`, `0.0.0.0:9464`, `[::1]:9464`."""

    name = "host:port"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[str, int]:
        if isinstance(value, tuple):
            return value
        match = re.fullmatch(r"(?:\[([0-9A-Fa-f:.]+)\]|([^:\[\]]+)):(\d{1,5})", str(value))
        port = int(match.group(3)) if match else -1
        if match is None or port > 65535:
            self.fail(
                f"{value!r} is not HOST:PORT (e.g. 127.0.0.1:9464, 0.0.0.0:9464, [::1]:9464)",
                param,
                ctx,
            )
        return match.group(1) or match.group(2), port


def smtp_client_options(
    *, timeout: float, timeout_help: str, prefix: str = "", dest: str = ""
) -> Callable[[F], F]:
    """`--timeout` and `--ca-file`: how a command connects to SMTP servers (deliver,
    test-email and probe connect through the same code). `prefix` goes before the option
    names, `dest` before the parameter names."""

    def decorate(function: F) -> F:
        function = click.option(
            f"--{prefix}timeout",
            f"{dest}timeout",
            type=click.FloatRange(0.1),
            default=timeout,
            show_default=True,
            metavar="SECONDS",
            help=timeout_help,
        )(function)
        return click.option(
            f"--{prefix}ca-file",
            f"{dest}ca_file",
            type=click.Path(exists=True, dir_okay=False),
            help=(
                "CA certificates to verify SMTP servers and OAuth2 token endpoints with "
                "[default: system store]."
            ),
        )(function)

    return decorate


def probe_options(prefix: str) -> Callable[[F], F]:
    """How a probe connects: `--timeout`, `--ca-file`, `--parallel`, `--expiry-days` on
    `probe`; the same with `prefix` (`--probe-timeout`, ...) on `plan`. They reach the
    command as `probe_timeout`, `probe_ca_file`, `probe_parallel`, `probe_expiry_days`."""
    from reconciler.delivery.options import (
        CERTIFICATE_EXPIRY_DAYS,
        PROBE_PARALLEL,
        PROBE_TIMEOUT,
    )

    def decorate(function: F) -> F:
        function = click.option(
            f"--{prefix}expiry-days",
            "probe_expiry_days",
            type=click.IntRange(0),
            default=CERTIFICATE_EXPIRY_DAYS,
            show_default=True,
            metavar="DAYS",
            help="Warn when a server's certificate expires within this many days.",
        )(function)
        function = click.option(
            f"--{prefix}parallel",
            "probe_parallel",
            type=click.IntRange(1, 64),
            default=PROBE_PARALLEL,
            show_default=True,
            metavar="N",
            help="Servers probed at once.",
        )(function)
        connect = smtp_client_options(
            timeout=PROBE_TIMEOUT,
            timeout_help="Bounds connecting with the greeting, and each whole reply.",
            prefix=prefix,
            dest="probe_",
        )
        return connect(function)

    return decorate
