"""``python -m bench.profile``: where a step's time goes, from oneDNN's own per-primitive timings.

    python -m bench.profile [--framework ms|torch] [--what train|eval] [--model resnet50] [--batch 8]
                            [--size 224] [--steps 2] [--isa ISA] [--torch-mode fp32|cl|bf16|bf16_cl]
                            [--run-emulated]

Runs the step in a child process with ``ONEDNN_VERBOSE=1`` (MindSpore and PyTorch both run their convolutions,
BatchNorm, pooling and matmuls through oneDNN on CPU), takes the last step between markers and sums the
``exec`` lines by (primitive, implementation, propagation kind). Whatever the step spent outside oneDNN
(MindSpore's own elementwise/optimizer kernels, PyTorch's ATen kernels, framework overhead) is the wall time
minus that sum. ``--isa`` sets ONEDNN_MAX_CPU_ISA for the child (default: MindSpore AVX2 via mindzoo, PyTorch
ALL), which is how the AVX-512 reference-kernel trap shows up (``jit_uni_ncsp ... ref``). A bf16 ``--torch-mode``
is refused on a CPU that would emulate it (bench/cpu.py) unless ``--run-emulated``.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional, Sequence

from bench.common import PYTHON, REPO, table
from bench.cpu import CpuInfo, detect, torch_mode_skip

BEGIN, END = "@@BENCH_STEP_BEGIN@@", "@@BENCH_STEP_END@@"


def child(args: argparse.Namespace) -> None:
    if args.framework == "ms":
        if args.what == "train":
            from bench.train import MsTrain

            task: Any = MsTrain(args.model, args.batch, args.size, threads=args.threads, warmup=0)
        else:
            from bench.infer import MsEval

            task = MsEval(size=args.size, batch=0, latency_iters=1, warmup=0, threads=args.threads,
                          model=args.model, num_classes=1000, ckpt=None, fold_bn=args.fold_bn)
    else:
        from bench.train import TorchTrain

        task = TorchTrain(args.model, args.batch, args.size, threads=args.threads, mode=args.torch_mode, warmup=0)
    if args.what == "eval" and args.framework == "ms":
        task.load()
        from bench.infer import fixed_input

        x = fixed_input(args.batch, args.size)
        run = lambda: task.run(x)  # noqa: E731
    elif args.what == "eval":
        import torch

        task.setup()
        task.net.eval()
        x = task.x

        def run() -> None:
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=task.bf16):
                task.net(x)
    else:
        task.setup()
        run = task._run
    run()
    for _ in range(args.steps):
        print(BEGIN, flush=True)
        t0 = time.perf_counter()
        run()
        wall = time.perf_counter() - t0
        print(END, flush=True)
        print(f"@@BENCH_WALL@@ {wall}", flush=True)


def conv_kind(desc: str) -> str:
    """'grouped' (g>1), '1x1' or 'kxk' from a oneDNN problem descriptor like g64mb8_ic256oc256_ih56...kh3..."""
    m = re.match(r"g(\d+)", desc)
    if m and int(m.group(1)) > 1:
        return "grouped"
    kh = re.search(r"kh(\d+)", desc)
    kw = re.search(r"kw(\d+)", desc)
    if kh and kh.group(1) == "1" and (not kw or kw.group(1) == "1"):
        return "1x1"
    return "kxk" if kh else ""


def parse(lines: Sequence[str]) -> Dict[str, Any]:
    text_steps: List[List[str]] = []
    walls: List[float] = []
    current: Optional[List[str]] = None
    isa = runtime = None
    for line in lines:
        if line.startswith(BEGIN):
            current = []
        elif line.startswith(END):
            if current is not None:
                text_steps.append(current)
            current = None
        elif line.startswith("@@BENCH_WALL@@"):
            walls.append(float(line.split()[1]))
        elif line.startswith("onednn_verbose") and ",info,cpu,isa:" in line:
            isa = line.split("isa:", 1)[1].strip()
        elif line.startswith("onednn_verbose") and ",info,cpu,runtime:" in line:
            runtime = line.split("runtime:", 1)[1].strip()
        elif current is not None and line.startswith("onednn_verbose") and ",exec," in line:
            current.append(line)
    if not text_steps:
        raise RuntimeError("no profiled step found in the child's output")
    agg: Dict[tuple, List[float]] = collections.defaultdict(lambda: [0, 0.0])
    for line in text_steps[-1]:
        p = line.strip().split(",")
        i = p.index("exec")
        key = (p[i + 2], p[i + 3], p[i + 4], conv_kind(p[-2]) if p[i + 2] == "convolution" else "")
        agg[key][0] += 1
        agg[key][1] += float(p[-1])
    wall_ms = walls[-1] * 1000
    onednn_ms = sum(v[1] for v in agg.values())
    rows = [{"primitive": k[0], "implementation": k[1], "propagation": k[2], "shape": k[3], "calls": int(v[0]),
             "ms": round(v[1], 1), "share_of_step": round(v[1] / wall_ms, 3)}
            for k, v in sorted(agg.items(), key=lambda kv: -kv[1][1])]
    return {"isa": isa, "runtime": runtime, "wall_ms": round(wall_ms, 1), "onednn_ms": round(onednn_ms, 1),
            "outside_onednn_ms": round(wall_ms - onednn_ms, 1), "rows": rows}


def emulated_refusal(framework: str, torch_mode: str, cpu: CpuInfo) -> Optional[str]:
    """Why profiling this mode here would profile an emulation (and take hours), if it would."""
    skip = torch_mode_skip(torch_mode, cpu) if framework == "torch" else None
    if not skip:
        return None
    return f"--torch-mode {torch_mode} on {cpu.describe()}: {skip.text}; pass --run-emulated to profile it anyway"


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    parser.add_argument("--framework", choices=("ms", "torch"), default="ms")
    parser.add_argument("--what", choices=("train", "eval"), default="train")
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--isa", default="")
    parser.add_argument("--torch-mode", default="fp32")
    parser.add_argument("--fold-bn", action="store_true", help="MindSpore eval: fold BN into the convs first")
    parser.add_argument("--json", default="", help="also write the breakdown here")
    parser.add_argument("--run-emulated", action="store_true",
                        help="profile a bf16 --torch-mode even on a CPU without AVX512_BF16/AMX-BF16 (emulated: hours)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.threads:
        args.threads = len(os.sched_getaffinity(0))
    if args.child:
        child(args)
        return 0
    refusal = emulated_refusal(args.framework, args.torch_mode, detect())
    if refusal and not args.run_emulated:
        print(f"error: {refusal}", file=sys.stderr)
        return 2
    env = dict(os.environ, ONEDNN_VERBOSE="1", PYTHONPATH=str(REPO))
    if args.isa:
        env["ONEDNN_MAX_CPU_ISA"] = args.isa
    elif args.framework == "torch":
        env["ONEDNN_MAX_CPU_ISA"] = "ALL"
    cmd = [PYTHON, "-m", "bench.profile", "--child", *(argv if argv is not None else sys.argv[1:])]
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(REPO))
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        return proc.returncode
    result = parse(proc.stdout.splitlines())
    result.update({"framework": args.framework, "what": args.what, "model": args.model, "batch": args.batch,
                   "size": args.size, "threads": args.threads, "load_average": [round(x, 2) for x in os.getloadavg()]})
    print(f"{args.framework} {args.what} {args.model} batch {args.batch} {args.size}x{args.size}, {args.threads} threads, "
          f"oneDNN isa: {result['isa']}, runtime: {result['runtime']}, load average {result['load_average']}")
    print(table(["primitive", "implementation", "propagation", "conv shape", "calls", "ms", "share"],
                [(r["primitive"], r["implementation"], r["propagation"], r["shape"], r["calls"], r["ms"],
                  r["share_of_step"])
                 for r in result["rows"]]))
    print(f"step wall {result['wall_ms']:.0f} ms = oneDNN {result['onednn_ms']:.0f} ms + outside oneDNN "
          f"{result['outside_onednn_ms']:.0f} ms ({result['outside_onednn_ms'] / result['wall_ms']:.0%})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
