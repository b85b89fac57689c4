"""Model family and registry."""
from mindzoo.models import builders as _builders  # noqa: F401  (registers the named builders)
from mindzoo.data.geometry import DataConfig
from mindzoo.models.factory import create_model
from mindzoo.models.registry import get_builder, list_models, register_model
from mindzoo.models.resnet import BasicBlock, Bottleneck, ResNet, count_params

__all__ = [
    "BasicBlock", "Bottleneck", "DataConfig", "ResNet", "count_params",
    "create_model", "get_builder", "list_models", "register_model",
]
