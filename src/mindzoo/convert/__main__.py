"""``mindzoo-convert`` / ``python -m mindzoo.convert``: torch ResNet weights -> MindSpore checkpoint."""
from __future__ import annotations

import argparse
import sys
from typing import List, NoReturn, Optional

from mindzoo.cli.common import HelpFormatter
from mindzoo.errors import MindzooError, UsageError

PROG = "mindzoo-convert"


class _Parser(argparse.ArgumentParser):
    """Raise instead of exiting, so ``main`` reports every usage error the same way and returns 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Convert a torchvision or timm ResNet/ResNeXt state_dict (.pth/.pt via torch.load, or "
        ".safetensors) into a MindSpore checkpoint for a mindzoo model. Every key and shape must match.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--arch", required=True, help="mindzoo model name, e.g. resnet50 or resnext50_32x4d")
    parser.add_argument("--src", required=True, help="torch state_dict file (.pth, .pt, .bin or .safetensors)")
    parser.add_argument("--out", required=True, help="MindSpore checkpoint to write (.ckpt)")
    parser.add_argument(
        "--num_classes", type=int, default=None,
        help="classifier size; defaults to the one in the state_dict and must match it if given",
    )
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Run the converter; return 0 on success, 2 for bad usage or an incompatible file, 1 for other failures."""
    try:
        args = build_parser().parse_args(argv)
        from mindzoo.convert.torch_to_ms import convert_file

        out = convert_file(args.arch, args.src, args.out, num_classes=args.num_classes)
    except MindzooError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {out} ({args.arch}) from {args.src}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
