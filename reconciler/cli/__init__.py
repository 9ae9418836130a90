"""The `smtpcfg` command line. Commands import heavy modules only when they run."""
