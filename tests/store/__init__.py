"""Tests of reconciler.store: creating, migrating and reading stores."""
