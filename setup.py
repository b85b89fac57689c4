"""Packaging for mindzoo: a MindSpore-native ImageNet classification model zoo."""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent

setup(
    name="mindzoo",
    version="0.1.0",
    description="ResNet / ResNeXt / FixRes ImageNet classifiers on MindSpore: train, eval, export, deploy",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.9,<3.12",
    package_dir={"": "src"},
    packages=find_packages("src"),
    package_data={"mindzoo": ["configs/*.yaml"]},
    install_requires=[
        "mindspore==2.10.0",
        # MindSpore 2.10's dataset engine fails to iterate with numpy 2 ("Unable to avoid copy").
        "numpy<2",
        "ml_dtypes<0.6",
        "psutil",  # the msrun supervisor maps worker pids to ranks
        "pyyaml",
        "pillow",
        "onnx",
        # The C++ harness links this wheel's library and the docs' ORT and INT8 numbers were measured with it;
        # a new release may change both.
        "onnxruntime==1.32.0",
        "sympy",  # onnxruntime.quantization.quant_pre_process (INT8 export) needs it; onnxruntime does not require it
        "matplotlib",
        "scikit-learn",
    ],
    extras_require={
        # tqdm is what MindCV needs at run time. MindCV itself (mindcv==0.3.0, the peer of tests/test_interop.py)
        # is installed by scripts/test.sh with `pip install --no-deps`, which install_requires cannot express; so is
        # timm (timm==1.0.31, the reference of tests/test_recipes.py), whose torchvision dependency would replace torch.
        # pytest is pinned: tests/test_disk_policy.py asserts the exact clean-up of its tmp_path retention
        # (pytest.ini), which a release may change.
        "test": ["pytest==9.2.0", "pytest-timeout", "pytest-xdist", "tqdm", "import-linter"],
        # Only for weight import and reference/parity tests; the pin keeps pip on the CPU wheel.
        "torch": ["torch==2.13.0", "safetensors"],
    },
    entry_points={
        "console_scripts": [
            "mindzoo-train=mindzoo.cli.train:main",
            "mindzoo-eval=mindzoo.cli.eval:main",
            "mindzoo-export=mindzoo.cli.export:main",
            "mindzoo-convert=mindzoo.cli.convert:main",
        ]
    },
)
