"""mindzoo benchmark suite: our MindSpore paths side by side with PyTorch and ONNX Runtime on the same CPU.

``python -m bench [--quick] [--only SECTION[,SECTION]]`` (or ``bash bench/run.sh``) runs the sections, prints their
tables and writes ``bench/results/<date>-<host>-<cpu kind>.json``; ``--estimate`` only prints how long that takes.
``train`` (train.py's train step vs PyTorch eager), ``infer`` (batch-1 latency and batch-32 throughput of the eval
network, the exported MINDIR, ONNX Runtime and the C++ harness), ``data`` (``mindspore.dataset`` pipelines) and
``engine`` (train.py's loop vs its bare step) run by default; ``lite`` (MindSpore Lite's C++ path) on request.
``python -m bench.report RESULTS.json [--lang en|cn]`` renders a result file as docs/performance.md's tables.

Every measurement runs in its own worker process; the workers of one comparison are stepped round-robin in
lockstep and every ratio is taken within one run. The CPU's kind decides what is skipped (bench/cpu.py), every
worker has time limits and the run a budget (bench/budget.py). bench/NOTES.md explains how to read the numbers
and writes up the finished experiments, whose code is in git history.
"""

SCHEMA = "mindzoo-bench/1"
SECTIONS = ("train", "infer", "data", "engine")
OPTIONAL_SECTIONS = ("lite",)
ALL_SECTIONS = SECTIONS + OPTIONAL_SECTIONS
