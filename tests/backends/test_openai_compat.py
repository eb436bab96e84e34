"""OpenAICompatibleGenerator against real local server processes: ``codegym serve`` and a flaky server."""

from __future__ import annotations

import json
import socket
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest

from codegym.backends import (
    AuthenticationError,
    HTTPBackendError,
    ModelNotFoundError,
    OpenAICompatibleGenerator,
    ServerUnavailableError,
)

from .conftest import PROMPTS, start_process, stop_process

KEY = "test-key"


@pytest.fixture(scope="module")
def served(tiny_llama_instruct_dir) -> Iterator[str]:
    """``codegym serve`` on the tiny instruct Llama, in its own process, on a free port."""
    args = [sys.executable, "-m", "codegym.cli", "serve", str(tiny_llama_instruct_dir), "--port", "0"]
    args += ["--name", "tiny-instruct", "--api-key", KEY, "--max-wait-ms", "20"]
    proc, line = start_process(args, "codegym serve: listening on ")
    try:
        yield line.split()[0]
    finally:
        stop_process(proc)
        assert proc.returncode == 0, "codegym serve should exit cleanly on SIGTERM"


def client(url: str, **kw) -> OpenAICompatibleGenerator:
    kw.setdefault("api_key", KEY)
    kw.setdefault("timeout", 60)
    return OpenAICompatibleGenerator(url, "tiny-instruct", **kw)


def test_completions_match_the_in_process_model(served: str, llama_instruct_gen) -> None:
    with client(served) as gen:
        got = gen.generate(PROMPTS, max_new_tokens=12)
    assert got == llama_instruct_gen.generate(PROMPTS, max_new_tokens=12)


def test_chat_endpoint_uses_the_chat_template(served: str, llama_instruct_gen) -> None:
    with client(served, api="chat") as gen:
        chat = gen.generate(PROMPTS[:2], max_new_tokens=10)
    assert chat == llama_instruct_gen.generate(PROMPTS[:2], max_new_tokens=10)
    with client(served, api="chat", system_prompt="Be brief.") as gen:
        with_system = gen.generate(PROMPTS[:1], max_new_tokens=10)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": PROMPTS[0]}]
    assert with_system == llama_instruct_gen.generate_chat([messages], max_new_tokens=10)


def test_n_seed_and_stop_go_through(served: str, llama_instruct_gen) -> None:
    with client(served, max_concurrency=4) as gen:
        a = gen.generate(PROMPTS[:3], n=3, temperature=0.9, seed=11, max_new_tokens=10)
        assert a == gen.generate(PROMPTS[:3], n=3, temperature=0.9, seed=11, max_new_tokens=10)
        assert [len(x) for x in a] == [3, 3, 3]
        assert a == llama_instruct_gen.generate(PROMPTS[:3], n=3, temperature=0.9, seed=11, max_new_tokens=10)
        full = gen.generate(PROMPTS[:1], max_new_tokens=20)[0][0]
        stop = full[3:6]
        assert gen.generate(PROMPTS[:1], max_new_tokens=20, stop=[stop])[0][0] == full[: full.index(stop)]


def test_list_models_and_clear_errors(served: str) -> None:
    with client(served) as gen:
        assert gen.list_models() == ["tiny-instruct"]
    with pytest.raises(ModelNotFoundError, match=r"no model 'gpt-4'.*serves \['tiny-instruct'\]"):
        OpenAICompatibleGenerator(served, "gpt-4", api_key=KEY).generate(["x"], max_new_tokens=2)
    with pytest.raises(AuthenticationError, match="api_key"):
        client(served, api_key="wrong").generate(["x"], max_new_tokens=2)
    with pytest.raises(ModelNotFoundError, match="no such endpoint"):
        client(served.replace("/v1", "/v2")).generate(["x"], max_new_tokens=2)
    with pytest.raises(HTTPBackendError, match="must be a number"):
        client(served, extra_body={"temperature": "hot"}).generate(["x"], max_new_tokens=2)


def test_concurrent_requests_are_micro_batched(served: str) -> None:
    # Eight prompts in flight at once come back right (the server groups them into few generate calls).
    with client(served, max_concurrency=8) as gen:
        together = gen.generate(PROMPTS + PROMPTS[:3], max_new_tokens=8)
    with client(served, max_concurrency=1) as gen:
        alone = gen.generate(PROMPTS + PROMPTS[:3], max_new_tokens=8)
    assert together == alone


def test_raw_openai_request_shape(served: str) -> None:
    body = {"model": "tiny-instruct", "prompt": ["a", "b"], "n": 2, "max_tokens": 3, "temperature": 0}
    req = urllib.request.Request(
        f"{served}/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"},
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        answer = json.load(resp)
    assert answer["object"] == "text_completion" and answer["model"] == "tiny-instruct"
    assert [c["index"] for c in answer["choices"]] == [0, 1, 2, 3]
    assert all(isinstance(c["text"], str) and c["finish_reason"] for c in answer["choices"])


# ---------------------------------------------------------------- retries, timeouts, connection errors


def flaky(url: str, model: str, **kw) -> OpenAICompatibleGenerator:
    kw.setdefault("backoff", 0.01)
    kw.setdefault("timeout", 5)
    return OpenAICompatibleGenerator(url, model, **kw)


def count(url: str, model: str) -> int:
    with urllib.request.urlopen(url.replace("/v1", f"/count/{model}"), timeout=10) as resp:
        return json.load(resp)["count"]


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_retries_transient_failures(flaky_server: str, status: int) -> None:
    model = f"fail-2-{status}"
    out = flaky(flaky_server, model, max_retries=3).generate(["hi"], max_new_tokens=4)
    assert out == [["echo hi 0"]]
    assert count(flaky_server, model) == 3


def test_gives_up_after_max_retries(flaky_server: str) -> None:
    with pytest.raises(ServerUnavailableError, match=r"after 3 attempts.*HTTP 503: injected 503"):
        flaky(flaky_server, "always-503", max_retries=2).generate(["hi"], max_new_tokens=4)
    assert count(flaky_server, "always-503") == 3


def test_client_errors_are_not_retried(flaky_server: str) -> None:
    with pytest.raises(HTTPBackendError, match="HTTP 400: injected 400") as info:
        flaky(flaky_server, "always-400", max_retries=3).generate(["hi"], max_new_tokens=4)
    assert info.value.status == 400 and not isinstance(info.value, ServerUnavailableError)
    assert count(flaky_server, "always-400") == 1


def test_timeout_is_retried_then_reported(flaky_server: str) -> None:
    start = time.monotonic()
    with pytest.raises(ServerUnavailableError, match=r"timeout=0.3s"):
        flaky(flaky_server, "sleep-3", timeout=0.3, max_retries=1).generate(["hi"], max_new_tokens=4)
    assert time.monotonic() - start < 2.5
    assert count(flaky_server, "sleep-3") == 2
    # A server slower than usual but within the timeout is fine.
    assert flaky(flaky_server, "sleep-0.2", timeout=5).generate(["x"], max_new_tokens=2) == [["echo x 0"]]


def test_connection_refused_is_retried_then_reported() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ServerUnavailableError, match=r"after 2 attempts.*is the server running"):
        flaky(f"http://127.0.0.1:{port}/v1", "m", max_retries=1).generate(["x"], max_new_tokens=2)


def test_server_ignoring_n(flaky_server: str) -> None:
    with pytest.raises(HTTPBackendError, match="supports_n=False"):
        flaky(flaky_server, "one-choice").generate(["x"], n=3, max_new_tokens=2)
    out = flaky(flaky_server, "one-choice", supports_n=False).generate(["x", "y"], n=3, max_new_tokens=2)
    assert out == [["echo x 0"] * 3, ["echo y 0"] * 3]
    assert count(flaky_server, "one-choice") == 1 + 6


def test_concurrency_limit(flaky_server: str) -> None:
    # 6 requests sleeping 0.4 s each with 3 in flight take about 0.8 s, not 0.4 s or 2.4 s.
    gen = flaky(flaky_server, "sleep-0.4", max_concurrency=3)
    start = time.monotonic()
    assert len(gen.generate([str(i) for i in range(6)], max_new_tokens=2)) == 6
    elapsed = time.monotonic() - start
    gen.close()
    assert 0.75 < elapsed < 2.0


def test_bad_construction_arguments() -> None:
    with pytest.raises(ValueError, match="base_url must be an http"):
        OpenAICompatibleGenerator("localhost:8000", "m")
    with pytest.raises(ValueError, match="api must be"):
        OpenAICompatibleGenerator("http://localhost:8000/v1", "m", api="edits")
    assert OpenAICompatibleGenerator("http://localhost:8000", "m").base_url == "http://localhost:8000/v1"
    with pytest.raises(HTTPBackendError, match="cannot resolve the host"):
        OpenAICompatibleGenerator("http://no-such-host.invalid/v1", "m", max_retries=0).generate(["x"])
