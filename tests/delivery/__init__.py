"""Tests of the delivery side: building emails and sending them over real SMTP."""
