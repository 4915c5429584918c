"""`metadata.textproto` (an `autodl.DataSpecification` in protobuf text format, protocol section 2.3), read and
written by the protobuf library's `text_format` with the kit's schema (autodl_format.protos): nested braces,
single or double quotes, `<...>` messages, repeated map entries, enums by name or number, the last value of a
singular field winning (`Merge`), and the proto2 defaults (`sequence_size` 1, `num_channels` -1, `format` DENSE), all as the
official reader does, since it is the same library. Unknown fields are refused, as the official reader refuses them.
"""
from __future__ import annotations

from google.protobuf import text_format

from autodl_format.protos import DataSpecification


class TextFormatError(ValueError):
    """The text is not a valid DataSpecification. The message gives the line and column."""


def parse_data_specification(text: str) -> DataSpecification:
    """Parse the text of a `metadata.textproto`. Raises TextFormatError with the line and column."""
    try:
        return text_format.Merge(text, DataSpecification())  # Merge: a repeated singular field keeps its last value
    except text_format.ParseError as error:
        raise TextFormatError(str(error)) from None


def format_data_specification(spec: DataSpecification) -> str:
    """The text of a `metadata.textproto`: fields in schema order, enums by name, maps as `{ key value }` entries."""
    return text_format.MessageToString(spec)
