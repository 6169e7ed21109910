"""The command line: arguments, output, the live display and exit codes; nothing else."""

from .main import main

__all__ = ["main"]
