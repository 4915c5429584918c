from pathlib import Path

from autodl_format.offline.paths import REPO_ROOT  # noqa: F401 - the tests' one name for the checkout


def compressed_frames(dataset_dir: Path) -> list[bytes]:
    """The compressed frames of every record of an AutoDL dataset, test then train, exactly as written."""
    from autodl_format.frameworks import tf

    return [frame.bytes_list.value[0] for path in sorted(dataset_dir.glob("*.data/*/sample-*.tfrecord"))
            for record in tf.data.TFRecordDataset(str(path))
            for frame in tf.train.SequenceExample.FromString(record.numpy()).feature_lists.feature_list[
                "0_compressed"].feature]
