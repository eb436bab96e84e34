"""An OpenAI-compatible HTTP server around any :class:`CodeGenerator` (what ``codegym serve`` runs).

Endpoints: ``GET /v1/models``, ``GET /health``, ``POST /v1/completions`` (``prompt`` a string or a list)
and ``POST /v1/chat/completions``. Sampling fields: ``n``, ``temperature`` (default 1.0, as in OpenAI's
API), ``max_tokens``, ``seed``, ``stop``. Streaming and log-probabilities are not supported.

Concurrent requests are micro-batched: a single worker thread takes the first waiting request, collects
others with the same sampling parameters for up to ``max_wait`` seconds (at most ``max_batch`` prompts),
and answers them with one ``generate`` call. Many clients (or one
:class:`~codegym.backends.openai_compat.OpenAICompatibleGenerator` with ``max_concurrency > 1``) therefore
share the model's batching.

Only the standard library is used: ``http.server.ThreadingHTTPServer``. It binds 127.0.0.1 by default and
has no TLS; put it behind a proxy to expose it.
"""

from __future__ import annotations

import collections
import json
import queue
import threading
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from codegym.backends.base import CodeGenerator


class RequestError(ValueError):
    """A client error: answered with ``status`` and an OpenAI-style error body."""

    def __init__(self, message: str, status: int = 400, code: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass
class _Job:
    chat: bool
    inputs: list[Any]  # prompts (str) or conversations (lists of messages)
    params: tuple[int, float, int, int | None, tuple[str, ...]]  # n, temperature, max_tokens, seed, stop
    future: Future = field(default_factory=Future)


def supports_chat_template(generator: CodeGenerator) -> bool:
    """Return True if ``generator`` can render whole conversations (an HF model with a chat template)."""
    tokenizer = getattr(generator, "tokenizer", None)
    return callable(getattr(generator, "generate_chat", None)) and bool(
        getattr(tokenizer, "chat_template", None)
    )


class MicroBatcher:
    """Group concurrent requests with equal sampling parameters into one ``generate`` call."""

    def __init__(self, generator: CodeGenerator, max_batch: int = 64, max_wait: float = 0.01) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        if max_wait < 0:
            raise ValueError(f"max_wait must be >= 0 seconds, got {max_wait}")
        self.generator = generator
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.calls = 0  # generate calls made (for tests and logs)
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="codegym-batcher", daemon=True)
        self._thread.start()

    def submit(self, job: _Job) -> list[list[str]]:
        """Queue ``job`` and wait for its completions."""
        self._queue.put(job)
        return job.future.result()

    def close(self) -> None:
        """Stop the worker thread after the queued jobs."""
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        pending: collections.deque[_Job] = collections.deque()
        stopping = False
        while True:
            if pending:
                first = pending.popleft()
            elif stopping:
                return
            else:
                got = self._queue.get()
                if got is None:
                    return
                first = got
            group, size = [first], len(first.inputs)
            key = (first.chat, first.params)
            kept: collections.deque[_Job] = collections.deque()
            for job in pending:
                if (job.chat, job.params) == key and size + len(job.inputs) <= self.max_batch:
                    group.append(job)
                    size += len(job.inputs)
                else:
                    kept.append(job)
            pending = kept
            deadline = time.monotonic() + self.max_wait
            while size < self.max_batch and not stopping:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    job = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                elif (job.chat, job.params) == key and size + len(job.inputs) <= self.max_batch:
                    group.append(job)
                    size += len(job.inputs)
                else:
                    pending.append(job)
            self._run(group)

    def _run(self, group: list[_Job]) -> None:
        n, temperature, max_tokens, seed, stop = group[0].params
        inputs = [x for job in group for x in job.inputs]
        kwargs = {
            "n": n,
            "temperature": temperature,
            "max_new_tokens": max_tokens,
            "seed": seed,
            "stop": stop,
        }
        try:
            self.calls += 1
            if group[0].chat:
                outputs = self.generator.generate_chat(inputs, **kwargs)  # type: ignore[attr-defined]
            else:
                outputs = self.generator.generate(inputs, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting request threads
            for job in group:
                job.future.set_exception(exc)
            return
        start = 0
        for job in group:
            job.future.set_result(outputs[start : start + len(job.inputs)])
            start += len(job.inputs)


def _parse_params(
    body: Mapping[str, Any], default_max_tokens: int
) -> tuple[int, float, int, int | None, tuple]:
    def number(key: str, default: Any, kind: type) -> Any:
        value = body.get(key, default)
        if value is None:
            value = default
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RequestError(f"'{key}' must be a number, got {value!r}")
        if kind is int and float(value) != int(value):
            raise RequestError(f"'{key}' must be an integer, got {value!r}")
        return kind(value)

    n = number("n", 1, int)
    temperature = number("temperature", 1.0, float)
    max_tokens = number("max_tokens", body.get("max_completion_tokens", default_max_tokens), int)
    seed = body.get("seed")
    if seed is not None:
        seed = number("seed", 0, int)
    stop = body.get("stop") or []
    if isinstance(stop, str):
        stop = [stop]
    if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
        raise RequestError(f"'stop' must be a string or a list of strings, got {stop!r}")
    if n < 1 or temperature < 0 or max_tokens < 1:
        raise RequestError(
            f"need n >= 1, temperature >= 0, max_tokens >= 1; got {n}, {temperature}, {max_tokens}"
        )
    return n, temperature, max_tokens, seed, tuple(stop)


class OpenAIRequestHandler(BaseHTTPRequestHandler):
    """Answers the OpenAI-style endpoints for ``self.server.app`` (a :class:`CodeGymServer`)."""

    server: CodeGymServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - BaseHTTPRequestHandler's name
        """Log requests only when the server was started verbose."""
        if self.server.verbose:
            super().log_message(format, *args)

    def _send(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, code: str = "invalid_request_error") -> None:
        self._send(status, {"error": {"message": message, "type": code, "code": code}})

    def _authorised(self) -> bool:
        key = self.server.api_key
        if not key:
            return True
        if self.headers.get("Authorization", "") == f"Bearer {key}":
            return True
        self._error(401, "missing or wrong API key (send 'Authorization: Bearer <key>')", "invalid_api_key")
        return False

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        """Serve ``/health`` and ``/v1/models``."""
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/health":
            self._send(200, {"status": "ok"})
        elif path == "/v1/models":
            if self._authorised():
                model = {"id": self.server.model_name, "object": "model", "created": 0, "owned_by": "codegym"}
                self._send(200, {"object": "list", "data": [model]})
        else:
            self._error(404, f"no endpoint GET {path}; try /v1/models", "not_found")

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        """Serve ``/v1/completions`` and ``/v1/chat/completions``."""
        path = self.path.split("?", 1)[0].rstrip("/")
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if path not in ("/v1/completions", "/v1/chat/completions"):
            self._error(
                404, f"no endpoint POST {path}; use /v1/completions or /v1/chat/completions", "not_found"
            )
            return
        if not self._authorised():
            return
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise RequestError("the request body must be a JSON object")
            self._send(200, self.server.complete(body, chat=path.endswith("chat/completions")))
        except json.JSONDecodeError as exc:
            self._error(400, f"the request body is not valid JSON: {exc}")
        except RequestError as exc:
            self._error(exc.status, str(exc), exc.code)
        except ValueError as exc:  # the generator rejected an argument (prompt too long, ...)
            self._error(400, str(exc))
        except Exception as exc:  # noqa: BLE001 - reported to the client as a server error
            self._error(500, f"{type(exc).__name__}: {exc}", "server_error")


class CodeGymServer(ThreadingHTTPServer):
    """A threading HTTP server answering OpenAI-style requests with a :class:`CodeGenerator`.

    Args:
        address: ``(host, port)``; port 0 picks a free port (read it from ``server_address``).
        generator: The model to serve.
        model_name: The name clients must send as ``model`` (default ``generator.name``).
        api_key: If set, requests need ``Authorization: Bearer <api_key>``.
        max_batch: Most prompts per micro-batch.
        max_wait: Seconds the batcher waits for more requests to join a batch.
        default_max_tokens: ``max_tokens`` when a request does not send it.
        verbose: Log every request to stderr.

    """

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        generator: CodeGenerator,
        *,
        model_name: str | None = None,
        api_key: str | None = None,
        max_batch: int = 64,
        max_wait: float = 0.01,
        default_max_tokens: int = 256,
        verbose: bool = False,
    ) -> None:
        self.generator = generator
        self.model_name = model_name or generator.name
        self.api_key = api_key
        self.default_max_tokens = default_max_tokens
        self.verbose = verbose
        self.batcher = MicroBatcher(generator, max_batch=max_batch, max_wait=max_wait)
        super().__init__(address, OpenAIRequestHandler)

    @property
    def url(self) -> str:
        """The API root clients use, e.g. ``http://127.0.0.1:8000/v1``."""
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/v1"

    def complete(self, body: Mapping[str, Any], *, chat: bool) -> dict[str, Any]:
        """Answer one completions or chat-completions request body."""
        model = body.get("model")
        if model is not None and model != self.model_name:
            raise RequestError(
                f"model {model!r} not found; this server serves {self.model_name!r}", 404, "model_not_found"
            )
        if body.get("stream"):
            raise RequestError("streaming is not supported by codegym serve; send stream=false")
        params = _parse_params(body, self.default_max_tokens)
        if chat:
            inputs, use_chat = self._conversation(body.get("messages"))
        else:
            prompt = body.get("prompt")
            prompts = [prompt] if isinstance(prompt, str) else prompt
            if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) for p in prompts):
                raise RequestError("'prompt' must be a string or a non-empty list of strings")
            inputs, use_chat = prompts, False
        outputs = self.batcher.submit(_Job(use_chat, inputs, params))
        created = int(time.time())
        choices: list[dict[str, Any]] = []
        for i, completions in enumerate(outputs):
            for j, text in enumerate(completions):
                index = i * params[0] + j
                if chat:
                    message = {"role": "assistant", "content": text}
                    choices.append({"index": index, "message": message, "finish_reason": "stop"})
                else:
                    choices.append({"index": index, "text": text, "logprobs": None, "finish_reason": "stop"})
        return {
            "id": f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion" if chat else "text_completion",
            "created": created,
            "model": self.model_name,
            "choices": choices,
        }

    def _conversation(self, messages: Any) -> tuple[list[Any], bool]:
        ok = isinstance(messages, list) and messages
        ok = ok and all(isinstance(m, dict) and isinstance(m.get("content"), str) for m in messages)
        if not ok:
            raise RequestError("'messages' must be a non-empty list of {'role': ..., 'content': str} objects")
        if supports_chat_template(self.generator):
            return [[{"role": m.get("role", "user"), "content": m["content"]} for m in messages]], True
        if len(messages) == 1 and messages[0].get("role", "user") == "user":
            return [messages[0]["content"]], False
        raise RequestError(
            f"the served model {self.model_name!r} has no chat template, so only a single user message "
            "can be answered (as a plain completion); send one user message or use /v1/completions"
        )

    def server_close(self) -> None:
        """Close the socket and stop the batcher."""
        super().server_close()
        self.batcher.close()


def serve(
    generator: CodeGenerator, host: str = "127.0.0.1", port: int = 8000, **kwargs: Any
) -> CodeGymServer:
    """Create a :class:`CodeGymServer` bound to ``host:port`` (call ``serve_forever()`` on it)."""
    return CodeGymServer((host, port), generator, **kwargs)


def run_in_thread(server: CodeGymServer) -> threading.Thread:
    """Start ``server.serve_forever()`` in a daemon thread; stop it with ``server.shutdown()``."""
    thread = threading.Thread(target=server.serve_forever, name="codegym-serve", daemon=True)
    thread.start()
    return thread


__all__ = [
    "CodeGymServer",
    "MicroBatcher",
    "RequestError",
    "run_in_thread",
    "serve",
    "supports_chat_template",
]
