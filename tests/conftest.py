"""Shared test setup: mindzoo first (it sets ONEDNN_MAX_CPU_ISA before MindSpore loads), repo paths,
MindSpore's logged deprecations raised as DeprecationWarning (pytest.ini makes warnings errors)."""
import logging
import sys
import warnings
from pathlib import Path

import mindzoo  # noqa: F401  (must precede mindspore)
import pytest

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: long-running (minutes); run with -m slow or --runslow")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", default=False, help="also run tests marked slow")


#: The longest test files (``pytest --durations``, 2 workers), longest first. pytest-xdist hands whole files to its
#: workers in collection order, so a long file collected late would run alone at the end while the other worker idles.
LONGEST_FIRST = ("test_train_eval.py", "test_distributed.py", "test_bench.py", "test_infer_mindir.py", "test_export.py",
                 "test_interop.py", "test_recipes.py", "test_engine.py", "test_fixres.py", "test_deploy_demo.py",
                 "test_eval_sweep.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    position = {name: index for index, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: position.get(item.path.name, len(position)))  # stable: the rest keep their order
    if config.getoption("--runslow") or "slow" in (config.getoption("-m") or ""):
        return
    skip_slow = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


class MindSporeDeprecations(logging.Handler):
    """MindSpore reports deprecations through its own logger (``mindspore.log``: "... is deprecated from version
    ...", "... will be deprecated and removed ..."), which the warnings filters never see. Re-issue each as a
    DeprecationWarning so that pytest.ini's ``error`` filter fails the test that called the deprecated API."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "deprecated" in message:
            warnings.warn(f"MindSpore: {message}", DeprecationWarning, stacklevel=2)


@pytest.fixture(autouse=True, scope="session")
def mindspore_deprecations_are_warnings():
    from mindspore import log

    logger = log._get_logger()  # MindSpore's logger ("ME.mindspore.log.<pid>", propagate=False): private
    handler = MindSporeDeprecations()
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


@pytest.fixture(scope="module")
def graph_mode():
    """GRAPH mode for a module's in-process steps (``pytestmark = pytest.mark.usefixtures("graph_mode")``)."""
    import mindspore as ms

    previous = ms.get_context("mode")
    ms.set_context(mode=ms.GRAPH_MODE)
    yield
    ms.set_context(mode=previous)
