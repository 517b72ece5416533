"""A local server speaking OpenAI's Chat Completions API (`POST /v1/chat/completions`),
for tests and the scenario runner (stdlib only; shipped in the package like `wismo.testing`).

Each request takes the next `Reply` from `script` (or asks `responder`, or gets
`default`): a function call (`tool_call`), plain text (`text`), an HTTP error in OpenAI's
error shape (`error`), bytes that are not JSON (`garbage`), each optionally after a delay.
With `api_key` set, requests without `Authorization: Bearer <api_key>` get 401.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from wismo.channels import testing_http

COMPLETIONS_PATH = "/v1/chat/completions"
_CALL_IDS = itertools.count(1)


@dataclass(frozen=True)
class Reply:
    status: int = 200
    message: dict[str, Any] | None = None  # choices[0].message on a 200
    finish_reason: str = "stop"
    raw: bytes | None = None  # sent as is, instead of any JSON
    error: dict[str, Any] | None = None  # the "error" object of a non-200
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0

    @classmethod
    def tool_call(
        cls, arguments: str | dict[str, Any], *, name: str = "classify_message", **kw: Any
    ) -> Reply:
        """A function call; `arguments` a dict is encoded to the JSON string OpenAI sends,
        a str is sent as is (so a test can send broken JSON)."""
        encoded = arguments if isinstance(arguments, str) else orjson.dumps(arguments).decode()
        message = {
            "role": "assistant",
            "content": None,
            "refusal": None,
            "tool_calls": [
                {
                    "id": f"call_{next(_CALL_IDS):024d}",
                    "type": "function",
                    "function": {"name": name, "arguments": encoded},
                }
            ],
        }
        return cls(message=message, finish_reason=kw.pop("finish_reason", "tool_calls"), **kw)

    @classmethod
    def text(cls, content: str, *, finish_reason: str = "stop", **kw: Any) -> Reply:
        message = {"role": "assistant", "content": content, "refusal": None}
        return cls(message=message, finish_reason=finish_reason, **kw)

    @classmethod
    def failure(cls, status: int = 500, message: str = "The server had an error") -> Reply:
        kind = "rate_limit_exceeded" if status == 429 else "server_error"
        headers = {"Retry-After": "1"} if status == 429 else {}
        error = {"message": message, "type": kind, "param": None, "code": kind}
        return cls(status=status, error=error, headers=headers)

    @classmethod
    def garbage(cls, raw: bytes = b"<html>502 Bad Gateway</html>") -> Reply:
        return cls(raw=raw)


@dataclass(frozen=True)
class Recorded:
    headers: dict[str, str]
    body: Any


@dataclass
class ChatCompletionsServer:
    api_key: str | None = None
    port: int = 0  # 0: any free port, read back after start
    script: list[Reply] = field(default_factory=list)
    responder: Callable[[dict[str, Any]], Reply] | None = None
    default: Reply = field(default_factory=lambda: Reply.failure(500, "nothing scripted"))
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        """What `OpenAiCompatibleModel` takes: up to and including `/v1`."""
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> ChatCompletionsServer:
        server = self
        ids = itertools.count(1)
        stopping = threading.Event()
        self._stopping = stopping

        class Handler(testing_http.QuietHandler):
            def _send(self, status: int, raw: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(raw)

            def _error(self, status: int, message: str, code: str) -> None:
                error = {
                    "message": message,
                    "type": "invalid_request_error",
                    "param": None,
                    "code": code,
                }
                self._send(status, orjson.dumps({"error": error}), {})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    body = raw.decode(errors="replace")
                with server.lock:
                    server.requests.append(Recorded(dict(self.headers), body))
                if self.path.split("?")[0] != COMPLETIONS_PATH:
                    self._error(404, f"Unknown request URL: POST {self.path}", "unknown_url")
                    return
                if server.api_key and (
                    self.headers.get("Authorization") != f"Bearer {server.api_key}"
                ):
                    self._error(401, "Incorrect API key provided", "invalid_api_key")
                    return
                if (
                    not isinstance(body, dict)
                    or not body.get("model")
                    or not isinstance(body.get("messages"), list)
                ):
                    self._error(400, "'model' and 'messages' are required", "invalid_request")
                    return
                with server.lock:
                    reply = server.script.pop(0) if server.script else None
                if reply is None:
                    reply = server.responder(body) if server.responder else server.default
                if reply.delay_seconds and stopping.wait(reply.delay_seconds):
                    return
                if reply.raw is not None:
                    self._send(reply.status, reply.raw, reply.headers)
                elif reply.status != 200:
                    self._send(reply.status, orjson.dumps({"error": reply.error}), reply.headers)
                else:
                    completion = {
                        "id": f"chatcmpl-{next(ids)}",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "message": reply.message,
                                "logprobs": None,
                                "finish_reason": reply.finish_reason,
                            }
                        ],
                        "usage": {"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60},
                    }
                    self._send(200, orjson.dumps(completion), reply.headers)

        self._server, self.port = testing_http.start(Handler, self.port)
        return self

    def __exit__(self, *args: object) -> None:
        testing_http.stop(self._server, self._stopping)
