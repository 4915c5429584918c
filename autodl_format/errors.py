"""The base of this project's bad-input errors, the one exception type for bad datasets, and the one way this
project shortens any exception to the line a user sees (command-line tools end on these through autodl_format.cli
with one `error:` line instead of a traceback)."""


class BadInput(Exception):
    """What a user gave cannot be used: an argument, a file, a dataset, a configuration or a folder of earlier
    results. The message's first line names the input and the problem."""


class DatasetError(BadInput):
    """A dataset file or directory is missing or malformed. The message names the file and the problem."""


def first_line(error: BaseException) -> str:
    """The line of an exception's message that says what went wrong: the first one, unless it only introduces the
    rest (TensorFlow's "in user code:"); TensorFlow errors without their op context. "" for an empty message."""
    text = getattr(error, "message", None) or str(error)  # tf.errors.OpError: .message holds the bare message
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    if not lines:
        return ""
    return lines[-1] if lines[0].endswith(":") else lines[0]
