"""``codegym serve``: an OpenAI-compatible HTTP server for a Hugging Face model (or a tiny local one)."""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``serve`` command."""
    parser = subparsers.add_parser(
        "serve",
        help="serve a model over an OpenAI-compatible HTTP API (/v1/completions, /v1/chat/completions)",
        description=(
            "Load a Hugging Face model (hub id or local directory) and answer OpenAI-style requests at "
            "http://HOST:PORT/v1. Concurrent requests are micro-batched into one generate call. "
            "Example: codegym serve Salesforce/codet5p-220m-py --port 8000; then "
            "OpenAICompatibleGenerator('http://127.0.0.1:8000/v1', 'Salesforce/codet5p-220m-py'). "
            "Without network, serve a local directory, or --tiny for a tiny random model."
        ),
    )
    parser.add_argument("model", nargs="?", help="hub id or local model directory")
    parser.add_argument(
        "--tiny",
        choices=["t5", "llama", "llama-instruct"],
        help="serve a tiny random model from codegym.backends.tiny instead (offline demos and tests)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    parser.add_argument("--name", default=None, help="model name clients send (default: the model argument)")
    parser.add_argument(
        "--api-key", default=None, help="require 'Authorization: Bearer KEY' on every request"
    )
    parser.add_argument("--device", default=None, help="torch device (default cuda if available, else cpu)")
    parser.add_argument("--dtype", default="auto", choices=["auto", "float32", "float16", "bfloat16"])
    quant = parser.add_mutually_exclusive_group()
    quant.add_argument("--load-in-4bit", action="store_true", help="bitsandbytes nf4 (CUDA only)")
    quant.add_argument("--load-in-8bit", action="store_true", help="bitsandbytes int8 (CUDA only)")
    parser.add_argument(
        "--batch-size", type=int, default=16, help="rows per model.generate call (default 16)"
    )
    parser.add_argument("--max-batch", type=int, default=64, help="most prompts per micro-batch (default 64)")
    parser.add_argument(
        "--max-wait-ms", type=float, default=10.0, help="how long a micro-batch waits for more requests (10)"
    )
    parser.add_argument("--max-tokens", type=int, default=256, help="max_tokens when a request omits it")
    parser.add_argument(
        "--chat-template",
        choices=["auto", "on", "off"],
        default="auto",
        help="apply the tokenizer's chat template to /v1/completions prompts (auto: for instruct models)",
    )
    parser.add_argument("--system-prompt", default=None, help="system message used with the chat template")
    parser.add_argument(
        "--cache", default=None, help="sqlite file: cache generations on disk (CachedGenerator)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (default: torch's; 1 is best on a busy CPU)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")
    parser.set_defaults(func=run)


def build_generator(args: argparse.Namespace) -> Any:
    """Load the generator the arguments describe (a torch import happens here)."""
    from codegym.backends.hf import load_generator

    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    if (args.model is None) == (args.tiny is None):
        raise ValueError("give either a model (hub id or local directory) or --tiny t5|llama|llama-instruct")
    if args.tiny is not None:
        from codegym.backends import tiny

        path = (
            tiny.tiny_t5_path() if args.tiny == "t5" else tiny.tiny_llama_path(args.tiny == "llama-instruct")
        )
        spec, name = str(path), args.name or f"tiny-{args.tiny}"
    else:
        spec, name = args.model, args.name or args.model
    chat = {"auto": None, "on": True, "off": False}[args.chat_template]
    generator = load_generator(
        spec,
        device=args.device,
        dtype=args.dtype,
        load_in_4bit=args.load_in_4bit,
        load_in_8bit=args.load_in_8bit,
        batch_size=args.batch_size,
        use_chat_template=chat,
        system_prompt=args.system_prompt,
        name=name,
    )
    if args.cache:
        from codegym.backends.cache import CachedGenerator

        generator = CachedGenerator(generator, args.cache)
    return generator


def run(args: argparse.Namespace) -> int:
    """Load the model, bind the port, print the URL, and serve until interrupted (Ctrl-C or SIGTERM)."""
    from codegym.backends.errors import BackendError
    from codegym.backends.server import CodeGymServer

    try:
        generator = build_generator(args)
    except BackendError as exc:
        print(f"codegym: error: {exc}", file=sys.stderr)
        return 1
    server = CodeGymServer(
        (args.host, args.port),
        generator,
        model_name=generator.name,
        api_key=args.api_key,
        max_batch=args.max_batch,
        max_wait=args.max_wait_ms / 1000.0,
        default_max_tokens=args.max_tokens,
        verbose=args.verbose,
    )

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    # Tests and scripts read this line to find the port (with --port 0).
    print(f"codegym serve: listening on {server.url} (model {server.model_name!r})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        generator.close()
    return 0
