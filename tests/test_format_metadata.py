"""AutoDLMetadata on the real miniciao files and on the defaults of protocol 1.2 / 2.3."""
from pathlib import Path

import pytest

from autodl_format.errors import DatasetError
from autodl_format.metadata import load_metadata


def test_miniciao_train_metadata(miniciao_dir):
    train_dir = miniciao_dir / "miniciao.data" / "train"
    meta = load_metadata(train_dir)
    assert meta.size() == 82 and meta.get_output_size() == 10
    assert meta.get_matrix_size() == (32, 32) and meta.get_num_channels() == 3
    assert meta.get_tensor_size() == (32, 32, 3) and meta.get_tensor_shape() == (1, 32, 32, 3)
    assert meta.get_sequence_size() == 1 and meta.get_bundle_size() == 1
    assert meta.is_compressed() and not meta.is_sparse()
    assert meta.get_label_to_index_map()["airplane"] == 0 and meta.get_label_to_index_map()["truck"] == 9
    assert meta.get_channel_to_index_map() == {} and meta.get_feature_to_index_map() == {}
    assert meta.metadata_.matrix_spec[0].has_locality_row is True
    name = meta.get_dataset_name()
    assert name.endswith("miniciao.data/train") and Path(name) == train_dir
    # The compatibility trap (protocol 1.2): winning solutions read the test size this way.
    test_text = (Path(name.replace("train", "test")) / "metadata.textproto").read_text()
    assert [line for line in test_text.splitlines() if "sample_count" in line] == ["sample_count: 18"]
    assert load_metadata(miniciao_dir / "miniciao.data" / "test").size() == 18


def test_num_channels_default_depends_on_format(tmp_path, autodl_raw_root):
    # mini-mnist's real metadata omits num_channels and sequence_size (DENSE): -> 1 channel, 1 frame
    mnist = autodl_raw_root / "autodl_contrib_examples" / "tfrecord_format" / "mini-mnist"
    meta = load_metadata(mnist)
    assert meta.get_tensor_shape() == (1, 28, 28, 1) and not meta.is_compressed()
    # Monkeys-style: COMPRESSED, variable size, no num_channels -> 3 channels
    (tmp_path / "metadata.textproto").write_text(
        "sample_count: 26\noutput_dim: 10\nmatrix_spec {\n  col_count: -1\n  row_count: -1\n  format: COMPRESSED\n}\n")
    meta = load_metadata(tmp_path)
    assert meta.get_tensor_shape() == (1, -1, -1, 3) and meta.get_matrix_size() == (-1, -1)
    with pytest.raises(IndexError):
        meta.get_matrix_size(1)


def test_missing_and_malformed_metadata_name_the_file(tmp_path):
    with pytest.raises(DatasetError, match=r"metadata\.textproto: metadata file missing"):
        load_metadata(tmp_path)
    path = tmp_path / "metadata.textproto"
    path.write_text("sample_count: 3\nmatrix_spec {\n")
    with pytest.raises(DatasetError, match=f"{path}: malformed metadata"):
        load_metadata(tmp_path)
    path.write_text("sample_count: 3\noutput_dim: 2\n")
    with pytest.raises(DatasetError, match="no matrix_spec"):
        load_metadata(tmp_path)
    path.write_text("output_dim: 2\nmatrix_spec { row_count: 2 col_count: 2 }\n")
    with pytest.raises(DatasetError, match="sample_count missing"):
        load_metadata(tmp_path)
