"""The one exception type the CLI turns into a one-line message and exit status 1."""


class SmtpcfgError(Exception):
    """An error the user can act on: printed as one line, exit status 1, no traceback."""
