"""Tests of the command line itself (reconciler.cli): help, usage errors, entry points."""
