"""The base of every error upseg raises on purpose.

Each stage raises its own subclass (``DataValidationError``, ``PolicyError``,
``ConfigError``…), with a message that names the table, column or option, what
is allowed and what was given. The command line turns any :class:`UpsegError`
into one line on standard error and its :attr:`~UpsegError.exit_code` (1, or 2
for a bad option or configuration); anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

__all__ = ["UpsegError"]


class UpsegError(Exception):
    """An error in the user's data, configuration or environment, not in upseg.

    The message is complete in itself: the command line prints it as it is.
    Subclasses that also derive from ``ValueError`` or ``RuntimeError`` keep
    working with callers that catch those.

    Attributes
    ----------
    exit_code : int
        The command line's exit status for this error: 1 for unusable data or an
        environment that refuses (the default), 2 for a bad option or configuration.
    """

    exit_code: int = 1
