"""Offline tooling of the meta-classifier: evaluation, BOHB tuning, dataset variants (never shipped in the zip)."""
