"""The client: one method per route, JSON in and out, over urllib."""

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional

from .errors import ConnectionFailed, PicketError, for_status


@dataclass
class ChatChunk:
    """One event of an OpenAI-style chat completion stream (`data: {...}` lines)."""

    data: Dict[str, Any]

    @property
    def delta(self) -> str:
        """The text this chunk adds (`choices[0].delta.content`), or ""."""
        choices = self.data.get("choices") or [{}]
        return (choices[0].get("delta") or {}).get("content") or ""


class Client:
    """A Picket daemon at `base_url`; `api_key` (a static key or a JWT) goes in every request."""

    def __init__(self, base_url: str, api_key: Optional[str] = None, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout

    # -------------------------------------------------------------------- routes

    def scan(self, text: str, direction: str = "input", policy: Optional[str] = None,
             session: Optional[str] = None, return_masked: bool = False, classify: bool = True) -> Dict[str, Any]:
        """POST /v1/scan: the report (decision, score, findings, masked text)."""
        body: Dict[str, Any] = {"text": text, "direction": direction, "return_masked": return_masked, "classify": classify}
        if policy is not None:
            body["policy"] = policy
        if session is not None:
            body["session"] = session
        return self._json("POST", "/v1/scan", body)

    def batch(self, items: List[Dict[str, Any]], direction: Optional[str] = None, policy: Optional[str] = None,
              session: Optional[str] = None) -> List[Dict[str, Any]]:
        """POST /v1/scan/batch: one result per item, in order; a failed item is `{"id", "error"}`."""
        body: Dict[str, Any] = {"items": items}
        for key, value in (("direction", direction), ("policy", policy), ("session", session)):
            if value is not None:
                body[key] = value
        answer = self._json("POST", "/v1/scan/batch", body)
        return answer["results"] if isinstance(answer, dict) and "results" in answer else answer

    def restore(self, session: str, text: str) -> str:
        """POST /v1/restore: the text with the session's placeholders put back."""
        return self._json("POST", "/v1/restore", {"session": session, "text": text})["text"]

    def packs(self) -> Dict[str, Any]:
        return self._json("GET", "/v1/packs", None)

    def ready(self) -> bool:
        """GET /readyz: True when the daemon is ready (packs compiled, model loaded)."""
        try:
            self._json("GET", "/readyz", None)
            return True
        except PicketError:
            return False

    def chat_stream(self, request: Dict[str, Any], path: str = "/v1/chat/completions") -> Iterator[ChatChunk]:
        """Streaming proxy helper: POST an OpenAI chat completion request with `stream: true` to
        Picket's proxy route and yield each `data:` event until `data: [DONE]`. An error before
        the stream starts raises the typed error; an `error` event inside the stream (Picket
        blocked the output) raises too, so a blocked completion is never read as finished."""
        body = dict(request, stream=True)
        response = self._open("POST", path, body, accept="text/event-stream")
        with response:
            for event in _sse_events(response):
                if event == "[DONE]":
                    return
                data = json.loads(event)
                if isinstance(data, dict) and "error" in data:
                    err = data["error"] if isinstance(data["error"], dict) else {"message": str(data["error"])}
                    raise PicketError(200, str(err.get("code") or "stream_error"), str(err.get("message") or ""))
                yield ChatChunk(data)

    # -------------------------------------------------------------------- plumbing

    def _json(self, method: str, path: str, body: Optional[Dict[str, Any]]) -> Any:
        with self._open(method, path, body) as response:
            return json.loads(response.read().decode("utf-8"))

    def _open(self, method: str, path: str, body: Optional[Dict[str, Any]], accept: str = "application/json"):
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"accept": accept}
        if data is not None:
            headers["content-type"] = "application/json"
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            raise _error(e) from None
        except (urllib.error.URLError, OSError) as e:
            raise ConnectionFailed(0, "connection_failed", str(getattr(e, "reason", e))) from None


def _error(e: "urllib.error.HTTPError") -> PicketError:
    code, message = "http_error", e.reason or ""
    try:
        err = json.loads(e.read().decode("utf-8"))["error"]
        code, message = err.get("code", code), err.get("message", message)
    except (ValueError, KeyError, TypeError):
        pass
    retry = e.headers.get("retry-after") if e.headers else None
    try:
        retry_after = float(retry) if retry is not None else None
    except ValueError:
        retry_after = None
    return for_status(e.code)(e.code, str(code), str(message), retry_after)


def _sse_events(stream) -> Iterator[str]:
    """The `data` of each server-sent event (multi-line data joined by newlines)."""
    lines: List[str] = []
    for raw in stream:
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if lines:
                yield "\n".join(lines)
                lines = []
            continue
        if line.startswith("data:"):
            lines.append(line[5:].lstrip(" ") if line[5:6] == " " else line[5:])
    if lines:
        yield "\n".join(lines)
