"""Offline tooling of the portfolio: tuning, the performance matrix, analysis and LODO (never shipped in the zip)."""
