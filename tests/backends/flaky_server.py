"""A misbehaving OpenAI-style server for retry and timeout tests (stdlib only; run as a subprocess).

The behaviour is chosen by the request's ``model`` field, so one process serves every test:

* ``fail-K-STATUS``: the first K requests for this model get HTTP STATUS (429 with ``Retry-After: 0``),
  then requests succeed.
* ``always-STATUS``: every request gets HTTP STATUS.
* ``sleep-SECONDS``: the answer comes after SECONDS.
* ``one-choice``: always one choice, whatever ``n`` is (like Ollama).
* anything else: success; the text echoes the prompt.

``GET /count/MODEL`` returns how many POSTs that model received. Prints ``PORT <port>`` when ready.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COUNTS: Counter[str] = Counter()
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def send_json(self, status: int, payload: object, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        if self.path.startswith("/count/"):
            self.send_json(200, {"count": COUNTS[self.path[len("/count/") :]]})
        else:
            self.send_json(200, {"object": "list", "data": [{"id": "flaky"}]})

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        model = str(body.get("model"))
        with LOCK:
            COUNTS[model] += 1
            count = COUNTS[model]
        parts = model.split("-")
        if parts[0] == "fail" and count <= int(parts[1]) or parts[0] == "always":
            status = int(parts[-1])
            headers = {"Retry-After": "0"} if status == 429 else {}
            self.send_json(status, {"error": {"message": f"injected {status} #{count}"}}, headers)
            return
        if parts[0] == "sleep":
            time.sleep(float(parts[1]))
        n = 1 if model == "one-choice" else int(body.get("n", 1))
        prompt = body.get("prompt") or body.get("messages", [{}])[-1].get("content", "")
        choices = [{"index": j, "text": f"echo {prompt} {j}", "finish_reason": "stop"} for j in range(n)]
        try:
            self.send_json(200, {"object": "text_completion", "model": model, "choices": choices})
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client timed out and left


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
