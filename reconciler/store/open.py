"""Choose the store backend from a URL (`--store` / `SMTPCFG_STORE`).

SQLite URLs follow SQLAlchemy's rule: `sqlite:///relative/path` (three slashes) is
relative to the current folder, `sqlite:////absolute/path` (four) is absolute. Stores
are shown by their absolute path, so a URL that means something else than intended is
visible in every command's output.
"""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from reconciler.store.base import Store, StoreError

DEFAULT_STORE_URL = "sqlite:///smtpcfg.db"
INIT_HINT = "create it with `smtpcfg init` (given the same --store or SMTPCFG_STORE)"


def open_store(url: str, *, create: bool) -> Store:
    """Open the store at `url` and bring an older schema up to date.

    With `create` (`smtpcfg init`), a store that does not exist is created; without it,
    such a store is refused (StoreMissingError), and nothing is left behind.
    """
    if not url.strip():
        raise StoreError("no store given: --store or SMTPCFG_STORE is empty")
    path = _sqlite_path(url)
    if path is not None:
        from reconciler.store.sqlite import SqliteStore

        return SqliteStore.open(sqlite_url(path), path, create=create)
    if url.startswith(("postgresql://", "postgres://")):
        from reconciler.store.postgres import PostgresStore

        return PostgresStore.open(url, redact_url(url), create=create)
    raise StoreError(
        f"unsupported store URL {redact_url(url)!r}: use sqlite:///PATH or postgresql://..."
    )


def init_store(url: str) -> str:
    """Create the store at `url`, or bring an older one up to date; say which was done."""
    with closing(open_store(url, create=True)) as store:
        state = store.state()
    where = f"store {store.url} (id {state.store_id}, revision {state.revision})"
    if store.migrated and state.revision == 0 and 1 in store.migrated:
        return f"Created {where}."
    if store.migrated:
        applied = ", ".join(str(version) for version in store.migrated)
        return f"Migrated {where}: applied schema migrations {applied}."
    return f"The {where} is up to date; nothing to do."


def open_existing_store(url: str) -> Store:
    """Open a store that must already exist: every command but `init` refuses to make one,
    so a typo in `--store` is an error rather than a new, empty store."""
    return open_store(url, create=False)


def existing_store(url: str) -> closing[Store]:
    """`open_existing_store`, for a `with` block that closes it."""
    return closing(open_existing_store(url))


def sqlite_url(path: Path) -> str:
    """The URL of a SQLite file, by its absolute path (`sqlite:////abs/path`)."""
    return f"sqlite:///{path.resolve()}"


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
