"""Errors of the meta-classifier, each meant to be shown to a user as one clear line."""


class MetaDataError(RuntimeError):
    """The cached fingerprints or the catalogue in metadata/ are missing or unreadable."""


class FingerprintMismatch(RuntimeError):
    """A trained meta-classifier was made for another fingerprint network than the one running now."""


class ArtifactError(RuntimeError):
    """A saved meta-classifier is missing or damaged."""
