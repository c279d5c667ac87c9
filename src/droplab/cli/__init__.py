"""The ``droplab`` command line."""
