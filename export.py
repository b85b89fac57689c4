"""Model-zoo entry point: ``python export.py --config_path CFG --ckpt_file CKPT --file_name NAME --file_format MINDIR``.

Runs from a checkout without installing: the package is imported from ``src/``.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from mindzoo.cli.export import main  # noqa: E402  (needs the path above)

if __name__ == "__main__":
    sys.exit(main())
