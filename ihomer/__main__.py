"""``python -m ihomer`` is the ``ihomer`` command."""

import sys

from ihomer.cli import main

sys.exit(main())
