"""``python -m acdc_core.lab.suite``: the ``acdc-suite`` command."""
import sys

from .command import main

if __name__ == "__main__":
    sys.exit(main())
