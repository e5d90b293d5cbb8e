"""Python client for Picket's HTTP API (docs/http-api.md), standard library only.

    from picket_client import Client
    c = Client("http://127.0.0.1:8080", api_key="...")
    report = c.scan("mail alice@example.com", direction="input", session="chat-1")
    c.restore("chat-1", "I wrote to <EMAIL_1>")

Errors are typed: every non-2xx answer raises a subclass of `PicketError` carrying the
status, the API's error `code` and `message` (never the scanned text).
"""

from .client import Client, ChatChunk
from .errors import (
    PicketError,
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    Overloaded,
    ServerError,
    ConnectionFailed,
)

__all__ = [
    "Client",
    "ChatChunk",
    "PicketError",
    "BadRequest",
    "Unauthorized",
    "Forbidden",
    "NotFound",
    "PayloadTooLarge",
    "Overloaded",
    "ServerError",
    "ConnectionFailed",
]
