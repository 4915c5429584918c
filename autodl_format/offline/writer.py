"""Write two ImageSets (train, test) as an AutoDL dataset (protocol section 2.1):

    output_dir/NAME/
        NAME.data/train/{metadata.textproto, sample-NAME-train.tfrecord}
        NAME.data/test/{metadata.textproto, sample-NAME-test.tfrecord}
        NAME.solution  NAME_label.name  NAME_public.info

Test records get ids 0..N-1 (the solution row order) and empty label lists; train ids continue from N.
Frames are PNG or JPEG (COMPRESSED, read back as float32 in [0, 1]) or DENSE float32 values x / 255, so both
formats give a model the same value range. Under JPEG an image that carries its original JPEG file
(ImageSet.jpeg_files) is stored as those bytes, unchanged, instead of being compressed a second time. Everything
is written into a temporary sibling directory that is renamed into place at the end, so a crash never leaves a
half-written dataset under the final name.
"""
from __future__ import annotations

import io
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from autodl_format.image_set import ImageSet
from autodl_format.protos import DataSpecification, MatrixSpec
from autodl_format.textproto import format_data_specification
from autodl_format.frameworks import tf

ENCODINGS = ("png", "jpeg", "dense")
JPEG_QUALITY = 95
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_PIL_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


def _check_inputs(train: ImageSet, test: ImageSet, name: str, encoding: str, dataset_dir: Path) -> None:
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {', '.join(ENCODINGS)}, not {encoding!r}")
    if not _NAME.fullmatch(name):
        raise ValueError(f"dataset name {name!r} must be letters, digits, '_' or '-' (no dots or slashes)")
    data_dir = dataset_dir.resolve() / f"{name}.data"
    if "train" in str(data_dir):
        # Winning solutions find the test set via get_dataset_name().replace('train', 'test') on the whole path.
        raise ValueError(f"{data_dir}: the dataset name and output path must not contain 'train' (models that "
                         f"locate the test set by replacing 'train' with 'test' in the path would break)")
    if len(train) == 0 or len(test) == 0:
        raise ValueError(f"{name}: train and test must both be non-empty (got {len(train)} and {len(test)})")
    if train.num_classes != test.num_classes:
        raise ValueError(f"{name}: train has {train.num_classes} classes, test {test.num_classes}")
    if train.label_names and test.label_names and train.label_names != test.label_names:
        raise ValueError(f"{name}: train and test have different label names")
    names = train.label_names or test.label_names
    if names and len(set(names)) != len(names):
        raise ValueError(f"{name}: duplicate label names")
    if (train.images[0].ndim, train.num_channels) != (test.images[0].ndim, test.num_channels):
        raise ValueError(f"{name}: train and test differ in rank or channel count")
    channels = train.num_channels
    if encoding == "jpeg" and channels not in (1, 3):
        raise ValueError(f"{name}: JPEG needs 1 or 3 channels, got {channels}")
    if encoding == "png" and channels not in _PIL_MODES:
        raise ValueError(f"{name}: PNG needs 1 to 4 channels, got {channels}")


def _frames(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 4 else image[np.newaxis]


def _common(values: set[int]) -> int:
    return values.pop() if len(values) == 1 else -1  # -1: variable, as in the metadata


def _metadata(image_set: ImageSet, shape: tuple[int, int, int, int], encoding: str,
              label_names: list[str] | None) -> DataSpecification:
    sequence_size, rows, cols, channels = shape
    matrix = MatrixSpec(col_count=cols, row_count=rows, num_channels=channels, is_sequence_col=False,
                        is_sequence_row=False, has_locality_col=True, has_locality_row=True,
                        format=MatrixSpec.DENSE if encoding == "dense" else MatrixSpec.COMPRESSED)
    return DataSpecification(is_sequence=image_set.is_video, sample_count=len(image_set),
                             sequence_size=sequence_size, output_dim=image_set.num_classes, matrix_spec=[matrix],
                             label_to_index_map={label: index for index, label in enumerate(label_names or [])})


def _encode_frame(frame: np.ndarray, encoding: str) -> bytes:
    channels = frame.shape[-1]
    picture = Image.fromarray(frame[..., 0] if channels == 1 else frame, _PIL_MODES[channels])
    buffer = io.BytesIO()
    if encoding == "png":
        picture.save(buffer, format="PNG")
    else:
        picture.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def _record(image: np.ndarray, label_row: np.ndarray | None, example_id: int, encoding: str,
            jpeg_file: bytes | None) -> bytes:
    example = tf.train.SequenceExample()
    context = example.context.feature
    context["id"].int64_list.value.append(example_id)
    positives = np.flatnonzero(label_row) if label_row is not None else np.zeros(0, dtype=np.int64)
    context["label_index"].int64_list.value.extend(int(i) for i in positives)
    context["label_score"].float_list.value.extend([1.0] * len(positives))
    if encoding == "dense":
        frames = example.feature_lists.feature_list["0_dense_input"]
        for frame in _frames(image):
            frames.feature.add().float_list.value.extend((frame.astype(np.float32) / 255.0).ravel().tolist())
    else:
        frames = example.feature_lists.feature_list["0_compressed"]
        if encoding == "jpeg" and jpeg_file is not None:  # the original file, not compressed a second time
            frames.feature.add().bytes_list.value.append(jpeg_file)
        else:
            for frame in _frames(image):
                frames.feature.add().bytes_list.value.append(_encode_frame(frame, encoding))
    return example.SerializeToString()


def _write_subset(subset_dir: Path, name: str, subset: str, image_set: ImageSet, first_id: int, with_labels: bool,
                  shape: tuple[int, int, int, int], encoding: str, label_names: list[str] | None) -> None:
    subset_dir.mkdir(parents=True)
    spec = _metadata(image_set, shape, encoding, label_names)
    (subset_dir / "metadata.textproto").write_text(format_data_specification(spec), encoding="utf-8")
    with tf.io.TFRecordWriter(str(subset_dir / f"sample-{name}-{subset}.tfrecord")) as records:
        jpeg_files = image_set.jpeg_files or [None] * len(image_set)
        for offset, (image, jpeg_file) in enumerate(zip(image_set.images, jpeg_files)):
            labels = image_set.labels[offset] if with_labels else None
            records.write(_record(image, labels, first_id + offset, encoding, jpeg_file))


def write_dataset(image_set_train: ImageSet, image_set_test: ImageSet, output_dir: str | Path, name: str,
                  encoding: str = "png", overwrite: bool = False) -> Path:
    """Write the dataset and return `output_dir/NAME` (the directory to give ingestion as --dataset_dir).

    Raises ValueError on inconsistent input or a name/path containing 'train', FileExistsError when
    `output_dir/NAME` exists and overwrite is False.
    """
    output_dir = Path(output_dir)
    dataset_dir = output_dir / name
    _check_inputs(image_set_train, image_set_test, name, encoding, dataset_dir)
    if dataset_dir.exists() and not overwrite:
        raise FileExistsError(f"{dataset_dir}: already exists (pass overwrite=True / --overwrite to replace it)")
    all_images = image_set_train.images + image_set_test.images
    frame_shapes = [_frames(image).shape for image in all_images]
    shape = (_common({s[0] for s in frame_shapes}), _common({s[1] for s in frame_shapes}),
             _common({s[2] for s in frame_shapes}), image_set_train.num_channels)
    if encoding == "dense" and -1 in shape[1:3]:
        raise ValueError(f"{name}: DENSE encoding needs one frame size, but sizes vary; use png or jpeg")
    label_names = image_set_train.label_names or image_set_test.label_names
    output_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.partial-", dir=output_dir))
    try:
        data_dir = staging / f"{name}.data"
        n_test = len(image_set_test)
        _write_subset(data_dir / "test", name, "test", image_set_test, 0, False, shape, encoding, label_names)
        _write_subset(data_dir / "train", name, "train", image_set_train, n_test, True, shape, encoding,
                      label_names)
        solution = "".join(" ".join(str(int(v)) for v in row) + "\n" for row in image_set_test.labels)
        (staging / f"{name}.solution").write_text(solution, encoding="utf-8")
        names = label_names or [str(i) for i in range(image_set_train.num_classes)]
        (staging / f"{name}_label.name").write_text("".join(f"{n}\n" for n in names), encoding="utf-8")
        domain = "video" if image_set_train.is_video else "image"
        info = (f"domain : {domain}\nsample_num : {len(image_set_train) + n_test}\n"
                f"label_num : {image_set_train.num_classes}\n")
        (staging / f"{name}_public.info").write_text(info, encoding="utf-8")
        os.chmod(staging, 0o755)  # mkdtemp makes it private; the final dataset should not be
        if dataset_dir.exists():  # overwrite: move the old one aside first so the swap is two renames
            old = Path(tempfile.mkdtemp(prefix=f".{name}.old-", dir=output_dir))
            os.replace(dataset_dir, old / name)
            os.replace(staging, dataset_dir)
            shutil.rmtree(old)
        else:
            os.replace(staging, dataset_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return dataset_dir
