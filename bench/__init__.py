"""mindzoo benchmark suite: our MindSpore paths side by side with PyTorch and ONNX Runtime on the same CPU.

``python -m bench [--quick] [--only SECTION[,SECTION]]`` (or ``bash bench/run.sh``) runs the sections below,
prints one table per section and writes ``bench/results/<date>-<host>-<cpu kind>.json`` (``python -m bench
--estimate`` only prints how long that should take):

- ``train``   img/s of train.py's train step (``mindzoo.train.engine``, GRAPH mode) vs PyTorch eager
              (fp32 NCHW, channels_last, bf16 autocast, bf16 + channels_last; bf16 only on CPUs with bf16
              instructions) on the identical architecture;
- ``infer``   batch-1 latency and batch-32 throughput: MindSpore eval network (GRAPH), exported MINDIR through
              ``nn.GraphCell``, ONNX Runtime on our ONNX export, and the C++ harness (ascend310_infer);
- ``data``    ``mindspore.dataset`` train/eval pipelines on generated ImageNet-sized JPEGs, 1 and 2 workers,
              and their ratio to what the train step consumes;
- ``engine``  the training engine's host overhead: train.py's loop (``engine.fit``: JPEG pipeline, read points)
              vs its bare train step on a fixed batch, ResNet18 32x32 batch 8;
- ``lite``    (opt-in) MindSpore Lite through MindSpore's C++ API vs the ONNX Runtime C++ harness and MindSpore's
              Python MINDIR runtime, ResNet50 and ResNeXt152_64x4d (bench/lite.py).

``python -m bench.report RESULTS.json [--lang en|cn]`` prints a result file's tables as Markdown (the source of
docs/performance.md). The finished experiments (speed tuning, oneDNN profiles, the scaling sweeps, "before"
replays, eval.py's compile count over a checkpoint directory) are written up in bench/NOTES.md with their result
files; their code is in git history.

Every measurement runs in its own worker process (``python -m bench.worker``), so its first-step (compile) time
and peak RSS are its own. Workers of one comparison are kept alive together and stepped round-robin in
lockstep, one at a time, so background load on a shared machine hits every side alike; each figure is the
median over those rounds, and ratios are always taken between numbers of the same run.

The CPU decides what runs (bench/cpu.py): its kind (``avx2``, ``avx512``, ``avx512-bf16``, ``avx512-bf16-amx``)
and features go into the JSON, and a peer mode it could only emulate (PyTorch bf16 without AVX512_BF16/AMX-BF16)
is recorded as ``skipped`` instead of measured. Every worker has time limits for its setup and for each round
(bench/budget.py: a few times its expected duration on this CPU kind); one over its limit is killed with its
process group and its row gets ``error: "time limit of N s exceeded (...)"``, the rest of the run goes on. The run
has a total budget (30 minutes; ``--budget-minutes``): nothing starts that is expected to end after it.
"""

SCHEMA = "mindzoo-bench/1"
SECTIONS = ("train", "infer", "data", "engine")
OPTIONAL_SECTIONS = ("lite",)
ALL_SECTIONS = SECTIONS + OPTIONAL_SECTIONS
