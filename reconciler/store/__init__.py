"""The target store: where reconciled resources, the audit log and the outbox live."""
