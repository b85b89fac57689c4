"""Evaluation: top-1/top-5 counting over a whole split, summed across ranks."""
from mindzoo.eval.metrics import EvalResult, TopKCorrect, evaluate, improves_on, result_lines

__all__ = ["EvalResult", "TopKCorrect", "evaluate", "improves_on", "result_lines"]
