"""What the AutoDL platform's ingestion does, as far as a submission can tell, written from the protocol document
(docs/autodl_protocol.md sections 1, 2 and 3; not the official code): run as a script in a fresh process.

    python tests/platform_harness.py --dataset_dir D --code_dir C --time_budget T --out RESULT.npz [--eager]

In this order, as on the platform: import TensorFlow, switch to TF1 graph mode (the platform ran TF 1.13; --eager
keeps TF2's eager mode), build the train and test datasets the TF1 way (TFRecordDataset, TF1 parsing names,
a one-pass dataset of (example, labels) float32), only then append the code directory to the END of sys.path and
`from model import Model`; construct it with the train metadata (not timed), then call train/test with
remaining_time_budget until done_training, checking each prediction's `.shape` as the official loop does. The
platform's scorer kills ingestion at start + T; here the loop stops there instead, and late predictions are kept
so that the caller can see them. Writes the prediction times (seconds after start), the predictions and the files
`model` and `learner` were imported from to RESULT.npz.
"""
import argparse
import glob
import os
import sys
import time

import tensorflow as tf  # first, as the platform's ingestion does (its dataset.py imports TensorFlow)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset_dir", required=True)
    parser.add_argument("--code_dir", required=True)
    parser.add_argument("--time_budget", type=float, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--eager", action="store_true", help="keep TF2 eager mode instead of TF1 graph mode")
    return parser.parse_args()


def read_metadata(subset_dir: str) -> dict:
    """The few DataSpecification fields this harness needs, from metadata.textproto (protocol 2.3)."""
    fields = {"sequence_size": 1, "num_channels": -1, "format": "DENSE"}
    with open(os.path.join(subset_dir, "metadata.textproto")) as handle:
        for line in handle:
            key, _, value = line.strip().partition(":")
            if key in ("sample_count", "output_dim", "sequence_size", "row_count", "col_count", "num_channels"):
                fields[key] = int(value)
            elif key == "format":
                fields[key] = value.strip()
    if fields["num_channels"] == -1:
        fields["num_channels"] = 3 if fields["format"] == "COMPRESSED" else 1
    return fields


def tf1_dataset(subset_dir: str, spec: dict):
    """The one-pass dataset of (example (T, H, W, C) float32, labels (output_dim,) float32), TF1 names."""
    v1 = tf.compat.v1
    rows, cols, channels = spec["row_count"], spec["col_count"], spec["num_channels"]
    files = sorted(glob.glob(os.path.join(subset_dir, "sample*")))

    def parse(record):
        if spec["format"] == "COMPRESSED":
            sequence_features = {"0_compressed": v1.FixedLenSequenceFeature([], tf.string)}
        else:
            sequence_features = {"0_dense_input": v1.FixedLenSequenceFeature([rows * cols * channels], tf.float32)}
        context, sequences = v1.parse_single_sequence_example(
            record, context_features={"label_index": v1.VarLenFeature(tf.int64),
                                      "label_score": v1.VarLenFeature(tf.float32)},
            sequence_features=sequence_features)
        if spec["format"] == "COMPRESSED":
            example = v1.map_fn(lambda frame: v1.image.convert_image_dtype(
                v1.image.decode_image(frame, channels=channels), tf.float32), sequences["0_compressed"],
                dtype=tf.float32)
        else:
            example = v1.reshape(sequences["0_dense_input"], [-1, rows, cols, channels])
        sequence = spec["sequence_size"]
        example.set_shape([None if d == -1 else d for d in (sequence, rows, cols, channels)])  # protocol 1.3
        labels = v1.sparse_to_dense(context["label_index"].values, [spec["output_dim"]],
                                    context["label_score"].values, validate_indices=False)
        return example, labels

    return v1.data.TFRecordDataset(files).map(parse)


def main() -> int:
    args = parse_args()
    if not args.eager:
        tf.compat.v1.disable_v2_behavior()
    data_dir = glob.glob(os.path.join(args.dataset_dir, "*.data"))[0]
    train_dir, test_dir = os.path.join(data_dir, "train"), os.path.join(data_dir, "test")
    train_spec, test_spec = read_metadata(train_dir), read_metadata(test_dir)
    train_set, test_set = tf1_dataset(train_dir, train_spec), tf1_dataset(test_dir, test_spec)

    sys.path.append(os.path.abspath(args.code_dir))  # appended at the end, as the official program does
    from autodl_format.metadata import load_metadata  # the metadata object's API (protocol 1.2)
    from model import Model

    model = Model(load_metadata(train_dir))
    start = time.time()
    deadline = start + args.time_budget
    times, predictions = [], []
    while not model.done_training and time.time() < deadline:
        model.train(train_set, remaining_time_budget=deadline - time.time())
        prediction = model.test(test_set, remaining_time_budget=deadline - time.time())
        if prediction is None:
            break
        if prediction.shape != (test_spec["sample_count"], test_spec["output_dim"]):  # the official check
            raise ValueError(f"bad prediction shape {prediction.shape}")
        times.append(time.time() - start)
        predictions.append(prediction)
    import learner
    import model as model_module
    import numpy as np

    np.savez(args.out, times=np.array(times), predictions=np.array(predictions),
             modules=np.array([model_module.__file__, learner.__file__]),
             tensorflow_first=np.array(list(sys.modules).index("tensorflow") < list(sys.modules).index("torch")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
