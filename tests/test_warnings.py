"""The suite's warning policy (pytest.ini + conftest.py) really is in force."""
import warnings

import mindspore as ms
import pytest


def test_a_warning_is_an_error_and_there_is_no_blanket_ignore(request):
    with pytest.raises(DeprecationWarning, match="old API"):
        warnings.warn("old API", DeprecationWarning)
    with pytest.raises(UserWarning):
        warnings.warn("something odd")
    lines = [line.strip() for line in request.config.getini("filterwarnings")]
    assert lines[0] == "error"
    blanket = [line for line in lines if line.startswith("ignore") and line.split(":")[1] == ""]
    assert not blanket, f"an ignore without a message hides whole categories: {blanket}"


def test_a_deprecation_mindspore_logs_fails_the_test_that_called_it():
    with pytest.raises(DeprecationWarning, match="'device_target' will be deprecated"):
        ms.set_context(device_target="CPU")  # deprecated in 2.x: mindspore.set_device
    with pytest.raises(DeprecationWarning, match="is deprecated from version"):
        ms.log.warning("'mindzoo.example' is deprecated from version 9.9 and will be removed in a future version.")
    ms.log.warning("a MindSpore warning that is not a deprecation stays a log line")
