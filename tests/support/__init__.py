"""Real servers and helpers the test suite runs against: OpenBao, SMTP, the CLI."""
