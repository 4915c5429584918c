"""`AutoDLMetadata`: the metadata object a Model receives, with the official method set (protocol section 1.2)."""
from __future__ import annotations

from pathlib import Path

from autodl_format.errors import DatasetError
from autodl_format.protos import DataSpecification, MatrixSpec
from autodl_format.textproto import TextFormatError, parse_data_specification

METADATA_FILE = "metadata.textproto"


class AutoDLMetadata:
    """Wraps a parsed `metadata.textproto` of one subset (train or test).

    `metadata_` is the parsed DataSpecification message (autodl_format.protos), as in the official object.
    `dataset_dir` is the subset directory (…/NAME.data/train); get_dataset_name() returns it, as the official
    object does.
    """

    def __init__(self, spec: DataSpecification, dataset_dir: str | Path) -> None:
        self.metadata_ = spec
        self.dataset_dir = str(dataset_dir)

    def _matrix(self, i: int) -> MatrixSpec:
        specs = self.metadata_.matrix_spec
        if not 0 <= i < len(specs):
            raise IndexError(f"bundle index {i} out of range: the metadata has {len(specs)} matrix_spec entries")
        return specs[i]

    def get_output_size(self) -> int:
        return self.metadata_.output_dim

    def size(self) -> int:
        return self.metadata_.sample_count

    def get_matrix_size(self, i: int = 0) -> tuple[int, int]:
        spec = self._matrix(i)
        return spec.row_count, spec.col_count

    def get_num_channels(self, i: int = 0) -> int:
        channels = self._matrix(i).num_channels
        if channels == -1:  # absent in the file: the official loader assumes RGB for images, 1 otherwise
            return 3 if self.is_compressed(i) else 1
        return channels

    def get_tensor_size(self, i: int = 0) -> tuple[int, int, int]:
        rows, cols = self.get_matrix_size(i)
        return rows, cols, self.get_num_channels(i)

    def get_tensor_shape(self, i: int = 0) -> tuple[int, int, int, int]:
        return (self.get_sequence_size(), *self.get_tensor_size(i))

    def get_sequence_size(self) -> int:
        return self.metadata_.sequence_size

    def get_bundle_size(self) -> int:
        return len(self.metadata_.matrix_spec)

    def is_compressed(self, i: int = 0) -> bool:
        return self._matrix(i).format == MatrixSpec.COMPRESSED

    def is_sparse(self, i: int = 0) -> bool:
        return self._matrix(i).format == MatrixSpec.SPARSE

    def get_label_to_index_map(self) -> dict[str, int]:
        return _by_index(self.metadata_.label_to_index_map)

    def get_channel_to_index_map(self) -> dict[str, int]:
        return _by_index(self.metadata_.channel_to_index_map)

    def get_feature_to_index_map(self) -> dict[str, int]:
        return _by_index(self.metadata_.feature_to_index_map)

    def get_dataset_name(self) -> str:
        # Not a name: the subset directory. Winning solutions replace 'train' by 'test' in it (protocol 1.2).
        return self.dataset_dir

    def __repr__(self) -> str:
        return (f"AutoDLMetadata({self.dataset_dir!r}, samples={self.size()}, classes={self.get_output_size()}, "
                f"shape={self.get_tensor_shape() if self.get_bundle_size() else None})")


def _by_index(entries) -> dict[str, int]:
    # A protobuf map iterates in no set order: a plain dict in index order (label names in class order).
    return dict(sorted(entries.items(), key=lambda entry: entry[1]))


def test_dir_beside(train_dir: str | Path) -> Path:
    """Where models find the test subset: the train path with every "train" replaced by "test", the trick the
    winning solutions use on get_dataset_name() (which is why no parent directory may contain "train")."""
    return Path(str(train_dir).replace("train", "test"))


def load_metadata(subset_dir: str | Path) -> AutoDLMetadata:
    """Read `subset_dir/metadata.textproto`. Raises DatasetError naming the file when missing or malformed."""
    path = Path(subset_dir) / METADATA_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetError(f"{path}: metadata file missing") from None
    except (OSError, UnicodeDecodeError) as err:
        raise DatasetError(f"{path}: cannot read metadata ({err})") from None
    try:
        spec = parse_data_specification(text)
    except TextFormatError as err:
        raise DatasetError(f"{path}: malformed metadata: {err}") from None
    if not spec.matrix_spec:
        raise DatasetError(f"{path}: malformed metadata: no matrix_spec entry")
    for name in ("sample_count", "output_dim"):
        if getattr(spec, name) <= 0:
            raise DatasetError(f"{path}: malformed metadata: {name} missing or not positive ({getattr(spec, name)})")
    return AutoDLMetadata(spec, Path(subset_dir))
