"""The exception tree: every error a user can hit says what happened and what to do.

Subclassing the builtin that fits (``ValueError``, ``ImportError``...) keeps ``except
ValueError`` in user code working, while ``except ShortlistError`` catches all of ours.
"""

from __future__ import annotations


class ShortlistError(Exception):
    """Base class of every error raised by shortlist."""


class InvalidInputError(ShortlistError, ValueError):
    """Bad arguments or data: the message names the offending value and the fix."""


class TrainingDataError(InvalidInputError):
    """Training data for ``shortlist tune`` is unusable; the message names the file and line."""


class MissingDependencyError(ShortlistError, ImportError):
    """An optional dependency is not installed; the message gives the pip command."""


class ModelNotFoundError(ShortlistError, OSError):
    """A model could not be resolved locally and the hub is unreachable or disabled."""


class UnsafeModelError(ShortlistError, ValueError):
    """A model folder holds only pickle weights (``*.bin``/``*.pt``/``*.pkl``), which can run
    code when loaded; shortlist loads safetensors only."""


class UnknownBackendError(InvalidInputError):
    """A reranker or index spec names a backend that does not exist."""


class IndexFormatError(ShortlistError):
    """An index directory is missing, corrupt, or written by an incompatible version."""


class IndexWriteError(ShortlistError, OSError):
    """Saving failed (disk full, permissions...); the index previously saved there is intact."""


class EncoderMismatchError(ShortlistError, ValueError):
    """The query encoder differs from the one the index was built with."""


class ExportParityError(ShortlistError):
    """An exported ONNX graph does not score like the torch model it was exported from.

    Raised instead of writing a folder that would rank wrong without a word:
    ``max_difference`` is the largest |logit| difference measured, ``tolerance`` the bar.
    """

    def __init__(self, message: str, *, max_difference: float, tolerance: float) -> None:
        super().__init__(message)
        self.max_difference = max_difference
        self.tolerance = tolerance


class RerankerAPIError(ShortlistError):
    """A remote reranking API failed; ``status_code`` is the HTTP status if any."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class AuthenticationError(RerankerAPIError):
    """The API key was missing or rejected."""


class RateLimitError(RerankerAPIError):
    """The API kept answering 429; ``retry_after`` is the server's hint in seconds."""

    def __init__(
        self, message: str, *, status_code: int | None = 429, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after


class RerankerRequestError(RerankerAPIError, InvalidInputError):
    """The API rejected the request itself (HTTP 400/422): fix the input, do not retry.

    It is both a :class:`RerankerAPIError` (it came from the API) and an
    :class:`InvalidInputError` (``ValueError``): the server's message says what to change.
    """


class RerankerTimeoutError(RerankerAPIError, TimeoutError):
    """The API did not answer within the configured timeout."""
