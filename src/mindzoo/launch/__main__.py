"""``python -m mindzoo.launch {ranktable,msrun,msrun-gpu,standalone,eval} ARGS`` (used by scripts/run_*.sh)."""
import sys

from mindzoo.launch.cli import main

if __name__ == "__main__":
    sys.exit(main())
