"""Which known dataset does a new one resemble: fingerprints, precalculation layer, classifiers (run time, shipped in
the zip); evaluation, BOHB tuning and dataset variants in meta_classifier.offline."""
import autodl_format.frameworks  # noqa: F401  first: torch and TensorFlow in a safe order, whatever came before
