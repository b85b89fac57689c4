"""Errors the command lines turn into one-line messages (exit 2: bad usage/input, exit 1: failure)."""


def first_line(exc: BaseException) -> str:
    """The message line of an exception's multi-line text (MindSpore and friends raise such).

    MindSpore's dataset errors bury the message in an ``[ERROR] ...`` line after a header, and its C++ errors
    follow the message with ``----`` separated call stacks: the ``[ERROR]`` line wins, else the first line
    that is not a separator.
    """
    lines = [line.strip() for line in str(exc).splitlines() if line.strip() and not line.lstrip().startswith("--")]
    for line in lines:
        if line.startswith("[ERROR]"):
            return line[len("[ERROR]"):].strip()
    return lines[0] if lines else type(exc).__name__


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


class UnknownModelError(ConfigError, ValueError):
    """A ``net_name`` the registry does not have: one line for the command lines, a ValueError for library callers."""


class InferIOError(UsageError):
    """Bad input to the deployment scripts (a :class:`mindzoo.errors.UsageError`): one line, exit 2."""
