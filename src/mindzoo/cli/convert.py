"""``mindzoo-convert`` / ``python -m mindzoo.convert``: ResNet weights of other zoos <-> mindzoo checkpoints."""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from mindzoo.cli.common import ArgumentParser
from mindzoo.weights.formats import SOURCE_FORMATS
from mindzoo.errors import MindzooError, UsageError

PROG = "mindzoo-convert"


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog=PROG,
        description="Convert ResNet/ResNeXt weights of torchvision or timm (.pth/.pt/.bin via torch.load, "
        ".safetensors), MindCV or the mindspore/models zoo (.ckpt) into a mindzoo checkpoint that records the "
        "network variant and preprocessing they need; or, with --to torchvision, a mindzoo checkpoint into a "
        "torchvision state_dict. Every key and shape must match.",
    )
    parser.add_argument("--arch", required=True, help="mindzoo model name, e.g. resnet50 or resnext50_32x4d")
    parser.add_argument("--src", required=True, help="source weights: a torch file or a MindSpore .ckpt")
    parser.add_argument("--out", required=True,
                        help="file to write: a .ckpt, or with --to torchvision a .pth/.pt/.safetensors")
    parser.add_argument(
        "--num_classes", type=int, default=None,
        help="classifier size; defaults to the source's and must match it if given (1000 for a mindspore/models "
        "1001-way ImageNet head drops its unused last row)",
    )
    parser.add_argument("--src_format", choices=SOURCE_FORMATS, default=None,
                        help="force the source format instead of detecting it from the file and its keys")
    parser.add_argument("--to", choices=("mindzoo", "torchvision"), default="mindzoo",
                        help="direction: into a mindzoo .ckpt (default) or out to a torchvision state_dict")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Run the converter; return 0 on success, 2 for bad usage or an incompatible file, 1 for other failures."""
    try:
        args = build_parser().parse_args(argv)
        if args.to == "torchvision":
            if args.src_format:
                raise UsageError("--src_format describes a source to import; --to torchvision reads a mindzoo .ckpt")
            from mindzoo.convert.converter import export_torch

            out = export_torch(args.arch, args.src, args.out, num_classes=args.num_classes)
        else:
            from mindzoo.convert.converter import convert_file

            out = convert_file(args.arch, args.src, args.out, num_classes=args.num_classes,
                               src_format=args.src_format)
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
