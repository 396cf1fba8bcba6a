"""User-facing errors: one line, what and where, and the exit code to leave with."""

from __future__ import annotations


class HubkitError(Exception):
    """An error the user can act on; the CLI prints `str(err)` alone and exits `exit_code`."""

    exit_code = 1


class UsageError(HubkitError):
    """Bad input from the user: config, file paths, artifact names."""

    exit_code = 2


class ConfigError(UsageError):
    """One or more problems in a config file, each already formatted `file: path: problem`."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))

