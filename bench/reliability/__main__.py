"""`python -m bench.reliability`: run every scenario (see runner.py)."""

import sys

from bench.reliability.runner import main

sys.exit(main())
