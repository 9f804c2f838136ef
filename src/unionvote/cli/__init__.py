"""The ``unionvote`` command."""
