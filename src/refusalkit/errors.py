"""User-facing errors: the CLI prints their message as one line and exits non-zero."""


class RefusalkitError(Exception):
    """An error the user can fix; its message says what is wrong and how to fix it."""


class CapabilityError(RefusalkitError):
    """A target lacks something a command needs (e.g. hidden states from an HTTP model)."""
