"""A :class:`CodeGenerator` for OpenAI-compatible servers (vLLM, Ollama, LM Studio, llama.cpp, codegym serve).

Only the standard library is used (``urllib.request``)::

    gen = OpenAICompatibleGenerator("http://localhost:8000/v1", "Qwen/Qwen2.5-Coder-7B-Instruct", api="chat")
    gen.generate(["Write a function that adds two numbers."], max_new_tokens=128)

Each prompt is one request (``/v1/completions`` or ``/v1/chat/completions``), sent from a thread pool of
``max_concurrency`` workers. Requests that fail with 429, a 5xx status, a connection error or a timeout
are retried ``max_retries`` times with exponential backoff and jitter (a ``Retry-After`` header is
honoured); other errors raise at once with the server's message: :class:`AuthenticationError` (401/403),
:class:`ModelNotFoundError` (404), :class:`HTTPBackendError` (anything else), and
:class:`ServerUnavailableError` once the retries are spent.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from codegym.backends.base import CodeGenerator, truncate_at_stop, validate_generation_args
from codegym.backends.errors import (
    AuthenticationError,
    HTTPBackendError,
    ModelNotFoundError,
    ServerUnavailableError,
)

#: HTTP statuses worth retrying: rate limiting and server-side failures.
RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})


class OpenAICompatibleGenerator(CodeGenerator):
    """Generate through an OpenAI-compatible server.

    Args:
        base_url: The server's API root, e.g. ``http://localhost:8000/v1`` (vLLM, ``codegym serve``),
            ``http://localhost:11434/v1`` (Ollama), ``http://localhost:1234/v1`` (LM Studio),
            ``http://localhost:8080/v1`` (llama.cpp). A URL without a path gets ``/v1`` appended.
        model: The model name the server knows (``GET {base_url}/models`` lists them).
        api: ``"completions"`` (the prompt is continued as is) or ``"chat"`` (the prompt is sent as a user
            message and the server applies the model's chat template).
        api_key: Sent as ``Authorization: Bearer ...``; default ``$CODEGYM_API_KEY`` if set, else none.
        system_prompt: System message put before the prompt in chat mode.
        timeout: Seconds to wait for the connection and for each read of the answer.
        max_retries: Retries after the first attempt for 429/5xx/connection errors/timeouts.
        backoff: First retry delay in seconds; doubled each retry (with jitter), capped at ``max_backoff``.
        max_backoff: Longest delay between retries, ``Retry-After`` included.
        max_concurrency: Requests in flight at once.
        supports_n: The server honours ``n`` (vLLM, OpenAI, ``codegym serve`` do). Set False for servers
            that return one choice whatever ``n`` is (Ollama, llama.cpp): then ``n`` requests are sent,
            sample ``j`` with seed ``seed + j``.
        extra_body: More JSON fields for every request (e.g. ``{"top_p": 0.95}``).
        headers: More HTTP headers for every request.

    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api: str = "completions",
        api_key: str | None = None,
        system_prompt: str | None = None,
        timeout: float = 120.0,
        max_retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        max_concurrency: int = 8,
        supports_n: bool = True,
        extra_body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(
                f"base_url must be an http(s) URL such as 'http://localhost:8000/v1', got {base_url!r}"
            )
        if api not in ("completions", "chat"):
            raise ValueError(f"api must be 'completions' or 'chat', got {api!r}")
        if not model:
            raise ValueError("model must name the model on the server (GET <base_url>/models lists them)")
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {max_concurrency}")
        url = base_url.rstrip("/")
        if parsed.path in ("", "/"):
            url += "/v1"
        self.base_url = url
        self.model = model
        self.name = model
        self.api = api
        self.api_key = api_key if api_key is not None else os.environ.get("CODEGYM_API_KEY")
        self.system_prompt = system_prompt
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_concurrency = max_concurrency
        self.supports_n = supports_n
        self.extra_body = dict(extra_body or {})
        self.headers = dict(headers or {})
        self._jitter = random.Random()  # private: retries never touch the global RNG
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    @property
    def cache_identity(self) -> str:
        """Everything besides the call's arguments that changes the output; part of cache keys."""
        extra = json.dumps(self.extra_body, sort_keys=True)
        return f"{self.model}@{self.base_url}|api={self.api}|system={self.system_prompt!r}|extra={extra}"

    # ------------------------------------------------------------------ HTTP
    def _request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """Send one request with retries; return the decoded JSON answer."""
        url = f"{self.base_url}/{path.lstrip('/')}"
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json", **self.headers}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        last = ""
        for attempt in range(self.max_retries + 1):
            retry_after: float | None = None
            try:
                req = urllib.request.Request(url, data=data, headers=headers, method=method)
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    raw = resp.read()
                try:
                    return json.loads(raw)
                except json.JSONDecodeError as exc:
                    raise HTTPBackendError(
                        f"{url} answered with something that is not JSON ({raw[:200]!r}); "
                        "is base_url an OpenAI-compatible API root (usually ending in /v1)?",
                        url=url,
                        status=200,
                        body=raw[:2000].decode(errors="replace"),
                    ) from exc
            except urllib.error.HTTPError as exc:
                text = _error_text(exc)
                if exc.code not in RETRY_STATUSES:
                    raise self._http_error(url, exc.code, text) from None
                last = f"HTTP {exc.code}: {text}" if text else f"HTTP {exc.code}"
                retry_after = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
            except urllib.error.URLError as exc:
                reason = exc.reason
                if isinstance(reason, socket.gaierror):
                    raise HTTPBackendError(
                        f"cannot resolve the host of {url} ({reason}); check base_url", url=url
                    ) from None
                if isinstance(reason, (TimeoutError, socket.timeout)):
                    last = f"no answer within timeout={self.timeout}s"
                else:
                    last = f"cannot connect ({reason}); is the server running at {self.base_url}?"
            except TimeoutError:
                last = f"no answer within timeout={self.timeout}s"
            except (ConnectionError, http.client.HTTPException) as exc:
                last = f"connection failed ({type(exc).__name__}: {exc})"
            if attempt < self.max_retries:
                delay = min(self.max_backoff, self.backoff * 2**attempt) * (0.5 + 0.5 * self._jitter.random())
                if retry_after is not None:
                    delay = min(self.max_backoff, max(delay, retry_after))
                time.sleep(delay)
        raise ServerUnavailableError(
            f"{method} {url} failed after {self.max_retries + 1} attempts; last error: {last}. "
            "Check that the server is up and not overloaded, or raise timeout / max_retries.",
            url=url,
        )

    def _http_error(self, url: str, status: int, text: str) -> HTTPBackendError:
        if status in (401, 403):
            return AuthenticationError(
                f"{url} refused the request (HTTP {status}: {text or 'unauthorised'}); pass the server's key "
                "as api_key=... (or set CODEGYM_API_KEY)",
                url=url,
                status=status,
                body=text,
            )
        if status == 404:
            if "model" in text.lower():
                served = self._served_models()
                hint = f"; the server serves {served}" if served else ""
                return ModelNotFoundError(
                    f"the server at {self.base_url} has no model {self.model!r} (HTTP 404: {text}){hint}",
                    url=url,
                    status=status,
                    body=text,
                )
            return ModelNotFoundError(
                f"no such endpoint: {url} (HTTP 404{': ' + text if text else ''}); check base_url (the API "
                f"root, usually ending in /v1) and api={self.api!r}",
                url=url,
                status=status,
                body=text,
            )
        return HTTPBackendError(f"{url} answered HTTP {status}: {text}", url=url, status=status, body=text)

    def _served_models(self) -> list[str]:
        try:
            return self.list_models()
        except Exception:  # noqa: BLE001 - only a hint for an error message
            return []

    def list_models(self) -> list[str]:
        """Return the model names the server lists at ``GET {base_url}/models``."""
        answer = self._request("GET", "models")
        return [str(m.get("id")) for m in answer.get("data", []) if isinstance(m, dict)]

    # ------------------------------------------------------------------ generation
    def _body(
        self, prompt: str, n: int, temperature: float, max_new_tokens: int, seed: int | None, stop: list[str]
    ):
        body: dict[str, Any] = {
            "model": self.model,
            "n": n,
            "temperature": temperature,
            "max_tokens": max_new_tokens,
        }
        if self.api == "chat":
            messages = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
            body["messages"] = [*messages, {"role": "user", "content": prompt}]
        else:
            body["prompt"] = prompt
        if seed is not None:
            body["seed"] = seed
        if stop:
            body["stop"] = stop
        body.update(self.extra_body)
        return body

    def _one(
        self, prompt: str, n: int, temperature: float, max_new_tokens: int, seed: int | None, stop: list[str]
    ) -> list[str]:
        path = "chat/completions" if self.api == "chat" else "completions"
        answer = self._request("POST", path, self._body(prompt, n, temperature, max_new_tokens, seed, stop))
        choices = answer.get("choices") if isinstance(answer, dict) else None
        if not isinstance(choices, list):
            raise HTTPBackendError(
                f"{self.base_url}/{path} answered without a 'choices' list: {str(answer)[:300]}",
                url=f"{self.base_url}/{path}",
                status=200,
            )
        if len(choices) != n:
            raise HTTPBackendError(
                f"{self.base_url}/{path} returned {len(choices)} choices for n={n}; this server ignores 'n' "
                "(Ollama and llama.cpp do): pass supports_n=False",
                url=f"{self.base_url}/{path}",
                status=200,
            )
        choices = sorted(choices, key=lambda c: c.get("index", 0))
        if self.api == "chat":
            texts = [(c.get("message") or {}).get("content") or "" for c in choices]
        else:
            texts = [c.get("text") or "" for c in choices]
        return [truncate_at_stop(t, stop) for t in texts]

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="codegym-http")
            return self._pool

    def generate(
        self,
        prompts: Sequence[str],
        *,
        n: int = 1,
        temperature: float = 0.0,
        max_new_tokens: int = 256,
        seed: int | None = None,
        stop: Sequence[str] = (),
    ) -> list[list[str]]:
        """Generate ``n`` completions per prompt; see :class:`codegym.backends.base.CodeGenerator`.

        At ``temperature == 0`` the server decodes greedily; servers are deterministic then up to their
        own batching numerics (vLLM documents small variations across batch sizes).
        """
        validate_generation_args(prompts, n, temperature, max_new_tokens)
        stop_list = [s for s in stop if s]
        if not prompts:
            return []
        pool = self._executor()
        if self.supports_n or n == 1:
            futures = [
                pool.submit(self._one, p, n, temperature, max_new_tokens, seed, stop_list) for p in prompts
            ]
            return [f.result() for f in futures]
        per_sample = [
            [
                pool.submit(
                    self._one,
                    p,
                    1,
                    temperature,
                    max_new_tokens,
                    None if seed is None else seed + j,
                    stop_list,
                )
                for j in range(n)
            ]
            for p in prompts
        ]
        return [[f.result()[0] for f in row] for row in per_sample]

    def close(self) -> None:
        """Shut the request threads down. Idempotent."""
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None


def _error_text(exc: urllib.error.HTTPError) -> str:
    """Extract the server's error message from an HTTP error body (OpenAI style or plain text)."""
    try:
        raw = exc.read().decode(errors="replace")
    except Exception:  # noqa: BLE001 - the body is only used for the message
        return ""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        return raw.strip()[:500]
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            return str(err.get("message") or err)[:500]
        return str(err)[:500]
    return raw.strip()[:500]


def _retry_after(value: str | None) -> float | None:
    """Parse a ``Retry-After`` header given in seconds (HTTP dates are ignored)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
