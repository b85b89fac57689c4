#!/usr/bin/env python3
"""Top-1/top-5 accuracy of the C++ harness's results (the model zoo's ascend310 postprocess).

    python postprocess.py --result_path result_Files --label_path imagenet_label.json [--dtype float32]
                          [--num_classes N] [--acc_log acc.log]

Reads every ``<key>_0.bin`` in --result_path with the dtype/shape of ``result_Files/meta.json`` (written by
``ascend310_infer``; --dtype/--num_classes are for results without it, and must agree with it otherwise),
looks each key up in the label file (``create_imagenet2012_label.py``), prints and writes ``acc.log``:

    Total data: N, top1 accuracy: a, top5 accuracy: b.

Exit status 2 with a one-line error for a missing directory or label file, a .bin whose size does not fit
the shape, a result without a label, or results that do not match meta.json's list.
Needs only numpy: ``import mindzoo`` is lazy and does not load MindSpore.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from mindzoo.deploy import harness_files  # noqa: E402  (numpy only: importing it does not load MindSpore)
from mindzoo.errors import InferIOError  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="top-1/top-5 accuracy of ascend310_infer results -> acc.log")
    parser.add_argument("--result_path", required=True, help="result_Files directory of the harness")
    parser.add_argument("--label_path", required=True, help="imagenet_label.json (image key -> class index)")
    parser.add_argument("--dtype", default=None, help="result dtype if there is no meta.json (default float32)")
    parser.add_argument("--num_classes", type=int, default=None,
                        help="logits per result if there is no meta.json (default: from the file size)")
    parser.add_argument("--acc_log", default="acc.log", help="where to write the accuracy line (default ./acc.log)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        labels = harness_files.load_label_map(args.label_path)
        results, dtype, num_classes = harness_files.load_results(args.result_path, args.dtype, args.num_classes)
        total, (top1, top5) = harness_files.accuracy(results, labels, ks=(1, 5))
    except InferIOError as exc:
        print(f"postprocess.py: error: {exc}", file=sys.stderr)
        return exc.exit_code
    line = harness_files.acc_line(total, top1, top5)
    print(f"read {total} results ({dtype}, {num_classes} classes) from {args.result_path}")
    print(line)
    try:
        with open(args.acc_log, "w", encoding="utf-8") as handle:
            handle.write(line + "\n")
    except OSError as exc:
        print(f"postprocess.py: error: cannot write {args.acc_log}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
