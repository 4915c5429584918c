"""Errors of the meta-classifier, each meant to be shown to a user as one clear line."""

from autodl_format.errors import BadInput


class MetaDataError(BadInput, RuntimeError):
    """The cached fingerprints or the catalogue in metadata/ are missing or unreadable."""


class FingerprintMismatch(BadInput, RuntimeError):
    """A trained meta-classifier was made for another fingerprint network than the one running now."""


class ArtifactError(BadInput, RuntimeError):
    """A saved meta-classifier is missing or damaged."""
