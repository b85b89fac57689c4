"""``python infer.py IMAGE [IMAGE...] --pretrained CKPT|MODEL.mindir|MODEL.onnx [--labels labels.txt] [--topk 5]``.

Runs from a checkout without installing: the package is imported from ``src/``.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from mindzoo.cli.infer import main  # noqa: E402  (needs the path above)

if __name__ == "__main__":
    sys.exit(main())
