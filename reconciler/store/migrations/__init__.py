"""Schema migrations: numbered SQL files per backend, applied in order, each once.

`NNNN_what.sql` in `sqlite/` or `postgresql/`. Every applied number is kept in the
`schema_migrations` table, and a store gets each migration it has not had, so numbers
may have gaps and branches may add them in any order. A store that has a migration this
smtpcfg does not know (a newer smtpcfg migrated it) is refused rather than misread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

_HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations(dialect: str) -> list[Migration]:
    """Every migration of `dialect`, in order."""
    found = []
    for path in sorted((_HERE / dialect).glob("[0-9][0-9][0-9][0-9]_*.sql")):
        found.append(Migration(int(path.name[:4]), path.stem, path.read_text(encoding="utf-8")))
    return found


def pending(dialect: str, applied: set[int], url: str) -> list[Migration]:
    """The migrations a store that has had `applied` still needs, in order.

    Raises StoreError for a store that a newer smtpcfg migrated further than we know.
    """
    from reconciler.store.base import StoreError

    known = migrations(dialect)
    unknown = applied - {migration.version for migration in known}
    if unknown:
        raise StoreError(
            f"store {url} has schema version {max(unknown)}, newer than this"
            f" smtpcfg knows ({known[-1].version}); upgrade smtpcfg"
        )
    return [migration for migration in known if migration.version not in applied]
