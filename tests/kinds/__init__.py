"""Tests of reconciler.kinds: each kind's normalizer and references, and the registry."""
