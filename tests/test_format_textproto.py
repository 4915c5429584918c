"""metadata.textproto through the protobuf library (autodl_format.textproto, autodl_format.protos): the quirks of
protocol 2.3, one-line errors naming the file, and files we write read back identically by the official kit's
reader, a `data_pb2` compiled by protoc from the kit's schema."""
import importlib
import subprocess
import sys

import numpy as np
import pytest
from google.protobuf import text_format

from autodl_format.errors import DatasetError
from autodl_format.metadata import load_metadata
from autodl_format.offline.writer import write_dataset
from autodl_format.protos import DataSpecification, MatrixSpec
from autodl_format.textproto import TextFormatError, format_data_specification, parse_data_specification
from tests.learner_datasets import digits_sets, video_sets

# The kit's schema (AutoDL_ingestion_program/data.proto, DataSpecification and MatrixSpec), field names, types and
# defaults as listed in protocol 2.3, compiled below by protoc as the kit's data_pb2 was.
KIT_PROTO = """
syntax = "proto2";
package autodl;
message MatrixSpec {
  optional int32 col_count = 1;
  optional int32 row_count = 2;
  optional bool is_sequence_col = 3;
  optional bool is_sequence_row = 4;
  optional bool has_locality_col = 5;
  optional bool has_locality_row = 6;
  enum Format { DENSE = 0; SPARSE = 1; COMPRESSED = 2; }
  optional Format format = 8 [default = DENSE];
  optional bool is_sparse = 7 [deprecated = true];
  optional int32 num_channels = 9 [default = -1];
}
message DataSpecification {
  repeated MatrixSpec matrix_spec = 1;
  optional bool is_sequence = 2;
  optional int32 output_dim = 3;
  map<string, int32> label_to_index_map = 4;
  map<string, int32> feature_to_index_map = 5;
  optional int32 sequence_size = 6 [default = 1];
  optional int32 sample_count = 7;
}
"""


@pytest.fixture(scope="module")
def kit_data_pb2(tmp_path_factory):
    pytest.importorskip("grpc_tools.protoc")
    folder = tmp_path_factory.mktemp("kit")
    (folder / "data.proto").write_text(KIT_PROTO)
    # In a process of its own: grpc_tools' protoc and TensorFlow's protobuf libraries crash side by side.
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{folder}", f"--python_out={folder}",
                    str(folder / "data.proto")], check=True)
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module("data_pb2")
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("data_pb2", None)


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
    assert (spec.sample_count, spec.output_dim, spec.is_sequence) == (7, 3, False)
    assert dict(spec.label_to_index_map) == {"cat": 0, 'd"og': 1, "its": 2}  # adjacent literals concatenate
    (matrix,) = spec.matrix_spec
    assert (matrix.row_count, matrix.col_count, matrix.format, matrix.is_sparse) == (-1, -1, MatrixSpec.COMPRESSED,
                                                                                     True)


def test_proto2_defaults_apply_when_fields_are_absent():
    spec = parse_data_specification("sample_count: 5\noutput_dim: 2\nmatrix_spec { row_count: 4 col_count: 4 }\n")
    assert spec.sequence_size == 1
    matrix = spec.matrix_spec[0]
    assert matrix.num_channels == -1 and matrix.format == MatrixSpec.DENSE and matrix.has_locality_row is False
    assert not spec.label_to_index_map and not spec.channel_to_index_map


def test_enum_given_as_number_and_last_singular_value_wins():
    spec = parse_data_specification("sample_count: 1 sample_count: 9 output_dim: 2 matrix_spec { format: 2 }")
    assert spec.sample_count == 9 and spec.matrix_spec[0].format == MatrixSpec.COMPRESSED


@pytest.mark.parametrize("text, fragment", [
    ("sample_count: 3\nmatrix_spec {\n row_count: 2\n", "3:"),
    ("sample_count 3", "1:"),
    ("sample_count: 3\n  output_dim: @", "2:"),
    ("sample_count: 'three'", "integer"),
    ("is_sequence: 7", "true"),
    ("matrix_spec { format: JPEG }", "JPEG"),
    ("label_to_index_map: 3", "label_to_index_map"),
    ("a: 'unterminated", "1:"),
    ("future_field: 'x'", "future_field"),  # unknown fields: refused, as by the official reader
])
def test_malformed_text_raises_with_location(text, fragment):
    with pytest.raises(TextFormatError, match=fragment):
        parse_data_specification(text)


def test_malformed_file_is_one_line_naming_it(tmp_path):
    (tmp_path / "metadata.textproto").write_text("sample_count: 3\noutput_dim: 2\nmatrix_spec {\n format: JPEG\n}\n")
    with pytest.raises(DatasetError) as caught:
        load_metadata(tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'metadata.textproto'}: malformed metadata: 4:") and "\n" not in message


def test_official_files_round_trip(miniciao_dir, autodl_raw_root):
    for path in (miniciao_dir / "miniciao.data" / "train" / "metadata.textproto",
                 autodl_raw_root / "autodl_contrib_examples" / "tfrecord_format" / "mini-mnist" / "metadata.textproto"):
        spec = parse_data_specification(path.read_text())
        written = format_data_specification(spec)
        assert parse_data_specification(written) == spec
    assert "format: COMPRESSED" in format_data_specification(
        parse_data_specification((miniciao_dir / "miniciao.data" / "train" / "metadata.textproto").read_text()))
    tricky = DataSpecification(sample_count=1, output_dim=1, label_to_index_map={"it's \\ odd\n\u00e9": 0})
    assert parse_data_specification(format_data_specification(tricky)) == tricky


def test_written_metadata_reads_back_identically_in_the_kit_reader(kit_data_pb2, tmp_path, miniciao_dir):
    rng = np.random.default_rng(0)
    datasets = [write_dataset(*digits_sets(30, 10, classes=3), tmp_path, "digits", encoding="dense"),
                write_dataset(*video_sets(rng, 6, 4), tmp_path, "clips", encoding="jpeg")]
    files = [d / f"{d.name}.data" / subset / "metadata.textproto" for d in datasets for subset in ("train", "test")]
    files.append(miniciao_dir / "miniciao.data" / "train" / "metadata.textproto")
    for path in files:
        ours = load_metadata(path.parent).metadata_
        kit = text_format.Parse(path.read_text(), kit_data_pb2.DataSpecification())  # the kit reads with Parse
        assert text_format.MessageToString(kit) == text_format.MessageToString(ours), path
        assert kit.matrix_spec[0].num_channels == ours.matrix_spec[0].num_channels
        assert kit.sequence_size == ours.sequence_size and kit.sample_count == ours.sample_count
