"""writer -> reader round trips (TFDS mock data, generated JPEG folders, videos), stratified_split, and the
writer's refusals. Everything is written as real TFRecord files and read back with the real reader."""
import numpy as np
import pytest
from PIL import Image

from autodl_format.offline import writer as writer_module
from autodl_format.image_set import ImageSet, stratified_split
from autodl_format.reader import load_task
from autodl_format.offline.sources import from_image_folder, from_tfds
from autodl_format.frameworks import tf  # noqa: F401  (triton kept out, TF quiet, then tfds)
from autodl_format.offline.writer import write_dataset
from tests import compressed_frames


def _mock_tfds(builder: str, examples: int) -> ImageSet:
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=examples):
        return from_tfds(builder)


def _read_all(subset) -> tuple[list[np.ndarray], np.ndarray]:
    pairs = list(subset.iter_numpy())
    return [p[0] for p in pairs], np.stack([p[1] for p in pairs])


def _assert_pixels_equal(read: list[np.ndarray], original: ImageSet) -> None:
    assert len(read) == len(original)
    for example, image in zip(read, original.images):
        expected = image if image.ndim == 4 else image[np.newaxis]
        assert example.shape == expected.shape
        np.testing.assert_array_equal(np.rint(example * 255).astype(np.uint8), expected)


@pytest.mark.parametrize("builder, examples, channels, classes, fixed", [
    ("mnist", 24, 1, 10, (28, 28)),
    ("cifar10", 24, 3, 10, (32, 32)),
    ("caltech101", 30, 3, 102, None),        # many classes; mock images vary in size
    ("horses_or_humans", 8, 3, 2, (300, 300)),
])
def test_png_round_trip_on_tfds_mock_data(tmp_path, builder, examples, channels, classes, fixed):
    image_set = _mock_tfds(builder, examples)
    assert len(image_set) == examples and image_set.num_classes == classes and image_set.num_channels == channels
    train, test = stratified_split(image_set, 0.25, seed=1)
    dataset_dir = write_dataset(train, test, tmp_path / "out", builder)
    assert dataset_dir == tmp_path / "out" / builder
    task = load_task(dataset_dir)
    meta = task.train.get_metadata()
    rows, cols = fixed or (-1, -1)
    assert meta.get_tensor_shape() == (1, rows, cols, channels) and meta.get_output_size() == classes
    assert meta.size() == len(train) and task.test.get_metadata().size() == len(test)
    assert list(meta.get_label_to_index_map()) == image_set.label_names
    train_images, train_labels = _read_all(task.train)
    _assert_pixels_equal(train_images, train)
    np.testing.assert_array_equal(train_labels, train.labels)
    test_images, test_labels = _read_all(task.test)
    _assert_pixels_equal(test_images, test)
    assert not test_labels.any()
    solution = np.loadtxt(task.solution_path, ndmin=2)
    np.testing.assert_array_equal(solution, test.labels)
    assert (dataset_dir / f"{builder}_label.name").read_text().split("\n")[:-1] == image_set.label_names
    assert (dataset_dir / f"{builder}_public.info").read_text() == (
        f"domain : image\nsample_num : {examples}\nlabel_num : {classes}\n")


def test_ids_number_test_first(tmp_path):
    image_set = _mock_tfds("mnist", 12)
    train, test = stratified_split(image_set, 0.25, seed=0)
    dataset_dir = write_dataset(train, test, tmp_path, "ids")
    for subset, first in (("test", 0), ("train", len(test))):
        path = dataset_dir / "ids.data" / subset / f"sample-ids-{subset}.tfrecord"
        ids = [tf.train.SequenceExample.FromString(r.numpy()).context.feature["id"].int64_list.value[0]
               for r in tf.data.TFRecordDataset(str(path))]
        assert ids == list(range(first, first + (len(test) if subset == "test" else len(train))))


def _jpeg_folder(root, sizes_per_class):
    rng = np.random.default_rng(0)
    for name, sizes in sizes_per_class.items():
        (root / name).mkdir(parents=True)
        for i, (h, w) in enumerate(sizes):
            # smooth gradients + a little noise: JPEG-friendly content, so the lossy error stays small
            y, x = np.mgrid[0:h, 0:w]
            base = np.stack([x * 255 / w, y * 255 / h, np.full((h, w), 40.0 * i)], axis=-1)
            pixels = np.clip(base + rng.normal(0, 2, base.shape), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"img{i}.jpg", quality=95)
        (root / name / "notes.txt").write_text("not an image: ignored")


def test_variable_size_jpeg_folder(tmp_path):
    sizes = {"cats": [(40, 30), (25, 50), (33, 33), (60, 20)], "dogs": [(31, 47), (50, 50), (22, 64)],
             "owls": [(48, 36), (36, 48), (17, 29)]}
    _jpeg_folder(tmp_path / "pics", sizes)
    image_set = from_image_folder(tmp_path / "pics", name="pets")
    assert image_set.label_names == ["cats", "dogs", "owls"] and len(image_set) == 10
    assert [im.shape[:2] for im in image_set.images] == [s for v in sizes.values() for s in v]
    train, test = stratified_split(image_set, 0.3, seed=0)
    assert all(train.labels[:, c].any() for c in range(3))
    assert image_set.preferred_encoding == "jpeg"
    task = load_task(write_dataset(train, test, tmp_path / "out", "pets", encoding="jpeg"))
    files = {path.read_bytes() for path in (tmp_path / "pics").rglob("*.jpg")}
    assert set(compressed_frames(tmp_path / "out" / "pets")) == files  # the JPEG files themselves, not re-encoded
    assert task.train.get_metadata().get_tensor_shape() == (1, -1, -1, 3)
    assert task.train.get_dataset().element_spec[0].shape.as_list() == [1, None, None, 3]
    for subset, original in ((task.train, train), (task.test, test)):
        read, _ = _read_all(subset)
        for example, image in zip(read, original.images):
            assert example.shape == (1, *image.shape)
            assert np.abs(np.rint(example[0] * 255) - image).mean() < 3  # JPEG is lossy, but only slightly
    write_dataset(train, test, tmp_path / "out", "pets_png")  # PNG: the decoded pixels, compressed losslessly
    assert all(frame.startswith(b"\x89PNG") for frame in compressed_frames(tmp_path / "out" / "pets_png"))
    _assert_pixels_equal(_read_all(load_task(tmp_path / "out" / "pets_png").test)[0], test)


def test_dense_round_trip_and_grey(tmp_path):
    image_set = _mock_tfds("mnist", 10)
    train, test = stratified_split(image_set, 0.3, seed=0)
    task = load_task(write_dataset(train, test, tmp_path, "dense_mnist", encoding="dense"))
    meta = task.train.get_metadata()
    assert not meta.is_compressed() and meta.get_tensor_shape() == (1, 28, 28, 1)
    read, _ = _read_all(task.test)
    assert max(example.max() for example in read) <= 1.0  # stored as x / 255
    _assert_pixels_equal(read, test)


@pytest.mark.parametrize("lengths, sequence_size", [((4, 4, 4, 4, 4, 4), 4), ((3, 5, 4, 6, 2, 5), -1)])
def test_video_round_trip(tmp_path, lengths, sequence_size):
    rng = np.random.default_rng(0)
    videos = [rng.integers(0, 256, (t, 12, 16, 1), dtype=np.uint8) for t in lengths]
    image_set = ImageSet.from_class_indices("clips", videos, [0, 1, 0, 1, 0, 1])
    train, test = image_set.subset([0, 1, 2, 3]), image_set.subset([4, 5])
    task = load_task(write_dataset(train, test, tmp_path, "clips"))
    meta = task.train.get_metadata()
    assert meta.get_tensor_shape() == (sequence_size, 12, 16, 1) and meta.metadata_.is_sequence is True
    _assert_pixels_equal(_read_all(task.train)[0], train)
    _assert_pixels_equal(_read_all(task.test)[0], test)
    assert "domain : video" in (tmp_path / "clips" / "clips_public.info").read_text()


def _small_set(n=12, classes=3):
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (8, 8, 3), dtype=np.uint8) for _ in range(n)]
    return ImageSet.from_class_indices("small", images, np.arange(n) % classes)


def test_refuses_train_in_name_or_path(tmp_path):
    train, test = stratified_split(_small_set(), 0.25, seed=0)
    with pytest.raises(ValueError, match="must not contain 'train'"):
        write_dataset(train, test, tmp_path, "my_train_set")
    with pytest.raises(ValueError, match="must not contain 'train'"):
        write_dataset(train, test, tmp_path / "trainings", "fine")
    with pytest.raises(ValueError, match="letters, digits"):
        write_dataset(train, test, tmp_path, "a.b")
    assert not any(tmp_path.iterdir())


def test_crash_mid_write_leaves_nothing(tmp_path, monkeypatch):
    train, test = stratified_split(_small_set(), 0.25, seed=0)
    calls = []

    def failing_encode(frame, encoding):
        calls.append(1)
        if len(calls) == 5:
            raise RuntimeError("disk on fire")
        return original(frame, encoding)

    original = writer_module._encode_frame
    monkeypatch.setattr(writer_module, "_encode_frame", failing_encode)
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_dataset(train, test, tmp_path, "crashy")
    assert list(tmp_path.iterdir()) == []  # no final dir, no staging leftovers


def test_existing_dataset_needs_overwrite(tmp_path):
    train, test = stratified_split(_small_set(), 0.25, seed=0)
    write_dataset(train, test, tmp_path, "again")
    with pytest.raises(FileExistsError, match="already exists"):
        write_dataset(train, test, tmp_path, "again")
    train2, test2 = stratified_split(_small_set(n=20), 0.25, seed=0)
    write_dataset(train2, test2, tmp_path, "again", overwrite=True)
    assert load_task(tmp_path / "again").train.get_metadata().size() == len(train2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again"]


def test_inconsistent_inputs_are_refused(tmp_path):
    train, test = stratified_split(_small_set(), 0.25, seed=0)
    grey = ImageSet.from_class_indices("g", [np.zeros((8, 8, 1), np.uint8)], [0], num_classes=3)
    with pytest.raises(ValueError, match="rank or channel count"):
        write_dataset(train, grey, tmp_path, "mixed")
    with pytest.raises(ValueError, match="3 classes, test 4"):
        write_dataset(train, ImageSet.from_class_indices("t", test.images, [3] * len(test)), tmp_path, "x")
    varied = ImageSet.from_class_indices("v", [np.zeros((8, 9, 3), np.uint8)], [0], num_classes=3)
    with pytest.raises(ValueError, match="DENSE encoding needs one frame size"):
        write_dataset(train, varied, tmp_path, "v", encoding="dense")
    rgba = ImageSet.from_class_indices("a", [np.zeros((8, 8, 4), np.uint8)] * 2, [0, 1])
    with pytest.raises(ValueError, match="JPEG needs 1 or 3 channels"):
        write_dataset(rgba, rgba, tmp_path, "a", encoding="jpeg")


def test_stratified_split_properties():
    labels = np.repeat(np.arange(5), [1, 2, 3, 10, 40])
    image_set = ImageSet.from_class_indices("s", [np.full((2, 2, 1), i, np.uint8) for i in range(56)], labels)
    train, test = stratified_split(image_set, 0.2, seed=7)
    assert len(train) + len(test) == 56
    assert train.labels.sum(axis=0).tolist() == [1, 2, 2, 8, 32]  # every class with >= 2 examples in train
    assert test.labels.sum(axis=0).tolist() == [0, 0, 1, 2, 8]
    everything = sorted(int(im[0, 0, 0]) for im in train.images + test.images)
    assert everything == list(range(56))  # a partition
    again = stratified_split(image_set, 0.2, seed=7)
    assert [int(im[0, 0, 0]) for im in again[1].images] == [int(im[0, 0, 0]) for im in test.images]
    other = stratified_split(image_set, 0.2, seed=8)
    assert [int(im[0, 0, 0]) for im in other[1].images] != [int(im[0, 0, 0]) for im in test.images]
    tiny = ImageSet.from_class_indices("t", [np.zeros((2, 2, 1), np.uint8)] * 3, [0, 1, 2])
    tiny_train, tiny_test = stratified_split(tiny, 0.2, seed=0)
    assert len(tiny_train) == 2 and len(tiny_test) == 1
