"""Evaluation: top-k counting (``metrics``), one compiled graph over many checkpoints (``sweep``), eval.py's run
(``run``).

Nothing is imported here, so ``mindzoo.eval.run`` checks a command line before MindSpore loads.
"""
