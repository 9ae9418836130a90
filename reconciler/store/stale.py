"""Refusing a plan the store has moved past: the same check and words in every backend."""

from reconciler.store.base import StaleStateError, StoreState


def ensure_current(expected: StoreState, current: StoreState) -> None:
    """Raise StaleStateError unless the store is still where the plan found it."""
    if expected.store_id != current.store_id:
        raise StaleStateError(
            f"the plan was made against another store ({expected.store_id}); this store"
            f" is {current.store_id}"
        )
    if expected.revision != current.revision:
        raise StaleStateError(
            f"the plan was made at store revision {expected.revision}, but the store is now"
            f" at revision {current.revision}; make a new plan"
        )
    if expected.write_id != current.write_id:
        raise StaleStateError(
            f"the plan was made against another copy of store {current.store_id}: both are"
            f" at revision {current.revision}, but they were written separately since the"
            " copy was made"
        )
