"""Exceptions raised by the model backends. Each message names the bad thing and what to do."""

from __future__ import annotations


class BackendError(RuntimeError):
    """Base class of the errors the model backends raise."""


class ModelLoadError(BackendError, OSError):
    """A model could not be loaded: not found locally and the hub cannot be reached, or a broken download."""


class QuantizationUnavailableError(BackendError):
    """4-bit / 8-bit loading was requested where it cannot work (no CUDA GPU, or bitsandbytes missing)."""


class HTTPBackendError(BackendError):
    """An OpenAI-compatible server answered with an error, or could not be reached.

    Attributes:
        url: The URL that was requested.
        status: The HTTP status code, or ``None`` when no answer came (connection error, timeout).
        body: The server's error message (may be empty).

    """

    def __init__(self, message: str, *, url: str, status: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.body = body


class AuthenticationError(HTTPBackendError):
    """The server rejected the API key (HTTP 401 or 403)."""


class ModelNotFoundError(HTTPBackendError):
    """The server does not serve the requested model, or the URL has no such endpoint (HTTP 404)."""


class ServerUnavailableError(HTTPBackendError):
    """The server kept failing (429, 5xx, connection errors or timeouts) after every retry."""
