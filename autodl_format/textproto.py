"""Protobuf text format for `metadata.textproto` (an `autodl.DataSpecification`), without protobuf codegen.

`parse_text_format` turns any text-format message into nested Python (every field a list of values, because the
text alone does not say which fields are repeated). `parse_data_specification` then applies the DataSpecification
schema: singular fields become scalars, map fields become dicts, proto2 defaults are filled in.
`format_data_specification` writes such a dict back in the style of the official files.
"""
from __future__ import annotations

import re
from typing import Any

# proto2 defaults of the official data.proto; the protocol doc (section 2.3) lists the non-zero ones.
SPEC_DEFAULTS: dict[str, Any] = {
    "is_sequence": False,
    "sample_count": 0,
    "sequence_size": 1,
    "output_dim": 0,
}
MATRIX_SPEC_DEFAULTS: dict[str, Any] = {
    "col_count": 0,
    "row_count": 0,
    "is_sequence_col": False,
    "is_sequence_row": False,
    "has_locality_col": False,
    "has_locality_row": False,
    "format": "DENSE",
    "is_sparse": False,
    "num_channels": -1,
}
MAP_FIELDS = ("label_to_index_map", "channel_to_index_map", "feature_to_index_map")
FORMATS = ("DENSE", "SPARSE", "COMPRESSED")

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<number>[-+]?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?[fF]?|inf(?:inity)?|nan)(?![\w.]))
  | (?P<ident>[A-Za-z_][\w.]*)
  | (?P<punct>[{}<>:\[\],;])
    """,
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "a": "\a", "b": "\b", "f": "\f",
            "v": "\v", "?": "?"}


class TextFormatError(ValueError):
    """The text is not valid protobuf text format. The message gives the line number."""


def _tokenize(text: str) -> list[tuple[str, Any, int]]:
    tokens: list[tuple[str, Any, int]] = []
    pos, line = 0, 1
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise TextFormatError(f"line {line}: unexpected character {text[pos]!r}")
        kind, raw = match.lastgroup, match.group()
        if kind == "string":
            tokens.append(("string", _unquote(raw, line), line))
        elif kind != "space":
            tokens.append((kind, raw, line))
        line += raw.count("\n")
        pos = match.end()
    return tokens


def _unquote(raw: str, line: int) -> str:
    body, out, i = raw[1:-1], [], 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt in "01234567":  # octal byte escape, up to 3 digits
            digits = re.match(r"[0-7]{1,3}", body[i + 1:]).group()
            out.append(chr(int(digits, 8)))
            i += 1 + len(digits)
        elif nxt in "xX":
            digits = re.match(r"[0-9a-fA-F]{1,2}", body[i + 2:])
            if digits is None:
                raise TextFormatError(f"line {line}: bad \\x escape in {raw}")
            out.append(chr(int(digits.group(), 16)))
            i += 2 + len(digits.group())
        else:
            raise TextFormatError(f"line {line}: unknown escape \\{nxt} in {raw}")
    return "".join(out)


def _scalar(kind: str, raw: Any, line: int) -> Any:
    if kind == "string":
        return raw
    if kind == "number":
        text = raw.lower()
        if re.fullmatch(r"[-+]?0x[0-9a-f]+", text):
            return int(text, 16)
        if re.fullmatch(r"[-+]?\d+", text):
            return int(text)
        if text.lstrip("+-") in ("inf", "infinity", "nan"):
            return float(text)
        return float(text.rstrip("f"))  # C-style float suffix: 1.5f
    if kind == "ident":
        if raw in ("true", "True", "t"):
            return True
        if raw in ("false", "False", "f"):
            return False
        return raw  # an enum value such as COMPRESSED
    raise TextFormatError(f"line {line}: expected a value, got {raw!r}")


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0

    def _peek(self) -> tuple[str, Any, int] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self) -> tuple[str, Any, int]:
        token = self._peek()
        if token is None:
            raise TextFormatError("unexpected end of text (unclosed '{'?)")
        self.pos += 1
        return token

    def message(self, closer: str | None) -> dict[str, list[Any]]:
        fields: dict[str, list[Any]] = {}
        while True:
            token = self._peek()
            if token is None:
                if closer is not None:
                    raise TextFormatError(f"unexpected end of text: missing {closer!r}")
                return fields
            kind, raw, line = token
            if kind == "punct" and raw == closer:
                self.pos += 1
                return fields
            if kind == "punct" and raw in ",;":  # optional field separators
                self.pos += 1
                continue
            if kind != "ident":
                raise TextFormatError(f"line {line}: expected a field name, got {raw!r}")
            self.pos += 1
            fields.setdefault(raw, []).extend(self._field_values())

    def _field_values(self) -> list[Any]:
        kind, raw, line = self._take()
        has_colon = kind == "punct" and raw == ":"
        if has_colon:
            kind, raw, line = self._take()
        if kind == "punct" and raw in "{<":
            return [self.message("}" if raw == "{" else ">")]
        if kind == "punct" and raw == "[":  # list syntax: name: [v1, v2] or name [{...}, {...}]
            values: list[Any] = []
            while True:
                kind, raw, line = self._take()
                if kind == "punct" and raw == "]":
                    return values
                if kind == "punct" and raw == ",":
                    continue
                if kind == "punct" and raw in "{<":
                    values.append(self.message("}" if raw == "{" else ">"))
                else:
                    values.append(self._scalar_with_concat(kind, raw, line))
        if not has_colon:
            raise TextFormatError(f"line {line}: expected ':' or '{{' after a field name, got {raw!r}")
        return [self._scalar_with_concat(kind, raw, line)]

    def _scalar_with_concat(self, kind: str, raw: Any, line: int) -> Any:
        value = _scalar(kind, raw, line)
        if kind == "string":  # adjacent string literals concatenate, as in C
            while (token := self._peek()) is not None and token[0] == "string":
                value += token[1]
                self.pos += 1
        return value


def parse_text_format(text: str) -> dict[str, list[Any]]:
    """Parse any protobuf text-format message. Every field maps to the list of its values, in file order;
    sub-messages are dicts of the same form. Raises TextFormatError with a line number."""
    return _Parser(text).message(None)


def _single(fields: dict[str, list[Any]], name: str, default: Any, where: str) -> Any:
    values = fields.get(name)
    if not values:
        return default
    value = values[-1]  # proto semantics: the last occurrence of a singular field wins
    if isinstance(value, dict):
        raise TextFormatError(f"{where}{name}: expected a value, got a message")
    if isinstance(default, bool):
        if not isinstance(value, bool):
            if value in (0, 1):
                return bool(value)
            raise TextFormatError(f"{where}{name}: expected true/false, got {value!r}")
        return value
    if isinstance(default, int) and (isinstance(value, bool) or not isinstance(value, int)):
        raise TextFormatError(f"{where}{name}: expected an integer, got {value!r}")
    return value


def _map_field(fields: dict[str, list[Any]], name: str) -> dict[str, int]:
    result: dict[str, int] = {}
    for entry in fields.get(name, []):
        if not isinstance(entry, dict):
            raise TextFormatError(f"{name}: expected '{{ key: ... value: ... }}' entries, got {entry!r}")
        key = _single(entry, "key", "", f"{name}.")
        value = _single(entry, "value", 0, f"{name}.")
        result[str(key)] = value
    return result


def _matrix_spec(fields: Any, index: int) -> dict[str, Any]:
    where = f"matrix_spec[{index}]."
    if not isinstance(fields, dict):
        raise TextFormatError(f"matrix_spec[{index}]: expected a message, got {fields!r}")
    spec = {name: _single(fields, name, default, where) for name, default in MATRIX_SPEC_DEFAULTS.items()}
    fmt = spec["format"]
    if isinstance(fmt, int) and not isinstance(fmt, bool) and 0 <= fmt < len(FORMATS):
        spec["format"] = FORMATS[fmt]  # enums may be written as numbers
    elif fmt not in FORMATS:
        raise TextFormatError(f"{where}format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    _keep_unknown(fields, spec)
    return spec


def _keep_unknown(fields: dict[str, list[Any]], into: dict[str, Any]) -> None:
    # Fields we do not know are kept (last value if single) so nothing is silently lost.
    for name, values in fields.items():
        if name not in into:
            into[name] = values[-1] if len(values) == 1 else values


def parse_data_specification(text: str) -> dict[str, Any]:
    """Parse a `metadata.textproto` into a plain dict with proto2 defaults applied.

    Keys: is_sequence, sample_count, sequence_size, output_dim (scalars), matrix_spec (list of dicts with
    row_count, col_count, num_channels, format as 'DENSE'/'SPARSE'/'COMPRESSED', ...), and the three maps as
    {key: index} dicts. Raises TextFormatError on malformed text.
    """
    fields = parse_text_format(text)
    spec: dict[str, Any] = {name: _single(fields, name, default, "") for name, default in SPEC_DEFAULTS.items()}
    spec["matrix_spec"] = [_matrix_spec(m, i) for i, m in enumerate(fields.get("matrix_spec", []))]
    for name in MAP_FIELDS:
        spec[name] = _map_field(fields, name)
    _keep_unknown(fields, spec)
    return spec


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r")
    return f"'{escaped}'"


def _format_value(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return value if name == "format" else _quote(value)  # format is an enum: written bare
    raise TypeError(f"cannot write field {name!r} of type {type(value).__name__}")


def _format_message(fields: dict[str, Any], indent: str) -> list[str]:
    lines: list[str] = []
    for name, value in fields.items():
        if name in MAP_FIELDS:
            for key, index in value.items():
                lines += [f"{indent}{name} {{", f"{indent}  key: {_quote(str(key))}",
                          f"{indent}  value: {int(index)}", f"{indent}}}"]
        elif isinstance(value, dict):
            lines += [f"{indent}{name} {{", *_format_message(value, indent + "  "), f"{indent}}}"]
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    lines += [f"{indent}{name} {{", *_format_message(item, indent + "  "), f"{indent}}}"]
                else:
                    lines.append(f"{indent}{name}: {_format_value(name, item)}")
        else:
            lines.append(f"{indent}{name}: {_format_value(name, value)}")
    return lines


def format_data_specification(spec: dict[str, Any]) -> str:
    """Write a DataSpecification dict (as returned by parse_data_specification) as text format.
    Map fields become repeated `{ key: '...' value: N }` entries, lists become repeated fields."""
    return "\n".join(_format_message(spec, "")) + "\n"
