"""The one exception type for bad datasets, so callers can print a one-line message instead of a traceback, and
the one way this project shortens any exception to that line."""


class DatasetError(Exception):
    """A dataset file or directory is missing or malformed. The message names the file and the problem."""


def first_line(error: BaseException) -> str:
    """The line of an exception's message that says what went wrong: the first one, unless it only introduces the
    rest (TensorFlow's "in user code:"); TensorFlow errors without their op context. "" for an empty message."""
    text = getattr(error, "message", None) or str(error)  # tf.errors.OpError: .message holds the bare message
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    if not lines:
        return ""
    return lines[-1] if lines[0].endswith(":") else lines[0]
