"""Entry point: ``python -m scoring --solution_dir S --prediction_dir P --score_dir O`` (see scoring.program)."""

import sys

from scoring.program import main

sys.exit(main())
