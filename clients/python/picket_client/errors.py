"""Typed errors: one class per kind of failure a caller handles differently."""

from typing import Optional


class PicketError(Exception):
    """A request Picket refused or could not serve."""

    def __init__(self, status: int, code: str, message: str, retry_after: Optional[float] = None):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


class BadRequest(PicketError):
    """400/415/422: the request is malformed (bad JSON, wrong shape, unknown policy)."""


class Unauthorized(PicketError):
    """401: missing or invalid API key, token or client certificate."""


class Forbidden(PicketError):
    """403: the credential lacks the route's scope."""


class NotFound(PicketError):
    """404: no such route, or a restore session unknown to the caller's tenant."""


class PayloadTooLarge(PicketError):
    """413: body, text or batch over the server's limits."""


class Overloaded(PicketError):
    """429: load shed; `retry_after` holds the server's Retry-After in seconds."""


class ServerError(PicketError):
    """5xx: timeout, not ready, or an internal error."""


class ConnectionFailed(PicketError):
    """The daemon could not be reached (status 0)."""


def for_status(status: int):
    if status == 401:
        return Unauthorized
    if status == 403:
        return Forbidden
    if status == 404:
        return NotFound
    if status == 413:
        return PayloadTooLarge
    if status == 429:
        return Overloaded
    if status >= 500:
        return ServerError
    return BadRequest
