"""mindzoo: ResNet / ResNeXt / FixRes ImageNet classifiers on MindSpore.

``_onednn`` is imported first on purpose: it must set ``ONEDNN_MAX_CPU_ISA`` before MindSpore loads.
The model API is imported lazily, so numpy-only tools (``postprocess.py``, ``mindzoo.deploy.harness_files``) do not
pay for importing MindSpore.
"""
from typing import Any

from mindzoo import _onednn  # noqa: F401  (must precede any MindSpore import)

__version__ = "0.1.0"
__all__ = ["DataConfig", "ResNet", "count_params", "create_model", "list_models", "__version__"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from mindzoo import models

        return getattr(models, name)
    raise AttributeError(f"module 'mindzoo' has no attribute {name!r}")
