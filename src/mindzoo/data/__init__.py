"""ImageNet-layout datasets and transforms shared by every model (train, eval, FixRes fine-tune, infer).

The names below are imported on first use, so ``mindzoo.data.layout`` (the folder layout, plain Python) loads
without MindSpore's dataset engine (``create_imagenet2012_label.py`` runs on inference hosts).
"""
import importlib
from typing import Any

_OWNERS = {
    "mindzoo.data.layout": ("IMAGE_EXTENSIONS", "resolve_val_dir"),
    "mindzoo.data.dataset": ("ImageFolderInfo", "auto_num_workers", "create_dataset", "validate_image_folder"),
    "mindzoo.data.geometry": ("DataConfig", "EvalGeometry", "geometry_from_config", "resolve_eval_geometry"),
    "mindzoo.data.transforms": ("check_image_file", "eval_transforms", "geometry_transforms",
                                "fixres_finetune_transforms", "preprocess_image", "train_transforms"),
}
_MODULE_OF = {name: module for module, names in _OWNERS.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    if name in _MODULE_OF:
        return getattr(importlib.import_module(_MODULE_OF[name]), name)
    raise AttributeError(f"module 'mindzoo.data' has no attribute {name!r}")
