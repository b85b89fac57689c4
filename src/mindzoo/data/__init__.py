"""ImageNet-layout datasets and transforms shared by every model (train, eval, FixRes fine-tune, infer)."""
from mindzoo.data.dataset import (
    IMAGE_EXTENSIONS,
    ImageFolderInfo,
    auto_num_workers,
    create_dataset,
    dataset_size_images,
    validate_image_folder,
)
from mindzoo.data.transforms import (
    check_image_file,
    eval_geometry,
    eval_transforms,
    fixres_finetune_transforms,
    preprocess_image,
    train_transforms,
)

__all__ = [
    "IMAGE_EXTENSIONS", "ImageFolderInfo", "auto_num_workers", "check_image_file", "create_dataset",
    "dataset_size_images", "eval_geometry", "eval_transforms", "fixres_finetune_transforms", "preprocess_image",
    "train_transforms", "validate_image_folder",
]
