"""A real OpenAI-compatible chat-completions server on 127.0.0.1 for tests.

It speaks `POST /v1/chat/completions` (plain JSON, or server-sent events when the request
asks for `stream: true`) and `GET /v1/models`, on a free loopback port, in a background
thread. What it answers comes from a script the test provides:

- a list of replies, served in order (the last one repeats once the list runs out), or
- a function `request_json -> reply`.

A reply is the assistant's text (str), or a dict with any of `content`, `status`
(an HTTP error status to answer with, e.g. 429), `headers` (extra response headers, e.g.
`{"Retry-After": "1"}`), `prompt_tokens`, `completion_tokens`, `delay_s`.
`server.in_flight_max` is the most requests it was answering at once.
Every request it received is kept in `server.requests` (the decoded JSON bodies) and
`server.headers` (lower-cased HTTP headers).
litellm reaches it exactly as production reaches any OpenAI-compatible endpoint:
`model="openai/<name>", api_base=server.base_url, api_key="x"`.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

Reply = str | dict[str, Any]
Script = list[Reply] | Callable[[dict[str, Any]], Reply]


class _Server(ThreadingHTTPServer):
    request_queue_size = 512  # the stdlib's 5 makes dozens of concurrent clients wait on SYN retries
    daemon_threads = True


def _count_tokens(text: str) -> int:
    # About four characters a token: what the usage numbers of real servers look like.
    return max(1, (len(text) + 3) // 4)


class OpenAIServer:
    """A scripted chat-completions endpoint. Use as a context manager or call start/stop."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []  # the HTTP headers of each request, in the same order
        self._lock = threading.Lock()
        self._served = 0
        self.in_flight = 0
        self.in_flight_max = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._port = 0

    @property
    def port(self) -> int:
        assert self._port, "server not started"
        return self._port  # kept after stop(): a client built afterwards must find nothing there

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> "OpenAIServer":
        self._httpd = _Server(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="openai-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "OpenAIServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def next_reply(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
        with self._lock:
            self.requests.append(body)
            self.headers.append(dict(headers or {}))
            index = self._served
            self._served += 1
        if callable(self.script):
            reply = self.script(body)
        else:
            if not self.script:
                raise RuntimeError("the test server has an empty script")
            reply = self.script[min(index, len(self.script) - 1)]
        return {"content": reply} if isinstance(reply, str) else dict(reply)


def _handler_for(server: OpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
            return  # keep pytest output clean

        def _send_json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, str(value))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            if self.path.rstrip("/") == "/v1/models":
                self._send_json(200, {"object": "list", "data": [{"id": "scripted", "object": "model"}]})
            else:
                self._send_json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send_json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                return
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except json.JSONDecodeError as exc:
                self._send_json(400, {"error": {"message": f"bad JSON: {exc}", "type": "invalid_request_error"}})
                return
            with server._lock:
                server.in_flight += 1
                server.in_flight_max = max(server.in_flight_max, server.in_flight)
            try:
                reply = server.next_reply(body, {k.lower(): v for k, v in self.headers.items()})
                if reply.get("delay_s"):
                    time.sleep(float(reply["delay_s"]))
            finally:
                with server._lock:
                    server.in_flight -= 1
            if reply.get("status", 200) != 200:
                self._send_json(int(reply["status"]), {"error": {
                    "message": reply.get("content") or "scripted failure", "type": "server_error"}},
                    reply.get("headers"))
                return
            content = str(reply.get("content", ""))
            prompt_text = "".join(str(m.get("content", "")) for m in body.get("messages", []))
            usage = {
                "prompt_tokens": int(reply.get("prompt_tokens", _count_tokens(prompt_text))),
                "completion_tokens": int(reply.get("completion_tokens", _count_tokens(content))),
            }
            usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
            model = body.get("model", "scripted")
            ident = f"chatcmpl-{len(server.requests)}"
            if body.get("stream"):
                self._stream(ident, model, content, usage)
                return
            self._send_json(200, {
                "id": ident, "object": "chat.completion", "created": int(time.time()), "model": model,
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": content}}],
                "usage": usage,
            })

        def _stream(self, ident: str, model: str, content: str, usage: dict[str, int]) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            pieces = [content[i:i + 16] for i in range(0, len(content), 16)] or [""]
            for i, piece in enumerate(pieces):
                delta = {"content": piece} if i else {"role": "assistant", "content": piece}
                chunk = {"id": ident, "object": "chat.completion.chunk", "created": int(time.time()),
                         "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            last = {"id": ident, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": usage}
            self.wfile.write(f"data: {json.dumps(last)}\n\ndata: [DONE]\n\n".encode())
            self.wfile.flush()
            self.close_connection = True

    return Handler
