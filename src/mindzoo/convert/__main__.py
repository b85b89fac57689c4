"""``python -m mindzoo.convert``, the README's spelling of ``mindzoo-convert`` (:mod:`mindzoo.cli.convert`)."""
import sys

from mindzoo.cli.convert import main

if __name__ == "__main__":
    sys.exit(main())
