"""``python -m tfbert``: the same command as the ``tfbert`` console script (see tfbert.cli)."""

import sys

from tfbert.cli import main

sys.exit(main())
