"""The OpenAI-compatible server (codegym serve's engine), run in-process on a real socket."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from codegym.backends import CodeGenerator, HTTPBackendError, OpenAICompatibleGenerator
from codegym.backends.server import CodeGymServer, run_in_thread


class EchoGenerator(CodeGenerator):
    """Answers ``prompt|temperature|j`` and records every call's prompts."""

    name = "echo"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.lock = threading.Lock()

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
        with self.lock:
            self.calls.append(list(prompts))
        if any(p == "boom" for p in prompts):
            raise RuntimeError("model exploded")
        if any(p == "bad" for p in prompts):
            raise ValueError("prompts[0] is too long")
        return [[f"{p}|{temperature}|{j}" for j in range(n)] for p in prompts]


@pytest.fixture()
def echo_server() -> Iterator[tuple[CodeGymServer, EchoGenerator]]:
    gen = EchoGenerator()
    server = CodeGymServer(("127.0.0.1", 0), gen, max_wait=0.3, max_batch=64)
    run_in_thread(server)
    try:
        yield server, gen
    finally:
        server.shutdown()
        server.server_close()


def post(url: str, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_concurrent_requests_share_one_generate_call(echo_server) -> None:
    server, gen = echo_server
    client = OpenAICompatibleGenerator(server.url, "echo", max_concurrency=8)
    prompts = [f"p{i}" for i in range(8)]
    assert client.generate(prompts, temperature=0.5) == [[f"{p}|0.5|0"] for p in prompts]
    assert len(gen.calls) < 8 and sorted(sum(gen.calls, [])) == sorted(prompts)


def test_requests_with_different_parameters_are_not_mixed(echo_server) -> None:
    server, gen = echo_server
    cold = OpenAICompatibleGenerator(server.url, "echo")
    hot = OpenAICompatibleGenerator(server.url, "echo")
    with ThreadPoolExecutor(4) as pool:
        a = pool.submit(cold.generate, ["x", "y"], temperature=0.0)
        b = pool.submit(hot.generate, ["x", "y"], temperature=1.0, n=2)
        assert a.result() == [["x|0.0|0"], ["y|0.0|0"]]
        assert b.result() == [["x|1.0|0", "x|1.0|1"], ["y|1.0|0", "y|1.0|1"]]


def test_error_answers(echo_server) -> None:
    server, _ = echo_server
    url = server.url
    status, body = post(f"{url}/completions", {"model": "echo", "prompt": "boom"})
    assert status == 500 and "model exploded" in body["error"]["message"]
    status, body = post(f"{url}/completions", {"model": "echo", "prompt": "bad"})
    assert status == 400 and "too long" in body["error"]["message"]
    status, body = post(f"{url}/completions", {"model": "echo", "prompt": "x", "stream": True})
    assert status == 400 and "streaming" in body["error"]["message"]
    status, body = post(f"{url}/completions", {"model": "echo", "prompt": 3})
    assert status == 400 and "'prompt'" in body["error"]["message"]
    status, body = post(f"{url}/completions", {"model": "other", "prompt": "x"})
    assert status == 404 and body["error"]["code"] == "model_not_found"
    # No chat template: one user message is answered as a completion, anything else is refused.
    status, body = post(f"{url}/chat/completions", {"messages": [{"role": "user", "content": "hi"}]})
    assert status == 200 and body["choices"][0]["message"]["content"] == "hi|1.0|0"
    two = [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}]
    status, body = post(f"{url}/chat/completions", {"messages": two})
    assert status == 400 and "no chat template" in body["error"]["message"]
    with urllib.request.urlopen(url.replace("/v1", "/health"), timeout=10) as resp:
        assert json.load(resp) == {"status": "ok"}


def test_server_errors_reach_the_client_as_exceptions(echo_server) -> None:
    server, _ = echo_server
    client = OpenAICompatibleGenerator(server.url, "echo", max_retries=1, backoff=0.01)
    with pytest.raises(HTTPBackendError, match="model exploded"):
        client.generate(["boom"])
    with pytest.raises(HTTPBackendError, match="HTTP 400: prompts\\[0\\] is too long"):
        client.generate(["bad"])
