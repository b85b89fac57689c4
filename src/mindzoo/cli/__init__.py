"""Command-line entry points; the top-level train.py/eval.py/export.py are thin wrappers over these."""
