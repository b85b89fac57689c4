"""Shared test setup: mindzoo first (it sets ONEDNN_MAX_CPU_ISA before MindSpore loads), repo paths."""
import sys
from pathlib import Path

import mindzoo  # noqa: F401  (must precede mindspore)
import pytest

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: long-running (minutes); run with -m slow or --runslow")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", default=False, help="also run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    if config.getoption("--runslow") or "slow" in (config.getoption("-m") or ""):
        return
    skip_slow = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO
