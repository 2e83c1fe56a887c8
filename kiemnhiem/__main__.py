"""``python -m kiemnhiem``: the same command line as ``kiemnhiem`` (no shell needed)."""

import sys

from .cli import main

sys.exit(main())
