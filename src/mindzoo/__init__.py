"""mindzoo: ResNet / ResNeXt / FixRes ImageNet classifiers on MindSpore.

``_onednn`` is imported first on purpose: it must set ``ONEDNN_MAX_CPU_ISA`` before MindSpore loads.
"""
from mindzoo import _onednn  # noqa: F401  (must precede any MindSpore import)
from mindzoo.models import DataConfig, ResNet, count_params, create_model, list_models

__version__ = "0.1.0"
__all__ = ["DataConfig", "ResNet", "count_params", "create_model", "list_models", "__version__"]
