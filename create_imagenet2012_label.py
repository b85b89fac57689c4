#!/usr/bin/env python3
"""Label file for postprocess.py: image key -> class index of an ImageNet-layout split dir (model zoo tool).

    python create_imagenet2012_label.py --img_path DATA/val [--output imagenet_label.json]

Class index = position of the class folder in sorted order (what ImageFolderDataset and eval.py use).
The key is the image's file name without its extension, the name ascend310_infer gives its result
(``result_Files/<key>_0.bin``); images whose stems collide are keyed ``<class>@<file name>`` by both (see
src/mindzoo/data/layout.py). Exit status 2 with a one-line error if the folder is missing or holds no images.
Needs only numpy: ``import mindzoo`` is lazy and does not load MindSpore.
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from mindzoo.data import layout  # noqa: E402  (plain Python: importing it does not load MindSpore)
from mindzoo.errors import InferIOError  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description="imagenet_label.json (image key -> class index) for postprocess.py")
    parser.add_argument("--img_path", required=True, help="split dir with class subfolders, e.g. DATA/val")
    parser.add_argument("--output", default="imagenet_label.json", help="label file to write (default ./imagenet_label.json)")
    args = parser.parse_args(argv)
    try:
        labels = layout.build_label_map(args.img_path)
    except InferIOError as exc:
        print(f"create_imagenet2012_label.py: error: {exc}", file=sys.stderr)
        return exc.exit_code
    try:
        with open(args.output, "w", encoding="utf-8") as handle:
            json.dump(labels, handle)
    except OSError as exc:
        print(f"create_imagenet2012_label.py: error: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"{len(labels)} images in {len(set(labels.values()))} classes -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
