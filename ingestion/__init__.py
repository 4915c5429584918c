"""The AutoDL ingestion program (protocol section 3): `python -m ingestion --help`.

Library entry point: ingestion.program.run_ingestion -> ingestion.summary.IngestionSummary.
"""
