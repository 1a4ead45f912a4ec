"""``python -m ferroftp``: the ``ferroftp`` command (see :mod:`ferroftp.cli`)."""

import sys

from ferroftp.cli import main

if __name__ == "__main__":
    sys.exit(main())
