"""Errors the command lines turn into one-line messages (exit 2: bad usage/input, exit 1: failure)."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's text (MindSpore and friends raise multi-line messages)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class MindzooError(Exception):
    """A failure with a message fit for the user; CLIs print it on one line and exit 1."""

    exit_code = 1


class UsageError(MindzooError):
    """Bad command line, config, or input data: exit 2."""

    exit_code = 2


class ConfigError(UsageError):
    """An unknown key, a value of the wrong type, or an unreadable YAML file."""


class DataError(UsageError):
    """A missing/empty dataset directory, an empty class folder, or a class-count mismatch."""


class CheckpointError(UsageError):
    """A checkpoint that does not fit the network (missing key, wrong shape, wrong num_classes)."""


class HelpRequested(Exception):
    """``-h``/``--help`` on a config command line: not an error; ``run_cli`` prints the help and exits 0."""

    def __init__(self, command: str, config_path: "str | None" = None) -> None:
        super().__init__(f"help for {command}")
        self.command = command
        self.config_path = config_path
