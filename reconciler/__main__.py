"""`python -m reconciler` is the `smtpcfg` command."""

from reconciler.cli.main import main

main()
