"""Errors that the CLI reports as one line (``droplab: error: ...``) with exit status 2."""


class UserError(Exception):
    """A mistake in what the user asked for; the message says what is wrong and how to fix it."""
