"""What the trainer refuses, as exceptions the CLI prints in one line (exit status 2)."""


class RunError(ValueError):
    """A run folder cannot be used as asked; the message names the file or option and the fix."""


class ResumeError(RunError):
    """A run folder cannot be resumed with the given configuration."""


class RunFolderBusy(RunError):
    """Another droplab process owns the run folder."""
