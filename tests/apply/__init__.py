"""Tests of applying plans (reconciler/apply.py): saved plans, scopes, approval, audit."""
