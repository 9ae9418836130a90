"""Choose the store backend from a URL (`--store` / `SMTPCFG_STORE`)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from reconciler.store.base import Store, StoreError

DEFAULT_STORE_URL = "sqlite:///smtpcfg.db"


def open_store(url: str, *, create: bool) -> Store:
    """Open the store at `url`. Without `create`, a missing SQLite file reads as empty.

    A PostgreSQL database is always migrated on open: it is shared and long-lived, and
    its schema is created once by whoever comes first.
    """
    path = _sqlite_path(url)
    if path is not None:
        from reconciler.store.sqlite import SqliteStore

        return SqliteStore.open(url, path, create=create)
    if url.startswith(("postgresql://", "postgres://")):
        from reconciler.store.postgres import PostgresStore

        return PostgresStore.open(url, redact_url(url))
    raise StoreError(
        f"unsupported store URL {redact_url(url)!r}: use sqlite:///PATH or postgresql://..."
    )


def open_existing_store(url: str) -> Store:
    """Open a store that must already exist: runners and enqueuers need applied settings,
    so a typo in `--store` is an error rather than a new, empty store."""
    if not store_exists(url):
        raise StoreError(
            f"store {url} does not exist: apply manifests to it first, or check --store / "
            "SMTPCFG_STORE"
        )
    return open_store(url, create=False)


def store_exists(url: str) -> bool:
    """False only for a SQLite file that is not there; a database server is asked on open."""
    path = _sqlite_path(url)
    return path is None or path.exists()


def _sqlite_path(url: str) -> Path | None:
    """The file of a `sqlite:///PATH` URL; None for other URLs."""
    if not url.startswith("sqlite:///"):
        return None
    path = url.removeprefix("sqlite:///")
    if not path:
        raise StoreError(f"store URL {url!r} names no file: use sqlite:///PATH")
    return Path(path)


def redact_url(url: str) -> str:
    """The URL with any password replaced, for messages and output."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
