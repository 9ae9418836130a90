"""Tests of reconciler.formats and reconciler.header_text: the values the schemas name."""
