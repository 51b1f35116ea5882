"""``python -m ihomer.serve``: the same as ``ihomer serve``."""

import sys

from ihomer.serve.cli import main

sys.exit(main())
