"""``python -m regua``: the ``regua`` command line (see `regua.cli`)."""

import sys

from regua.cli import main

if __name__ == "__main__":
    sys.exit(main())
