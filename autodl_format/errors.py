"""The one exception type for bad datasets, so callers can print a one-line message instead of a traceback."""


class DatasetError(Exception):
    """A dataset file or directory is missing or malformed. The message names the file and the problem."""
