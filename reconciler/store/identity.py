"""Random identities of a store: its id, given once at creation, and the id of its last
write, new on every apply. A plan records both (see `StoreState`)."""

import uuid


def new_store_id() -> str:
    return str(uuid.uuid4())


def new_write_id() -> str:
    return uuid.uuid4().hex
