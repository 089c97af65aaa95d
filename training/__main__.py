"""Entry point of ``python -m training``."""

import sys

from .cli import main

sys.exit(main())
