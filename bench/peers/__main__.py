"""`python -m bench.peers`: the side-by-side accuracy benchmark (see runner.py)."""

import sys

from bench.peers.runner import main

sys.exit(main())
