"""`python -m ingestion ...`: see ingestion.program."""
import sys

from ingestion.program import main

sys.exit(main())
