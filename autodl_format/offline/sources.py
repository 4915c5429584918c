"""Sources of labelled images, each returning an ImageSet: numpy arrays, an image folder, the project's shared raw
datasets (read exactly as /work/shared/datasets_raw/README.md prescribes), TFDS builders and scikit-learn digits.

Pixel values always end up as uint8: float data in [0, 1] or [-1, 1] and binary 0/1 data are scaled to 0..255.
"""
from __future__ import annotations

import csv
import gzip
import io
import re
import struct
import zipfile
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from autodl_format.errors import DatasetError, first_line
from autodl_format.image_set import ImageSet, scale_to_uint8
from autodl_format.offline.video import (MAX_FRAMES, VIDEO_EXTENSIONS, Report, build_clip_set, is_video_file,
                                        report_to_stderr)

DIGIT_NAMES = [str(d) for d in range(10)]


def infer_value_range(dtype: np.dtype, lo: float, hi: float) -> tuple[float, float] | None:
    """The pixel scale of data of this dtype and min/max: None for data already 0..255 as integers, else the
    (lo, hi) range to map onto 0..255. Raises ValueError rather than guessing."""
    if dtype == np.bool_:
        return (0.0, 1.0)
    if np.issubdtype(dtype, np.integer):
        if dtype == np.uint16 and hi > 255:
            return (0.0, 65535.0)
        if lo >= 0 and hi <= 255:
            return None
    elif np.issubdtype(dtype, np.floating) and np.isfinite([lo, hi]).all():
        for candidate in ((0.0, 1.0), (-1.0, 1.0), (0.0, 255.0)):
            if candidate[0] <= lo and hi <= candidate[1]:
                return candidate
    raise ValueError(f"cannot tell the pixel scale of {dtype} data in [{lo}, {hi}]; pass value_range")


def to_uint8(array: np.ndarray, value_range: tuple[float, float] | None = None) -> np.ndarray:
    """Convert pixel data to uint8: `value_range` (lo, hi) maps linearly onto 0..255; without it the range is
    inferred (infer_value_range): floats in [0, 1] or [-1, 1] are scaled, bool becomes 0/255, integers in
    0..255 are cast."""
    array = np.asarray(array)
    if value_range is None:
        if array.dtype == np.uint8 or array.size == 0:
            return array.astype(np.uint8)
        value_range = infer_value_range(array.dtype, float(array.min()), float(array.max()))
        if value_range is None:
            return array.astype(np.uint8)
    return scale_to_uint8(array.astype(np.float64), *value_range)


def _with_channel_axis(image: np.ndarray) -> np.ndarray:
    return image[..., np.newaxis] if image.ndim == 2 else image


def from_arrays(images: np.ndarray | Sequence[np.ndarray], labels: np.ndarray | Sequence[int], name: str,
                label_names: list[str] | None = None,
                value_range: tuple[float, float] | None = None) -> ImageSet:
    """Images as one array (N,H,W), (N,H,W,C), (N,T,H,W,C) or a list of (H,W[,C]) / (T,H,W,C) arrays; labels as
    class indices (N,) or multi-hot (N, C). Pixel values go through to_uint8(value_range)."""
    if isinstance(images, np.ndarray):
        images = list(to_uint8(images, value_range))
    elif value_range is None and images and any(np.asarray(im).dtype != np.uint8 for im in images):
        # Infer one scale for the whole set, not per image (a dark image must not be stretched).
        arrays = [np.asarray(im) for im in images]
        value_range = infer_value_range(arrays[0].dtype, min(float(a.min()) for a in arrays),
                                        max(float(a.max()) for a in arrays))
    converted = [_with_channel_axis(to_uint8(image, value_range)) for image in images]
    labels = np.asarray(labels)
    if labels.ndim == 2:
        return ImageSet(name, converted, labels, label_names)
    return ImageSet.from_class_indices(name, converted, labels, label_names=label_names)


def _open_image(source: Path | bytes, where: str) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
        image = ImageOps.exif_transpose(image)  # camera photos: apply the EXIF rotation, as viewers do
    except (UnidentifiedImageError, OSError) as err:
        raise DatasetError(f"{where}: not a readable image ({err})") from None
    return image


def _pil_to_array(image: Image.Image, grey: bool) -> np.ndarray:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit grey (PIL reads some as 32-bit 'I')
        wide = np.asarray(image, dtype=np.int64)
        return _with_channel_axis(to_uint8(wide, (0.0, 65535.0)) if wide.max() > 255 else wide.astype(np.uint8))
    return _with_channel_axis(np.asarray(image.convert("L" if grey else "RGB"), dtype=np.uint8))


_GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}


def _images_from_pil(pictures: list[Image.Image]) -> list[np.ndarray]:
    # One channel count per set: grey only if every picture is grey, otherwise everything becomes RGB.
    grey = all(picture.mode in _GREY_MODES for picture in pictures)
    return [_pil_to_array(picture, grey) for picture in pictures]


_EXIF_ORIENTATION = 0x0112


def _unchanged_jpeg(data: bytes, mode: str) -> bytes | None:
    """`data` when it is a JPEG file that decodes, as it is, to an image of `mode` (L or RGB): no EXIF rotation
    to apply, no colour conversion needed. Such bytes can be stored instead of a second, lossy compression."""
    header = Image.open(io.BytesIO(data))  # reads the header only
    rotated = header.getexif().get(_EXIF_ORIENTATION, 1) in range(2, 9)
    return data if header.format == "JPEG" and header.mode == mode and not rotated else None


def from_image_folder(root: str | Path, name: str | None = None) -> ImageSet:
    """One sub-folder per class (sorted names are the classes); every file with an image extension PIL knows
    is an example, any size. Hidden files and other extensions are ignored. JPEG files keep their bytes
    (ImageSet.jpeg_files) when they decode to the set's mode unchanged, so a JPEG writer stores them as they are."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: image folder does not exist")
    extensions = {ext.lower() for ext in Image.registered_extensions()}
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(class_dirs) < 2:
        raise DatasetError(f"{root}: expected one sub-folder per class (at least 2), found {len(class_dirs)}")
    pictures: list[Image.Image] = []
    files: list[bytes] = []
    classes: list[int] = []
    for index, class_dir in enumerate(class_dirs):
        paths = sorted(p for p in class_dir.rglob("*") if p.is_file() and not p.name.startswith(".")
                       and p.suffix.lower() in extensions)
        if not paths:
            raise DatasetError(f"{class_dir}: class folder holds no image files")
        for path in paths:
            files.append(path.read_bytes())
            pictures.append(_open_image(files[-1], str(path)))
            classes.append(index)
    images = _images_from_pil(pictures)
    mode = "L" if images[0].shape[-1] == 1 else "RGB"
    jpeg_files = [_unchanged_jpeg(data, mode) for data in files]
    return ImageSet.from_class_indices(name or safe_name(root.name), images, classes,
                                       label_names=[d.name for d in class_dirs],
                                       jpeg_files=jpeg_files if any(jpeg_files) else None)


def safe_name(text: str) -> str:
    """A dataset name the writer accepts, from a folder name."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_") or "dataset"


# --- the shared raw datasets -------------------------------------------------------------------------------


def _read_idx_gz(path: Path, magic: int) -> np.ndarray:
    try:
        data = gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as err:
        raise DatasetError(f"{path}: cannot read gzip IDX file ({err})") from None
    found, count = struct.unpack(">II", data[:8])
    if found != magic:
        raise DatasetError(f"{path}: IDX magic number {found}, expected {magic}")
    if magic == 2049:  # labels: header is 8 bytes
        values = np.frombuffer(data, dtype=np.uint8, offset=8)
        expected_shape: tuple[int, ...] = (count,)
    else:  # images: header is 16 bytes with rows and cols
        rows, cols = struct.unpack(">II", data[8:16])
        values = np.frombuffer(data, dtype=np.uint8, offset=16)
        expected_shape = (count, rows, cols)
    if values.size != int(np.prod(expected_shape)):
        raise DatasetError(f"{path}: IDX size {values.size} does not match header shape {expected_shape}")
    return values.reshape(expected_shape)


def _idx_dataset(folder: Path, name: str, label_names: list[str]) -> ImageSet:
    images = _read_idx_gz(folder / "t10k-images-idx3-ubyte.gz", 2051)
    labels = _read_idx_gz(folder / "t10k-labels-idx1-ubyte.gz", 2049)
    return ImageSet.from_class_indices(name, list(images[..., np.newaxis]), labels, label_names=label_names)


def _load_mat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    from scipy.io import loadmat  # scipy is slow to import; only these datasets need it

    try:
        mat = loadmat(str(path))
    except (OSError, ValueError) as err:
        raise DatasetError(f"{path}: cannot read MATLAB file ({err})") from None
    if "fea" not in mat or "gnd" not in mat:
        raise DatasetError(f"{path}: expected variables 'fea' and 'gnd'")
    return mat["fea"], mat["gnd"].reshape(-1)


def _mat_dataset(path: Path, name: str, stored: tuple[int, int], transpose: bool, features_first: bool,
                 value_range: tuple[float, float] | None, label_names: list[str] | None = None) -> ImageSet:
    """The README's recipe: rows of `fea` (transposed first when it is (pixels, N)) reshaped to `stored`, then
    transposed when the README says `.T` (the .mat files are column-major)."""
    fea, gnd = _load_mat(path)
    if features_first:
        fea = fea.T
    if fea.shape[1] != stored[0] * stored[1] or fea.shape[0] != gnd.size:
        raise DatasetError(f"{path}: fea has shape {fea.shape}, expected (N, {stored[0] * stored[1]}) with "
                           f"N = {gnd.size}")
    images = fea.reshape(-1, *stored)
    if transpose:
        images = images.transpose(0, 2, 1)
    images = to_uint8(images, value_range)
    return ImageSet.from_class_indices(name, list(images[..., np.newaxis]), gnd.astype(np.int64) - 1,
                                       label_names=label_names)


def _omniglot_small(folder: Path, name: str) -> ImageSet:
    path = folder / "images_background_small1.zip"
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as err:
        raise DatasetError(f"{path}: cannot open zip ({err})") from None
    with archive:
        members = sorted(m for m in archive.namelist() if m.endswith(".png"))
        class_of = {m: "/".join(m.split("/")[1:3]) for m in members}  # Alphabet/characterNN
        class_names = sorted(set(class_of.values()))
        index = {label: i for i, label in enumerate(class_names)}
        # Binary PNGs: 'L' conversion maps 0/1 pixels to 0/255.
        images = [_pil_to_array(_open_image(archive.read(m), f"{path}:{m}"), grey=True) for m in members]
    return ImageSet.from_class_indices(name, images, [index[class_of[m]] for m in members],
                                       label_names=class_names)


def _pneumoniamnist(folder: Path, name: str) -> ImageSet:
    path = folder / "pneumoniamnist_28_subset.npz"
    try:
        data = np.load(path)
        parts = [(data[f"{split}_images"], data[f"{split}_labels"]) for split in ("train", "val", "test")]
    except (OSError, KeyError, ValueError) as err:
        raise DatasetError(f"{path}: cannot read ({err})") from None
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1].reshape(-1) for p in parts])
    return ImageSet.from_class_indices(name, list(images[..., np.newaxis]), labels,
                                       label_names=["normal", "pneumonia"])


def _opencv_digits(folder: Path, name: str) -> ImageSet:
    path = folder / "digits.png"
    sheet = np.asarray(_open_image(path, str(path)).convert("L"))
    if sheet.shape != (1000, 2000):
        raise DatasetError(f"{path}: expected a 1000x2000 sheet of 20x20 digits, got {sheet.shape}")
    tiles = sheet.reshape(50, 20, 100, 20).transpose(0, 2, 1, 3).reshape(5000, 20, 20)
    return ImageSet.from_class_indices(name, list(tiles[..., np.newaxis]), np.repeat(np.arange(10), 500),
                                       label_names=DIGIT_NAMES)


def from_labelled_images(name: str, paths: Sequence[Path], labels: np.ndarray,
                         label_names: list[str] | None = None) -> ImageSet:
    """Image files with their multi-hot label rows (N, C), e.g. from a labels.csv."""
    pictures = [_open_image(path, str(path)) for path in paths]
    return ImageSet(name, _images_from_pil(pictures), labels, label_names)


def _mini_cifar(folder: Path, name: str) -> ImageSet:
    return from_file_format(folder / "file_format" / "mini-cifar", name)


def _mini_kth(folder: Path, name: str, max_frames: int, segments: int) -> ImageSet:
    return from_file_format(folder / "file_format" / "mini-kth", name, max_frames, segments)


def _video_folder(folder: Path, name: str, max_frames: int, segments: int) -> ImageSet:
    return from_video_folder(folder, name, max_frames, segments)


def _mat(file: str, stored: tuple[int, int], transpose: bool = True, features_first: bool = False,
         value_range: tuple[float, float] | None = None,
         label_names: list[str] | None = None) -> Callable[[Path, str], ImageSet]:
    return lambda folder, name: _mat_dataset(folder / file, name, stored, transpose, features_first, value_range,
                                             label_names)


_LETTERS_AJ = list("ABCDEFGHIJ")
_ALPHADIGITS = DIGIT_NAMES + [chr(c) for c in range(ord("A"), ord("Z") + 1)]
# name -> (folder under raw_root, loader); the .mat arguments transcribe the README's "how to read" column.
_RAW_LOADERS: dict[str, tuple[str, Callable[[Path, str], ImageSet]]] = {
    "mnist_test": ("mnist_test", lambda d, n: _idx_dataset(d, n, DIGIT_NAMES)),
    "notmnist_test": ("notmnist_test", lambda d, n: _idx_dataset(d, n, _LETTERS_AJ)),
    "coil20": ("coil20", _mat("COIL20.mat", (32, 32), features_first=True, value_range=(0.0, 1.0))),
    "extended_yaleb": ("extended_yaleb", _mat("YaleB.mat", (32, 32), features_first=True)),
    "orl_faces": ("orl_faces", _mat("ORL_32x32.mat", (32, 32), features_first=True)),
    "yale_faces": ("yale_faces", _mat("Yale_32x32.mat", (32, 32))),
    "msra25_faces": ("msra25_faces", _mat("MSRA25.mat", (16, 16))),
    "warp_ar10p": ("warp_ar10p", _mat("warpAR10P.mat", (40, 60))),
    "warp_pie10p": ("warp_pie10p", _mat("warpPIE10P.mat", (44, 55))),
    "binary_alphadigits": ("binary_alphadigits", _mat("binaryalphadigs.mat", (16, 20), value_range=(0.0, 1.0),
                                                      label_names=_ALPHADIGITS)),
    # gnd 1..10 are the digits 0..9 (checked by looking at the images)
    "usps_test": ("usps_test", _mat("usps.mat", (16, 16), transpose=False, value_range=(-1.0, 1.0),
                                    label_names=DIGIT_NAMES)),
    "omniglot_small": ("omniglot_small", _omniglot_small),
    "pneumoniamnist": ("pneumoniamnist", _pneumoniamnist),
    "opencv_digits": ("opencv_digits", _opencv_digits),
    "mini_cifar": ("autodl_contrib_examples", _mini_cifar),
}
# The README's "More domains": class-folder layout DIR/<class>/<file> (JPEG, PNG, and PPM that the writer
# re-encodes); SOURCE.txt beside the class folders is not a folder, so it is not a class.
CLASS_FOLDER_DATASETS = ("cifar10_jpg_2k", "intel_scenes_6cls", "hurricane_damage_sat", "dtd_textures_6cls",
                         "bccd_wbc", "gtsrb_32px_43cls", "openmoji_9cat_72px", "quickdraw_6cls_28px",
                         "fruit_contours_10cls")
_RAW_LOADERS.update({name: (name, from_image_folder) for name in CLASS_FOLDER_DATASETS})
# Videos (autodl_format.offline.video), loaded with a frame cap and a segment count: mini-kth's six DivX (MPEG-4 part 2)
# clips, and the GTSRB sign tracks as MJPEG clips.
_VIDEO_LOADERS: dict[str, tuple[str, Callable[[Path, str, int, int], ImageSet]]] = {
    "mini_kth": ("autodl_contrib_examples", _mini_kth),
    "gtsrb_track_clips_video": ("gtsrb_track_clips_video", _video_folder),
}
# Every dataset of the shared README except autodl_sample_data (already in AutoDL format).
RAW_DATASETS = tuple(_RAW_LOADERS) + tuple(_VIDEO_LOADERS)


def from_shared_raw(name: str, raw_root: str | Path, max_frames: int | None = None, segments: int = 1) -> ImageSet:
    """Load one dataset of the shared raw folder (names in RAW_DATASETS) following its README recipe. Videos keep
    at most `max_frames` frames per clip (default autodl_format.offline.video.MAX_FRAMES), each video cut into `segments`
    clips."""
    if name in _VIDEO_LOADERS:
        folder_name, video_loader = _VIDEO_LOADERS[name]
        loader = lambda folder, name: video_loader(folder, name, max_frames or MAX_FRAMES, segments)  # noqa: E731
    elif name in _RAW_LOADERS:
        folder_name, loader = _RAW_LOADERS[name]
    else:
        raise DatasetError(f"unknown raw dataset {name!r}; known: {', '.join(RAW_DATASETS)}")
    folder = Path(raw_root) / folder_name
    if not folder.is_dir():
        raise DatasetError(f"{folder}: raw dataset folder missing")
    try:
        return loader(folder, name)
    except FileNotFoundError as err:
        raise DatasetError(f"{err.filename}: file missing") from None


# --- TFDS and scikit-learn ---------------------------------------------------------------------------------


def _pick_tfds_keys(features: object, builder_name: str) -> tuple[str, str]:
    import tensorflow_datasets as tfds

    def first(kinds: tuple[type, ...], preferred: str) -> str | None:
        if preferred in features.keys() and isinstance(features[preferred], kinds):
            return preferred
        return next((key for key in sorted(features.keys()) if isinstance(features[key], kinds)), None)

    image_key = first((tfds.features.Image, tfds.features.Video), "image")
    label_key = first((tfds.features.ClassLabel,), "label")
    if image_key is None or label_key is None:
        raise DatasetError(f"tfds:{builder_name}: needs an Image/Video feature and a ClassLabel feature, has "
                           f"{dict((k, type(v).__name__) for k, v in features.items())}")
    return image_key, label_key


def from_tfds(builder_name: str, split: str | None = None, data_dir: str | Path | None = None,
              max_samples: int | None = None) -> ImageSet:
    """A TFDS image (or video) classification dataset. split None merges all splits (the caller re-splits);
    max_samples keeps the first examples in split order. Prepares (downloads) the data when it is not in
    data_dir yet; under tfds.testing.mock_data it reads generated examples offline."""
    from autodl_format.frameworks import tf  # noqa: F401  (triton kept out, TF quiet, then tfds)
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(builder_name, data_dir=None if data_dir is None else str(data_dir))
        if not builder.is_prepared():
            builder.download_and_prepare()
    except Exception as err:  # tfds raises many types (not found, download, checksum); report one line
        raise DatasetError(f"tfds:{builder_name}: cannot load ({type(err).__name__}: "
                           f"{first_line(err)})") from None
    features = builder.info.features
    image_key, label_key = _pick_tfds_keys(features, builder_name)
    # Mock data has no split metadata; 'train' is what every image builder has.
    splits = [split] if split else (list(builder.info.splits) or ["train"])
    images: list[np.ndarray] = []
    classes: list[int] = []
    for name in splits:
        for example in tfds.as_numpy(builder.as_dataset(split=name)):
            if max_samples is not None and len(images) >= max_samples:
                break
            images.append(_with_channel_axis(to_uint8(example[image_key])))
            classes.append(int(example[label_key]))
    if not images:
        raise DatasetError(f"tfds:{builder_name}: split(s) {splits} hold no examples")
    label_feature = features[label_key]
    return ImageSet.from_class_indices(safe_name(builder_name), images, classes,
                                       num_classes=label_feature.num_classes, label_names=list(label_feature.names))


def sklearn_digits() -> ImageSet:
    """The 1797 8x8 grey digits bundled with scikit-learn (values 0..16 scaled to 0..255)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = to_uint8(digits.images, (0.0, 16.0))
    return ImageSet.from_class_indices("digits", list(images[..., np.newaxis]), digits.target,
                                       label_names=DIGIT_NAMES)


def from_video_folder(root: str | Path, name: str | None = None, max_frames: int = MAX_FRAMES, segments: int = 1,
                      report: Report = report_to_stderr) -> ImageSet:
    """One sub-folder of video files per class (sorted names are the classes); files with a video extension
    (VIDEO_EXTENSIONS) are the examples. `segments` > 1 cuts each video into that many consecutive clips of the
    same class (each sampled to max_frames): more examples from few long videos, but parts of one video are
    alike, so a train/test split of them measures little beyond the pipeline."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: video folder does not exist")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(class_dirs) < 2:
        raise DatasetError(f"{root}: expected one sub-folder per class (at least 2), found {len(class_dirs)}")
    paths: list[Path] = []
    classes: list[int] = []
    for index, class_dir in enumerate(class_dirs):
        files = sorted(p for p in class_dir.rglob("*") if p.is_file() and not p.name.startswith(".")
                       and is_video_file(p))
        if not files:
            raise DatasetError(f"{class_dir}: class folder holds no video file ({', '.join(sorted(VIDEO_EXTENSIONS))})")
        paths += files
        classes += [index] * len(files)
    return build_clip_set(name or safe_name(root.name), paths, classes, [d.name for d in class_dirs], max_frames, segments,
                  report, root)


def from_file_format(folder: str | Path, name: str | None = None, max_frames: int = MAX_FRAMES, segments: int = 1,
                     report: Report = report_to_stderr) -> ImageSet:
    """The AutoDL file-format layout: `labels.csv` (columns FileName, Labels; Labels one class index, or several
    separated by spaces for multilabel) and `label.name` (class names, one per line, in index order) beside the
    files. Video files give clips (see from_video_folder for max_frames and segments); otherwise the files are
    read as images."""
    folder = Path(folder)
    labels_csv, names_file = folder / "labels.csv", folder / "label.name"
    for required in (labels_csv, names_file):
        if not required.is_file():
            raise DatasetError(f"{required}: missing (the file-format layout needs labels.csv and label.name)")
    label_names = names_file.read_text(encoding="utf-8").split()
    with labels_csv.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or not {"FileName", "Labels"} <= set(rows[0]):
        raise DatasetError(f"{labels_csv}: expected a header FileName,Labels and at least one row")
    paths = [folder / row["FileName"] for row in rows]
    labels = np.zeros((len(rows), len(label_names)), dtype=np.uint8)
    for line, row in enumerate(rows, start=2):
        try:
            indices = [int(value) for value in row["Labels"].split()]
        except ValueError:
            raise DatasetError(f"{labels_csv}: line {line}: Labels {row['Labels']!r} is not class indices") from None
        if not indices or min(indices) < 0 or max(indices) >= len(label_names):
            raise DatasetError(f"{labels_csv}: line {line}: Labels {row['Labels']!r} outside 0..{len(label_names) - 1}")
        labels[line - 2, indices] = 1
    name = name or safe_name(folder.name)
    if not all(is_video_file(path) for path in paths):
        return from_labelled_images(name, paths, labels, label_names)
    if (labels.sum(axis=1) != 1).any():
        raise DatasetError(f"{labels_csv}: multilabel rows are only supported for images")
    return build_clip_set(name, paths, labels.argmax(axis=1).tolist(), label_names, max_frames, segments, report, folder)
