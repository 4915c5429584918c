"""Sources: every shared raw dataset (sizes and classes from datasets_raw/README.md and the SOURCE.txt files,
orientation checks against the README's transposes, the class-folder sets' JPEG files kept byte for byte and PPM
re-encoded losslessly), arrays, image folders, scikit-learn digits, and the make_dataset CLI."""
import numpy as np
import pytest
from PIL import Image

from autodl_format.errors import DatasetError
from autodl_format.reader import load_task
from autodl_format.offline.sources import (RAW_DATASETS, from_arrays, from_image_folder, from_shared_raw, sklearn_digits,
                                   to_uint8)
from autodl_format.offline import convert
from scripts import make_dataset
from tests import compressed_frames

# name: (examples, classes, (H, W, C) with None for a varying side, examples per class: one number when the README
# says they are balanced, every class's count in class order for the imbalanced class-folder sets)
README_TABLE = {
    "mnist_test": (10000, 10, (28, 28, 1), None),
    "notmnist_test": (10000, 10, (28, 28, 1), 1000),
    "coil20": (1440, 20, (32, 32, 1), 72),
    "extended_yaleb": (2414, 38, (32, 32, 1), None),
    "orl_faces": (400, 40, (32, 32, 1), 10),
    "yale_faces": (165, 15, (32, 32, 1), 11),
    "msra25_faces": (1799, 12, (16, 16, 1), None),
    "warp_ar10p": (130, 10, (60, 40, 1), 13),
    "warp_pie10p": (210, 10, (55, 44, 1), 21),
    "binary_alphadigits": (1404, 36, (20, 16, 1), 39),
    "usps_test": (2007, 10, (16, 16, 1), None),
    "omniglot_small": (2720, 136, (105, 105, 1), 20),
    "pneumoniamnist": (3882 + 524 + 624, 2, (28, 28, 1), None),
    "opencv_digits": (5000, 10, (20, 20, 1), 500),
    "mini_cifar": (100, 10, (32, 32, 3), None),
    # videos: (T, H, W, C), T capped at autodl_format.offline.video.MAX_FRAMES = 64
    "mini_kth": (6, 6, (64, 120, 160, 1), 1),
    "gtsrb_track_clips_video": (150, 6, (30, 32, 32, 3), 25),
    "cifar10_jpg_2k": (2000, 10, (32, 32, 3), 200),
    "intel_scenes_6cls": (1140, 6, (None, 150, 3), 190),
    "hurricane_damage_sat": (2000, 2, (128, 128, 3), 1000),
    "dtd_textures_6cls": (450, 6, (None, None, 3), 75),
    "bccd_wbc": (348, 4, (None, None, 3), (88, 33, 20, 207)),
    "gtsrb_32px_43cls": (1720, 43, (32, 32, 3), 40),
    "openmoji_9cat_72px": (1267, 9, (72, 72, 3), (85, 150, 149, 135, 150, 148, 150, 150, 150)),
    "quickdraw_6cls_28px": (3000, 6, (28, 28, 1), 500),
    "fruit_contours_10cls": (800, 10, (100, 100, 1), 80),
}
# (smallest, largest) of the varying sides, (H, W), from SOURCE.txt
VARYING_SIDES = {"intel_scenes_6cls": ((76, 150), (150, 150)), "dtd_textures_6cls": ((300, 271), (659, 800)),
                 "bccd_wbc": ((131, 131), (367, 367))}
FACES = ("extended_yaleb", "orl_faces", "yale_faces", "msra25_faces", "warp_ar10p", "warp_pie10p")
DIGITS_WITH_ONE_AT_INDEX_1 = ("mnist_test", "usps_test", "opencv_digits", "binary_alphadigits")


def test_raw_dataset_list_matches_the_readme():
    assert set(RAW_DATASETS) == set(README_TABLE)


@pytest.mark.parametrize("name", RAW_DATASETS)
def test_raw_dataset_shapes_and_classes(name, autodl_raw_root):
    image_set = from_shared_raw(name, autodl_raw_root)
    examples, classes, shape, per_class = README_TABLE[name]
    assert len(image_set) == examples and image_set.num_classes == classes
    shapes = np.array([image.shape for image in image_set.images])
    if None in shape:
        low, high = VARYING_SIDES[name]
        assert shapes[:, :2].min(axis=0).tolist() == list(low) and shapes[:, :2].max(axis=0).tolist() == list(high)
        assert set(shapes[:, 2].tolist()) == {shape[2]}
    else:
        assert {tuple(row) for row in shapes.tolist()} == {shape}
    counts = image_set.labels.sum(axis=0)
    assert (counts > 0).all() and (image_set.labels.sum(axis=1) == 1).all()
    if isinstance(per_class, tuple):
        assert tuple(counts.tolist()) == per_class
    elif per_class:
        assert set(counts.tolist()) == {per_class}
    pixels = np.concatenate([image.ravel() for image in image_set.images])
    assert pixels.dtype == np.uint8 and pixels.max() >= 200 and pixels.std() > 20  # scaled to 0..255


def _mirror_correlation(image: np.ndarray, axis: int) -> float:
    return float(np.corrcoef(image.ravel(), np.flip(image, axis=axis).ravel())[0, 1])


@pytest.mark.parametrize("name", FACES)
def test_faces_are_upright_not_transposed(name, autodl_raw_root):
    # The mean face is left-right symmetric (side lighting averages out); a missed or extra transpose turns that
    # into top-bottom symmetry. Measured: left-right >= 0.81, top-bottom <= 0.38 on all six.
    mean_face = np.stack(from_shared_raw(name, autodl_raw_root).images)[..., 0].astype(np.float64).mean(axis=0)
    assert _mirror_correlation(mean_face, axis=1) > 0.7 > 0.5 > _mirror_correlation(mean_face, axis=0)


@pytest.mark.parametrize("name", DIGITS_WITH_ONE_AT_INDEX_1)
def test_digit_one_is_a_vertical_stroke(name, autodl_raw_root):
    image_set = from_shared_raw(name, autodl_raw_root)
    ones = np.stack([im for im, row in zip(image_set.images, image_set.labels) if row[1]])[..., 0]
    mean = ones.astype(np.float64).mean(axis=0)
    assert mean.mean(axis=0).std() > 1.5 * mean.mean(axis=1).std()  # column profile peaked, row profile flat


# name: (encoding chosen by --encoding auto, frames stored as the source's own JPEG file): dtd holds 7 grey JPEGs
# in a colour set, which are converted to RGB and compressed again; GTSRB's PPM files become PNG.
CLASS_FOLDER_STORAGE = {"bccd_wbc": ("jpeg", 348), "dtd_textures_6cls": ("jpeg", 443),
                        "gtsrb_32px_43cls": ("png", 0)}


@pytest.mark.parametrize("name", CLASS_FOLDER_STORAGE)
def test_class_folder_sets_keep_jpeg_files_and_reencode_ppm(name, tmp_path, autodl_raw_root, capsys):
    encoding, kept = CLASS_FOLDER_STORAGE[name]
    assert make_dataset.main(["--source", f"raw:{name}", "--out", str(tmp_path), "--raw-root",
                              str(autodl_raw_root)]) == 0
    assert capsys.readouterr().out.rstrip().endswith(f"classes, {encoding}")
    originals = {path.read_bytes() for path in (autodl_raw_root / name).rglob("*.jp*g")}
    stored = compressed_frames(tmp_path / name)
    assert len(stored) == README_TABLE[name][0] and sum(frame in originals for frame in stored) == kept
    task = load_task(tmp_path / name)
    assert task.train.get_metadata().get_tensor_shape()[-1] == 3
    if encoding == "png":  # lossless: the decoded PPM pixels, every one
        assert all(frame.startswith(b"\x89PNG") for frame in stored)
        read = [np.rint(example[0] * 255).astype(np.uint8).tobytes()
                for subset in (task.train, task.test) for example, _ in subset.iter_numpy()]
        assert sorted(read) == sorted(image.tobytes() for image in from_shared_raw(name, autodl_raw_root).images)


def test_unknown_raw_name_and_missing_root(tmp_path):
    with pytest.raises(DatasetError, match="unknown raw dataset 'kth'"):
        from_shared_raw("kth", tmp_path)
    with pytest.raises(DatasetError, match=f"{tmp_path / 'coil20'}: raw dataset folder missing"):
        from_shared_raw("coil20", tmp_path)


def test_to_uint8_scales():
    assert to_uint8(np.array([0.0, 0.5, 1.0])).tolist() == [0, 128, 255]
    assert to_uint8(np.array([-1.0, 0.0, 1.0])).tolist() == [0, 128, 255]
    assert to_uint8(np.array([True, False])).tolist() == [255, 0]
    assert to_uint8(np.array([0, 7, 255], dtype=np.int64)).tolist() == [0, 7, 255]
    assert to_uint8(np.array([0, 65535], dtype=np.uint16)).tolist() == [0, 255]
    assert to_uint8(np.array([0, 16]), (0, 16)).tolist() == [0, 255]
    with pytest.raises(ValueError, match="pass value_range"):
        to_uint8(np.array([0.0, 300.0]))


def test_from_arrays_forms():
    grey = from_arrays(np.linspace(0, 1, 4 * 5 * 6).reshape(4, 5, 6), [0, 1, 0, 1], "g", ["a", "b"])
    assert grey.images[0].shape == (5, 6, 1) and grey.images[-1].max() == 255 and grey.label_names == ["a", "b"]
    # a list: one scale for the whole set, so a dark image stays dark
    listed = from_arrays([np.full((3, 3), 0.1), np.full((2, 4), 1.0)], [0, 1], "l")
    assert listed.images[0].max() == 26 and listed.images[1].shape == (2, 4, 1)
    multi = from_arrays(np.zeros((2, 3, 4, 4, 3), np.uint8), np.array([[1, 1], [0, 1]]), "v")
    assert multi.is_video and multi.labels.tolist() == [[1, 1], [0, 1]]


def test_image_folder_modes_and_errors(tmp_path):
    root = tmp_path / "imgs"
    (root / "b_grey").mkdir(parents=True)
    (root / "a_colour").mkdir()
    Image.fromarray(np.full((4, 6), 200, np.uint8)).save(root / "b_grey" / "x.png")
    Image.fromarray(np.zeros((5, 5, 4), np.uint8), "RGBA").save(root / "a_colour" / "y.png")
    Image.fromarray(np.full((3, 3), 9, np.uint8)).convert("P").save(root / "a_colour" / "z.gif")
    image_set = from_image_folder(root)
    assert image_set.label_names == ["a_colour", "b_grey"] and image_set.num_channels == 3  # mixed -> RGB
    assert image_set.images[2].shape == (4, 6, 3) and image_set.labels.argmax(axis=1).tolist() == [0, 0, 1]
    assert image_set.jpeg_files is None and image_set.preferred_encoding == "png"  # no JPEG files
    (root / "a_colour" / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DatasetError, match="broken.jpg: not a readable image"):
        from_image_folder(root)
    (root / "a_colour" / "broken.jpg").unlink()
    (root / "c_empty").mkdir()
    with pytest.raises(DatasetError, match="c_empty: class folder holds no image files"):
        from_image_folder(root)


def test_sklearn_digits():
    digits = sklearn_digits()
    assert len(digits) == 1797 and digits.num_classes == 10 and digits.images[0].shape == (8, 8, 1)
    assert max(im.max() for im in digits.images) == 255


def test_cli_raw_and_errors(tmp_path, autodl_raw_root, capsys):
    args = ["--out", str(tmp_path), "--raw-root", str(autodl_raw_root)]
    assert make_dataset.main(["--source", "raw:yale_faces", "--test-fraction", "0.25", *args]) == 0
    task = load_task(tmp_path / "yale_faces")
    assert task.train.get_metadata().size() == 120 and task.test.get_metadata().size() == 45  # 8 + 3 per class
    assert make_dataset.main(["--source", "mock-tfds:cifar10", "--max-samples", "20", "--name", "mock-c10",
                              "--encoding", "jpeg", *args]) == 0
    assert load_task(tmp_path / "mock-c10").train.get_metadata().size() == 16
    capsys.readouterr()
    for bad in (["--source", "raw:nope"], ["--source", "folder:" + str(tmp_path / "missing")],
                ["--source", "raw:yale_faces"], ["--source", "digits", "--name", "my_train"],
                ["--source", "weird:x"]):
        assert make_dataset.main([*bad, *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1, err


def test_ensure_digits_dataset_converts_once(tmp_path):
    first = convert.ensure_digits_dataset(tmp_path)
    task = load_task(first)
    assert task.name == "digits" and task.train.get_metadata().size() + task.test.get_metadata().size() == 1797
    stamp = (first / "digits.solution").stat().st_mtime_ns
    assert convert.ensure_digits_dataset(tmp_path) == first
    assert (first / "digits.solution").stat().st_mtime_ns == stamp  # reused, not rewritten
    (first / "digits.data" / "test" / "metadata.textproto").unlink()  # broken copy -> rewritten
    assert load_task(convert.ensure_digits_dataset(tmp_path)).test.get_metadata().size() > 0


def test_image_folder_applies_exif_rotation(tmp_path):
    for label in ("portrait", "plain"):
        (tmp_path / label).mkdir()
    picture = Image.fromarray(np.zeros((4, 6, 3), np.uint8))  # 6 wide, 4 high as stored
    exif = picture.getexif()
    exif[0x0112] = 6  # orientation: the camera was turned, viewers rotate by 90 degrees
    picture.save(tmp_path / "portrait" / "p.jpg", exif=exif)
    picture.save(tmp_path / "plain" / "q.jpg")
    image_set = from_image_folder(tmp_path)
    assert [im.shape for im in image_set.images] == [(4, 6, 3), (6, 4, 3)]  # classes sorted: plain, portrait
    # the rotated file's bytes would decode sideways: only the plain one is kept for storing unchanged
    assert image_set.jpeg_files == [(tmp_path / "plain" / "q.jpg").read_bytes(), None]
    assert repr(image_set) == f"ImageSet({tmp_path.name!r}, 2 examples, 2 classes, 2 different shapes)"
