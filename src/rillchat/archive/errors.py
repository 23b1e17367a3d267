"""The one error an import raises."""

from __future__ import annotations

from rillchat.errors import InvalidField

__all__ = ["InvalidImport"]


class InvalidImport(InvalidField):
    """The file cannot be imported; ``field`` is the path to what is wrong in it (``[3].mapping``)."""

    code = "invalid_import"
