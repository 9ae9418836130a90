"""Tests of reconciler.plan: the diff engine, the safety threshold and what plan prints."""
