"""Typed errors and warnings of the library; the web layer maps them to HTTP statuses."""

from __future__ import annotations


class ExplainlabError(Exception):
    """Base of every error the library raises on purpose."""


class UnknownNameError(ExplainlabError, KeyError):
    """A registry key that does not exist; the message lists the valid keys."""

    def __init__(self, family: str, name: str, valid: list[str]) -> None:
        self.family, self.name, self.valid = family, name, valid
        super().__init__(f"unknown {family} {name!r}; valid: {', '.join(valid)}")

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class IncompatibleError(ExplainlabError):
    """A valid request that cannot run on this model or input (e.g. Grad-CAM without a conv layer)."""


class CheckpointError(ExplainlabError):
    """A stored model that is missing, malformed or does not match its card."""


class DataNotFoundError(ExplainlabError, FileNotFoundError):
    """A dataset that is not on disk and cannot be downloaded; the message says which files go where."""


class DataIntegrityError(ExplainlabError):
    """A dataset file whose checksum or header does not match."""


class InvalidInputError(ExplainlabError, ValueError):
    """Input from outside (an uploaded image, a request value) that is refused; ``field`` names what was wrong."""

    def __init__(self, message: str, field: str | None = None, code: str = "invalid_input") -> None:
        self.field, self.code = field, code  # code: invalid_input, too_large, unsupported_format, corrupt
        super().__init__(message)


class ExplainlabWarning(UserWarning):
    """Base of the soft problems the library reports (see docs/checks.md)."""
