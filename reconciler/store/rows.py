"""Resource rows as both backends lay them out; each passes its own JSON and time codecs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reconciler.model import ResourceKey, StoredResource
from reconciler.store.base import Write

#: Column order of every resource SELECT and INSERT.
RESOURCE_COLUMNS = (
    "kind, name, uid, generation, labels, annotations, spec, status, scope, created_at,"
    " updated_at"
)


def write_values(write: Write, encode: Callable[[Any], Any]) -> tuple[Any, ...]:
    """(kind, name, labels, annotations, spec, status, scope) of a create or update."""
    assert write.body is not None
    metadata = write.body.get("metadata", {})
    return (
        write.key.kind,
        write.key.name,
        encode(metadata.get("labels", {})),
        encode(metadata.get("annotations", {})),
        encode(write.body["spec"]),
        encode(write.status),
        write.scope,
    )


def resource_from_row(row: tuple[Any, ...], decode: Callable[[Any], Any],
                      timestamp: Callable[[Any], str]) -> StoredResource:
    kind, name, uid, generation, labels, annotations, spec, status, scope, created, updated = row
    return StoredResource(
        key=ResourceKey(kind, name),
        spec=decode(spec),
        labels=decode(labels),
        annotations=decode(annotations),
        status=decode(status),
        scope=scope,
        uid=uid,
        generation=generation,
        created_at=timestamp(created),
        updated_at=timestamp(updated),
    )
