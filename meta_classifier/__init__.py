"""Which known dataset does a new one resemble: fingerprints, precalculation layer, classifiers, BOHB tuning."""
import autodl_format.frameworks  # noqa: F401  first: torch and TensorFlow in a safe order, whatever came before
