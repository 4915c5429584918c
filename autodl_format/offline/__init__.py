"""Offline tooling of autodl_format: building AutoDL datasets from raw sources (never shipped in the zip)."""
