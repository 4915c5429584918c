"""metadata.textproto parsing and formatting (autodl_format.textproto), including the quirks of protocol 2.3."""
import math

import pytest

from autodl_format.textproto import (TextFormatError, format_data_specification, parse_data_specification,
                                     parse_text_format)


def test_nested_braces_quotes_and_repeated_map_entries():
    text = """
    # a comment line
    is_sequence: false
    sample_count: 7
    output_dim: 3
    matrix_spec {
      row_count: -1 col_count: -1   # two fields on one line
      format: COMPRESSED
      is_sparse: true
    }
    label_to_index_map { key: 'cat' value: 0 }
    label_to_index_map { key: "d\\"og" value: 1 }
    label_to_index_map < key: 'it''s' value: 2 >
    """
    spec = parse_data_specification(text)
    assert spec["sample_count"] == 7 and spec["output_dim"] == 3 and spec["is_sequence"] is False
    assert spec["label_to_index_map"] == {"cat": 0, 'd"og': 1, "its": 2}  # adjacent literals concatenate
    (matrix,) = spec["matrix_spec"]
    assert (matrix["row_count"], matrix["col_count"], matrix["format"], matrix["is_sparse"]) == (-1, -1,
                                                                                                  "COMPRESSED", True)


def test_proto2_defaults_apply_when_fields_are_absent():
    spec = parse_data_specification("sample_count: 5\noutput_dim: 2\nmatrix_spec { row_count: 4 col_count: 4 }\n")
    assert spec["sequence_size"] == 1
    matrix = spec["matrix_spec"][0]
    assert matrix["num_channels"] == -1 and matrix["format"] == "DENSE" and matrix["has_locality_row"] is False
    assert spec["label_to_index_map"] == {} and spec["channel_to_index_map"] == {}


def test_scalar_forms():
    fields = parse_text_format("a: -inf b: 1.5f c: 0x1F d: True e: [1, 2] f { g: nan } h: 1e-3 i: SPARSE")
    assert fields["a"] == [-math.inf] and fields["b"] == [1.5] and fields["c"] == [31] and fields["d"] == [True]
    assert fields["e"] == [1, 2] and math.isnan(fields["f"][0]["g"][0]) and fields["h"] == [0.001]
    assert fields["i"] == ["SPARSE"]


def test_enum_given_as_number_and_last_singular_value_wins():
    spec = parse_data_specification("sample_count: 1 sample_count: 9 output_dim: 2 matrix_spec { format: 2 }")
    assert spec["sample_count"] == 9 and spec["matrix_spec"][0]["format"] == "COMPRESSED"


def test_unknown_fields_are_kept():
    spec = parse_data_specification("sample_count: 3 output_dim: 2 future_field: 'x' matrix_spec { extra: 4 }")
    assert spec["future_field"] == "x" and spec["matrix_spec"][0]["extra"] == 4


@pytest.mark.parametrize("text, fragment", [
    ("sample_count: 3\nmatrix_spec {\n row_count: 2\n", "missing '}'"),
    ("sample_count 3", "line 1"),
    ("sample_count: 3\n  output_dim: @", "line 2"),
    ("sample_count: 'three'", "expected an integer"),
    ("is_sequence: 7", "true/false"),
    ("matrix_spec { format: JPEG }", "format"),
    ("label_to_index_map: 3", "label_to_index_map"),
    ("a: 'unterminated", "line 1"),
])
def test_malformed_text_raises_with_location(text, fragment):
    with pytest.raises(TextFormatError, match=fragment):
        parse_data_specification(text)


def test_format_round_trips_and_writes_enum_bare(miniciao_dir):
    text = (miniciao_dir / "miniciao.data" / "train" / "metadata.textproto").read_text()
    spec = parse_data_specification(text)
    written = format_data_specification(spec)
    assert parse_data_specification(written) == spec
    assert "format: COMPRESSED" in written and "key: 'automobile'" in written
    tricky = {"sample_count": 1, "output_dim": 1, "label_to_index_map": {"it's \\ odd\n": 0}}
    assert parse_data_specification(format_data_specification(tricky))["label_to_index_map"] == {"it's \\ odd\n": 0}
