"""`python -m bench.serve`: run the serving benchmark (see runner.py)."""

import sys

from bench.serve.runner import main

sys.exit(main())
