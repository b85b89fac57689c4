"""mindzoo benchmark suite: our MindSpore paths side by side with PyTorch and ONNX Runtime on the same CPU.

``python -m bench [--quick] [--only SECTION[,SECTION]] [--estimate]`` (or ``bash bench/run.sh``) runs the sections
``train``, ``infer``, ``data``, ``engine`` (and, on request, ``lite``) and writes ``bench/results/<date>-<host>-<cpu
kind>.json``; ``python -m bench.report FILE [--lang cn]`` renders it as docs/performance.md's tables. Every
measurement runs in its own worker process, the workers of one comparison in lockstep, every ratio within one run;
the CPU's kind decides what is skipped, and every worker has time limits. bench/NOTES.md explains how to read the
numbers and writes up the finished experiments (tuning, profiles, scaling, "before" replays, eval.py's compile
count over a checkpoint directory), whose code is in git history.
"""

SCHEMA = "mindzoo-bench/1"
SECTIONS = ("train", "infer", "data", "engine")
OPTIONAL_SECTIONS = ("lite",)
ALL_SECTIONS = SECTIONS + OPTIONAL_SECTIONS
