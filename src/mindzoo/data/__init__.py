"""ImageNet-layout datasets and transforms shared by every model (train, eval, FixRes fine-tune, infer)."""
from mindzoo.data.dataset import (
    IMAGE_EXTENSIONS,
    ImageFolderInfo,
    auto_num_workers,
    create_dataset,
    validate_image_folder,
)
from mindzoo.data.geometry import DataConfig, EvalGeometry, geometry_from_config, resolve_eval_geometry
from mindzoo.data.transforms import (
    check_image_file,
    eval_transforms,
    geometry_transforms,
    fixres_finetune_transforms,
    preprocess_image,
    train_transforms,
)

__all__ = [
    "DataConfig", "EvalGeometry", "IMAGE_EXTENSIONS", "ImageFolderInfo", "auto_num_workers", "check_image_file",
    "create_dataset", "eval_transforms", "fixres_finetune_transforms", "geometry_from_config",
    "geometry_transforms", "preprocess_image", "resolve_eval_geometry", "train_transforms", "validate_image_folder",
]
