"""Command-line tools (dataset converter, quickstart, benchmarks, offline meta-learning pipeline, packager): the
top of the house; no library module imports them."""
