"""The prompt-optimization environment: edit a task's description until a frozen code model solves it.

The environment is built for batching. Every model call goes through a :class:`PromptEvaluator`, which
turns a list of prompts into completions, programs, verdicts and embeddings with one ``generate`` call,
one ``run_batch`` call and one ``embed`` call, and caches all three. A single environment uses its own
evaluator one prompt at a time; :class:`~codegym.envs.prompt_vec_env.PromptOptimizationVecEnv` shares one
evaluator between N environments and calls it once per vector step for all of them.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from codegym.backends.base import CodeGenerator
from codegym.envs.sampling import EpisodeSampler, requested_index
from codegym.execution.results import ExecutionResult, Limits, Outcome
from codegym.tasks.base import Task

__all__ = [
    "DEFAULT_BACKEND",
    "DEFAULT_OPERATORS",
    "DEFAULT_REWRITER",
    "CATALOGUE_REWRITER",
    "SMALL_MODEL",
    "REWARD_MODES",
    "SUBMIT",
    "CallStats",
    "Evaluation",
    "PromptEvaluator",
    "LazyGenerator",
    "PromptOptimizationEnv",
    "mutate_batch",
    "protected_words",
    "resolve_backend",
    "resolve_embedder",
]

#: Action name that ends the episode with the current prompt (no model call).
SUBMIT = "submit"
#: The default action list: submit, the four mutation operators of :mod:`codegym.mutation`, restore.
DEFAULT_OPERATORS: tuple[str, ...] = (
    SUBMIT,
    "epic",
    "wordnet_synonym",
    "vector_neighbour",
    "llm_rewrite",
    "restore_original",
)
#: Reward modes: change in pass rate, PROMIS's +1 / -0.1, pass rate at the end of the episode only.
REWARD_MODES: tuple[str, ...] = ("delta", "promis", "final")
#: The code model used when no ``backend`` is given (Hugging Face hub id, loaded on first use).
DEFAULT_BACKEND = "Salesforce/codet5p-220m-py"
#: The model the ``llm_rewrite`` operator uses when no ``rewriter`` is given (loaded on first use).
DEFAULT_REWRITER = "meta-llama/Llama-3.2-3B-Instruct"
#: Scalars appended to the prompt embedding: step fraction, pass rate, best pass rate, compiled.
NUM_SCALARS = 4

_FEEDBACK = ("tests", "visible")
_TINY_BACKENDS = ("tiny-t5", "tiny-llama", "tiny-llama-instruct")
#: Names of codegym's own generators (no hub id): the small code model it trains itself, and the
#: phrasing-catalogue rewriter of ``SynthPrompt-v0`` (see :mod:`codegym.models.benchmark`).
SMALL_MODEL = "codegym-small"
CATALOGUE_REWRITER = "phrasing-catalogue"


# ----------------------------------------------------------------------------------------------------
# Resolving backends and embedders from specs
# ----------------------------------------------------------------------------------------------------


def resolve_backend(spec: Any, *, role: str = "backend") -> Any:
    """Return a :class:`~codegym.backends.CodeGenerator` for a spec.

    Args:
        spec: A ``CodeGenerator`` (returned as it is); ``"codegym-small"`` (the small code model codegym
            trains itself, :class:`~codegym.models.small.SmallModelGenerator`: built on first use, then
            loaded from the cache); ``"phrasing-catalogue"`` (``SynthPrompt-v0``'s rewriter,
            :class:`~codegym.models.benchmark.PhrasingCatalogueRewriter`); ``"tiny-t5"``,
            ``"tiny-llama"`` or ``"tiny-llama-instruct"`` (the random-weight models of
            :mod:`codegym.backends.tiny`, for tests and demos); or a Hugging Face hub id / local model
            directory for :func:`codegym.backends.load_generator`.
        role: The argument's name, used in error messages.

    Raises:
        TypeError: ``spec`` is neither a string, a path nor a generator.
        codegym.backends.ModelLoadError: A hub id that is not available offline; the message says how to
            pass a local directory instead.

    """
    if isinstance(spec, CodeGenerator):
        return spec
    if not isinstance(spec, (str, os.PathLike)):
        raise TypeError(
            f"{role} must be a CodeGenerator, a Hugging Face hub id or a local model directory, "
            f"got {type(spec).__name__}"
        )
    text = os.fspath(spec)
    if text == SMALL_MODEL:
        from codegym.models.small import SmallModelGenerator

        return SmallModelGenerator()
    if text == CATALOGUE_REWRITER:
        from codegym.models.benchmark import PhrasingCatalogueRewriter

        return PhrasingCatalogueRewriter()
    from codegym.backends import load_generator

    if text in _TINY_BACKENDS:
        from codegym.backends import tiny

        path = (
            tiny.tiny_t5_path()
            if text == "tiny-t5"
            else tiny.tiny_llama_path(instruct=text.endswith("instruct"))
        )
        return load_generator(path)
    from codegym.backends.errors import ModelLoadError

    try:
        return load_generator(text)
    except ModelLoadError as exc:
        raise ModelLoadError(
            f"{role}={text!r} could not be loaded ({exc}). Without network access, download the model "
            f"elsewhere and pass its directory ({role}='/path/to/model'), pass a loaded generator "
            f"({role}=codegym.backends.load_generator('/path/to/model')), use {role}='{SMALL_MODEL}' for the "
            f"small model codegym trains itself, or {role}='tiny-t5' for a random-weight test model."
        ) from exc


def resolve_embedder(spec: Any) -> Any:
    """Return a sentence embedder for a spec.

    Args:
        spec: ``"minilm"`` (:class:`codegym.observation.SentenceEmbedder`, all-MiniLM-L6-v2, 384
            dimensions, loaded on first use), ``"hashing"`` (:class:`codegym.observation.HashingEmbedder`:
            instant, for tests and benchmarks), or any object with ``embed(texts) -> np.ndarray`` of shape
            ``(len(texts), dim)`` and a ``dim`` attribute (a :class:`codegym.observation.Embedder`).

    Raises:
        ValueError: An unknown name.
        TypeError: An object without ``embed``.

    """
    if isinstance(spec, str):
        from codegym.observation import make_embedder

        return make_embedder(spec)
    if not callable(getattr(spec, "embed", None)):
        raise TypeError(
            f"embedder must be 'minilm', 'hashing' or an object with embed(texts) -> np.ndarray, "
            f"got {type(spec).__name__}"
        )
    return spec


def _embedder_dim(spec: Any, embedder: Any) -> int:
    """Return the embedding size, without loading MiniLM when the default model was asked for by name."""
    if isinstance(spec, str) and spec == "minilm":
        from codegym.observation import MINILM_DIM

        return MINILM_DIM
    dim = getattr(embedder, "dim", None)
    if dim is None:
        dim = int(np.asarray(embedder.embed(["probe"])).shape[-1])
    return int(dim)


# ----------------------------------------------------------------------------------------------------
# The batched evaluator
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Evaluation:
    """What one prompt produced for one task.

    Attributes:
        prompt: The full prompt given to the code model.
        completion: The model's raw output.
        code: The program that was executed (after :func:`codegym.postprocess.postprocess`).
        code_found: False when post-processing found no code in the completion.
        result: The execution engine's verdicts over the task's tests (plus any visible test that is
            not among them).
        embedding: The prompt's embedding (read-only ``float32`` vector).
        pass_rate: Fraction of the *feedback* tests passed (what the reward and observation use).
        hidden_pass_rate: Fraction of the task's hidden tests (``task.tests``) passed.

    """

    prompt: str
    completion: str
    code: str
    code_found: bool
    result: ExecutionResult
    embedding: np.ndarray
    pass_rate: float
    hidden_pass_rate: float

    @property
    def solved(self) -> bool:
        """True when every feedback test passed."""
        return self.pass_rate >= 1.0

    @property
    def compiled(self) -> bool:
        """False when the program had a syntax error."""
        return self.result.compiled


@dataclass(eq=False)
class CallStats:
    """Counters and wall-clock seconds of the evaluator's real work (cache hits excluded).

    Instances always compare equal, so that ``info`` dicts of two identical runs compare equal (as
    Gymnasium's ``check_env`` requires) even when the second run is answered from the caches.
    """

    generate_calls: int = 0
    prompts_generated: int = 0
    run_batch_calls: int = 0
    programs_executed: int = 0
    embed_calls: int = 0
    texts_embedded: int = 0
    cache_hits: int = 0
    generate_s: float = 0.0
    postprocess_s: float = 0.0
    execute_s: float = 0.0
    embed_s: float = 0.0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CallStats)

    def __hash__(self) -> int:
        return hash(CallStats)

    def as_dict(self) -> dict[str, float]:
        """Return the counters as a plain dict."""
        return dict(self.__dict__)


class _LRU(OrderedDict):
    """A dict that forgets its least recently used entries beyond ``capacity``."""

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity

    def get_recent(self, key: Any) -> Any:
        value = self.get(key)
        if value is not None:
            self.move_to_end(key)
        return value

    def put(self, key: Any, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.capacity:
            self.popitem(last=False)


@dataclass(frozen=True)
class _Request:
    task: Task
    prompt: str
    completion_style: bool


class PromptEvaluator:
    """Evaluates prompts in batches: one ``generate``, one ``run_batch`` and one ``embed`` per call.

    Results are cached by ``(task_id, prompt)``; completions by prompt, verdicts by ``(task_id, program)``
    and embeddings by text, so a prompt an episode revisits costs nothing. Every environment of a vector
    environment shares one evaluator.

    Args:
        backend: The code model (see :func:`resolve_backend`); a spec string is loaded on first use.
        embedder: The prompt embedder (see :func:`resolve_embedder`).
        executor: A :class:`~codegym.execution.SandboxExecutor`; default: the process-wide one.
        limits: Execution limits (default :class:`~codegym.execution.Limits`).
        feedback: ``"tests"``: the pass rate is over the task's hidden tests, as in PROMIS and EPiC;
            ``"visible"``: over the tests shown in the prompt only (the hidden pass rate is still reported).
        temperature: Sampling temperature of the code model; 0 (greedy) keeps episodes deterministic.
        max_new_tokens: Token budget per completion.
        stop: Stop sequences for the code model.
        seed: Sampling seed passed to ``generate`` (matters only at ``temperature > 0``).
        postprocess: Mode of :func:`codegym.postprocess.postprocess`.
        cache_size: Entries kept in each cache.

    """

    def __init__(
        self,
        backend: Any,
        embedder: Any = "minilm",
        executor: Any = None,
        *,
        limits: Limits | None = None,
        feedback: str = "tests",
        temperature: float = 0.0,
        max_new_tokens: int = 128,
        stop: Sequence[str] = (),
        seed: int = 0,
        postprocess: str = "auto",
        cache_size: int = 100_000,
    ) -> None:
        from codegym.postprocess import MODES

        if feedback not in _FEEDBACK:
            raise ValueError(f"unknown feedback {feedback!r}; choose one of {_FEEDBACK}")
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be a positive integer, got {max_new_tokens!r}")
        if postprocess not in MODES:
            raise ValueError(f"unknown postprocess mode {postprocess!r}; choose one of {MODES}")
        if isinstance(stop, str):
            raise TypeError("stop must be a sequence of strings, not a single string; wrap it in a list")
        if limits is not None:
            limits.validate()
        self._backend_spec = backend
        self._backend: Any = None
        self.embedder = resolve_embedder(embedder)
        self.dim = _embedder_dim(embedder, self.embedder)
        self._executor = executor
        self.limits = limits
        self.feedback = feedback
        self.temperature = float(temperature)
        self.max_new_tokens = max_new_tokens
        self.stop = tuple(stop)
        self.seed = seed
        self.postprocess_mode = postprocess
        self.stats = CallStats()
        self._evaluations = _LRU(cache_size)
        self._completions = _LRU(cache_size)
        self._results = _LRU(cache_size)
        self._embeddings = _LRU(cache_size)

    @property
    def backend(self) -> Any:
        """The code model, loaded on first access."""
        if self._backend is None:
            self._backend = resolve_backend(self._backend_spec)
        return self._backend

    @property
    def executor(self) -> Any:
        """The execution engine (the process-wide default unless one was given)."""
        if self._executor is None:
            from codegym.execution import get_default_executor

            self._executor = get_default_executor()
        return self._executor

    def lookup(self, task: Task, prompt: str) -> Evaluation | None:
        """Return the cached evaluation of ``prompt`` for ``task``, or ``None``."""
        return self._evaluations.get_recent((task.task_id, prompt))

    def feedback_tests(self, task: Task) -> tuple[str, ...]:
        """Return the tests whose pass rate drives reward and observation (see ``feedback``)."""
        return task.tests if self.feedback == "tests" else task.visible_tests

    def _run_tests(self, task: Task) -> tuple[str, ...]:
        extra = (
            tuple(t for t in task.visible_tests if t not in task.tests) if self.feedback == "visible" else ()
        )
        return task.tests + extra

    def evaluate(self, requests: Sequence[tuple[Task, str, bool]]) -> list[Evaluation]:
        """Evaluate ``(task, prompt, completion_style)`` triples; every model is called at most once.

        Args:
            requests: The task, the full prompt, and whether the style is completion-style (the program
                is the prompt plus the completion).

        Returns:
            One :class:`Evaluation` per request, in order (duplicates share one evaluation).

        """
        from codegym.execution import ExecutionRequest
        from codegym.postprocess import postprocess

        reqs = [_Request(t, p, c) for t, p, c in requests]
        todo: dict[tuple[str, str], _Request] = {}
        for r in reqs:
            key = (r.task.task_id, r.prompt)
            if key not in todo and self._evaluations.get_recent(key) is None:
                todo[key] = r
        self.stats.cache_hits += len(reqs) - len(todo)
        answers: dict[tuple[str, str], Evaluation] = {}  # evaluations not cached (engine failures)
        if todo:
            # 1. One generate call for every prompt without a cached completion.
            prompts = list(
                dict.fromkeys(r.prompt for r in todo.values() if self._completions.get(r.prompt) is None)
            )
            t0 = time.perf_counter()
            if prompts:
                outputs = self.backend.generate(
                    prompts,
                    n=1,
                    temperature=self.temperature,
                    max_new_tokens=self.max_new_tokens,
                    seed=self.seed,
                    stop=self.stop,
                )
                if len(outputs) != len(prompts):
                    raise RuntimeError(
                        f"backend {getattr(self.backend, 'name', '?')} returned {len(outputs)} results "
                        f"for {len(prompts)} prompts"
                    )
                self.stats.generate_calls += 1
                self.stats.prompts_generated += len(prompts)
                for p, out in zip(prompts, outputs, strict=True):
                    self._completions.put(p, out[0])
            t1 = time.perf_counter()
            self.stats.generate_s += t1 - t0
            # 2. Post-process, then one run_batch for every program without cached verdicts.
            programs: dict[tuple[str, str], tuple[str, str, bool]] = {}
            exec_todo: dict[tuple[str, str], ExecutionRequest] = {}
            for key, r in todo.items():
                completion = self._completions.get(r.prompt)
                ext = postprocess(
                    completion,
                    r.task,
                    mode=self.postprocess_mode,
                    stop=self.stop,
                    prompt=r.prompt if r.completion_style else None,
                )
                programs[key] = (completion, ext.code, ext.found)
                rkey = (r.task.task_id, ext.code)
                if rkey not in exec_todo and self._results.get(rkey) is None:
                    exec_todo[rkey] = ExecutionRequest(
                        ext.code,
                        list(self._run_tests(r.task)),
                        setup=r.task.test_setup,
                        limits=self.limits,
                        language=r.task.language,
                        entry_point=r.task.entry_point,
                    )
            t2 = time.perf_counter()
            self.stats.postprocess_s += t2 - t1
            fresh: dict[tuple[str, str], ExecutionResult] = {}
            if exec_todo:
                results = self.executor.run_batch(list(exec_todo.values()))
                self.stats.run_batch_calls += 1
                self.stats.programs_executed += len(exec_todo)
                for rkey, res in zip(exec_todo, results, strict=True):
                    fresh[rkey] = res
                    if res.status is Outcome.INFRA:  # the engine failed: report it, never cache it
                        gym.logger.warn(f"the execution engine failed on task {rkey[0]}: {res.message}")
                    else:
                        self._results.put(rkey, res)
            t3 = time.perf_counter()
            self.stats.execute_s += t3 - t2
            # 3. One embed call for every prompt without a cached embedding.
            texts = list(
                dict.fromkeys(r.prompt for r in todo.values() if self._embeddings.get(r.prompt) is None)
            )
            if texts:
                vectors = np.asarray(self.embedder.embed(texts), dtype=np.float32)
                if vectors.shape != (len(texts), self.dim):
                    raise RuntimeError(
                        f"embedder returned shape {vectors.shape} for {len(texts)} texts; expected "
                        f"({len(texts)}, {self.dim})"
                    )
                self.stats.embed_calls += 1
                self.stats.texts_embedded += len(texts)
                for text, vec in zip(texts, vectors, strict=True):
                    vec = np.clip(vec, -1.0, 1.0)
                    vec.setflags(write=False)
                    self._embeddings.put(text, vec)
            self.stats.embed_s += time.perf_counter() - t3
            for key, r in todo.items():
                completion, code, found = programs[key]
                rkey = (r.task.task_id, code)
                result = fresh.get(rkey) or self._results.get_recent(rkey)
                evaluation = self._make(r, completion, code, found, result)
                if result.status is Outcome.INFRA:
                    answers[key] = evaluation
                else:
                    self._evaluations.put(key, evaluation)
        return [
            answers.get(k) or self._evaluations.get_recent(k)
            for k in ((r.task.task_id, r.prompt) for r in reqs)
        ]

    def _make(
        self, r: _Request, completion: str, code: str, found: bool, result: ExecutionResult
    ) -> Evaluation:
        verdicts = {i: v.passed for i, v in enumerate(result.tests)}
        tests = self._run_tests(r.task)
        index = {t: i for i, t in enumerate(tests)}
        hidden = [verdicts.get(i, False) for i in range(len(r.task.tests))]
        fb = [verdicts.get(index[t], False) for t in self.feedback_tests(r.task)]
        return Evaluation(
            prompt=r.prompt,
            completion=completion,
            code=code,
            code_found=found,
            result=result,
            embedding=self._embeddings.get_recent(r.prompt),
            pass_rate=sum(fb) / len(fb) if fb else 0.0,
            hidden_pass_rate=sum(hidden) / len(hidden) if hidden else 0.0,
        )

    def close(self) -> None:
        """Release the code model if this evaluator loaded it."""
        if self._backend is not None and self._backend is not self._backend_spec:
            self._backend.close()
            self._backend = None


# ----------------------------------------------------------------------------------------------------
# Operators
# ----------------------------------------------------------------------------------------------------


class LazyGenerator(CodeGenerator):
    """A :class:`~codegym.backends.CodeGenerator` that loads the model named by ``spec`` on first use.

    The ``llm_rewrite`` operator is built with one, so that the rewriter (a 3B model by default) is
    loaded only when an agent first takes that action.
    """

    def __init__(self, spec: Any) -> None:
        self.spec = spec
        self.name = str(getattr(spec, "name", spec))
        self._generator: Any = None

    @property
    def generator(self) -> Any:
        """The underlying generator, loaded on first access."""
        if self._generator is None:
            self._generator = resolve_backend(self.spec, role="rewriter")
        return self._generator

    def generate(self, prompts: Sequence[str], **kwargs: Any) -> list[list[str]]:  # type: ignore[override]
        """Load the model if needed and generate."""
        return self.generator.generate(prompts, **kwargs)

    def close(self) -> None:
        """Release the model if this object loaded it."""
        if self._generator is not None and self._generator is not self.spec:
            self._generator.close()
        self._generator = None


def _resolve_operators(specs: Sequence[Any], rewriter: Any) -> list[Any]:
    """Turn operator names/objects into the action list (``SUBMIT`` stays a name)."""
    if isinstance(specs, str):
        raise TypeError(
            "operators must be a sequence of operator names or objects; wrap a single name in a list"
        )
    resolved: list[Any] = []
    for spec in specs:
        if spec == SUBMIT:
            resolved.append(spec)
        elif isinstance(spec, str):
            from codegym.mutation import make_operator

            if spec == "llm_rewrite":
                generator = LazyGenerator(rewriter if rewriter is not None else DEFAULT_REWRITER)
                resolved.append(make_operator(spec, generator=generator))
            else:
                resolved.append(make_operator(spec))
        elif getattr(spec, "name", None) and (
            callable(getattr(spec, "mutate_batch", None)) or callable(getattr(spec, "apply", None))
        ):
            resolved.append(spec)
        else:
            raise TypeError(
                f"operator {spec!r} is neither a name ('submit' or one of "
                "codegym.mutation.available_operators()) "
                "nor a codegym.mutation.MutationOperator"
            )
    names = [_op_name(op) for op in resolved]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ValueError(f"operator {dup!r} appears more than once in operators")
    if not names:
        raise ValueError("operators is empty; give at least one action")
    return resolved


def _op_name(op: Any) -> str:
    return op if isinstance(op, str) else str(op.name)


def mutate_batch(
    op: Any,
    texts: Sequence[str],
    rngs: Sequence[np.random.Generator],
    originals: Sequence[str],
    protected: Sequence[Sequence[str]],
) -> list[tuple[str, bool]]:
    """Apply one operator to several descriptions, in one batched call; ``(text, fallback)`` per text.

    :class:`~codegym.mutation.MutationOperator` objects get one ``mutate_batch`` call (the LLM rewrite
    makes one model call for all texts); other objects with ``apply(text, rng)`` are called per text.
    """
    if callable(getattr(op, "mutate_batch", None)):
        results = op.mutate_batch(
            list(texts), list(rngs), originals=list(originals), protected=list(protected)
        )
        out = [(r.text, bool(getattr(r, "fallback", False))) for r in results]
    else:
        out = [(op.apply(t, g), False) for t, g in zip(texts, rngs, strict=True)]
    if len(out) != len(texts):
        raise RuntimeError(f"operator {_op_name(op)!r} returned {len(out)} results for {len(texts)} texts")
    for i, (text, _) in enumerate(out):
        if not isinstance(text, str):
            raise TypeError(
                f"operator {_op_name(op)!r} returned {type(text).__name__}, not str, for text {i}"
            )
    return out


def protected_words(task: Task) -> tuple[str, ...]:
    """Names an operator must not change: the entry point and its parameters (from the reference solution)."""
    import ast
    import warnings

    names = [task.entry_point]
    source = task.prompt if task.metadata.get("prompt_is_code") else task.reference_solution
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return tuple(names)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == task.entry_point:
            args = node.args
            for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
                if a is not None and a.arg not in names:
                    names.append(a.arg)
            break
    return tuple(names)


# ----------------------------------------------------------------------------------------------------
# The environment
# ----------------------------------------------------------------------------------------------------


class PromptOptimizationEnv(gym.Env[np.ndarray, np.int64]):
    """Edit the description of a programming task until a frozen code model writes a correct program.

    ## Description

    Each episode is one task (MBPP, HumanEval or your own :class:`~codegym.tasks.Task` list). The
    environment renders the task as a prompt (:func:`codegym.tasks.prompts.split_prompt`), asks the code
    model (``backend``) for a program, and runs it against the task's tests in the sandboxed execution
    engine. Each action edits the natural-language description with a mutation operator; the edited
    prompt is sent to the model again and the program re-tested. Edits accumulate on the current prompt.
    Only the description changes: function signatures, names and the tests shown in the prompt stay
    intact.

    Unlike the PROMIS notebooks this environment descends from, tasks are sampled each episode (not
    problem 0 forever), edits accumulate (not always applied to the original), the observation is the
    prompt's sentence embedding (not ten hand-made features) and programs run in a sandbox with limits.

    ## Action Space

    ``Discrete(len(operators))``; action ``i`` applies ``operators[i]``. The defaults are
    :data:`DEFAULT_OPERATORS`:

    | action | name | effect |
    |---|---|---|
    | 0 | ``submit`` | end the episode with the current prompt (no model call) |
    | 1 | ``epic`` | EPiC local mutation: each eligible word replaced with probability 0.25 |
    | 2 | ``synonym`` | one WordNet synonym swap |
    | 3 | ``word_vector`` | one word-vector nearest-neighbour swap |
    | 4 | ``llm_rewrite`` | the ``rewriter`` model rephrases the description |
    | 5 | ``restore`` | put the original description back |

    ## Observation Space

    ``Box(-1, 1, (dim + 4,), float32)``: the embedding of the current full prompt (``dim`` = 384 with
    the default all-MiniLM-L6-v2 embedder) followed by four scalars: the step fraction
    (``steps / max_steps``), the current pass rate, the best pass rate of the episode, and whether the
    last program compiled (1.0) or not (0.0).

    ## Rewards

    ``reward_mode="delta"`` (default): the change in pass rate caused by the step (``submit``: 0), so an
    episode's return is the final pass rate minus the original prompt's. ``"promis"``: +1 when every
    test passes, -0.1 otherwise, on every step (PROMIS's reward). ``"final"``: the pass rate of the
    current prompt when the episode ends, 0 on other steps.

    ## Starting State

    ``reset`` picks a task with ``self.np_random`` (``sampling="random"``: uniformly with replacement;
    ``"shuffle"``: each task once per pass; ``"sequential"``: in order), or ``options={"task_id": ...}``
    / ``options={"task_index": ...}``. The original prompt is evaluated (one model call) so that the
    first observation carries its pass rate.

    ## Episode End

    Terminated when every feedback test passes or the agent submits; truncated after ``max_steps``
    steps.

    ## Info

    ``task_id``, ``step``, ``operator`` (the action's name, ``None`` after reset), ``changed`` (the
    operator altered the description), ``prompt``, ``description``, ``completion``, ``code``,
    ``status``, ``verdicts`` (``test``, ``outcome``, ``exception``, ``message`` per test),
    ``pass_rate``, ``hidden_pass_rate``, ``best_pass_rate``, ``best_prompt``, ``compiled``, ``solved``,
    ``model_calls`` (this episode's code-model plus rewriter calls, counting each distinct prompt once
    and ignoring caches shared across episodes), ``code_model_calls``, ``rewriter_calls`` and ``stats``
    (the evaluator's real work, a :class:`CallStats`).

    ## Arguments

    ```python
    # not run: loads Salesforce/codet5p-220m-py and all-MiniLM-L6-v2
    import gymnasium as gym
    import codegym

    env = gym.make("MBPPPrompt-v0", split="train", reward_mode="promis", max_steps=10)
    ```

    Args:
        dataset: Registered dataset name (:func:`codegym.tasks.load_tasks`), used when ``tasks`` is None.
        split: Split passed to the loader (``None`` for datasets without splits).
        tasks: Your own tasks instead of a dataset.
        task_ids: Keep only these task ids.
        path: Local data file for the loader (MBPP's jsonl).
        backend: The code model: a :class:`~codegym.backends.CodeGenerator`, a hub id or local directory,
            or ``"tiny-t5"`` (see :func:`resolve_backend`). Default :data:`DEFAULT_BACKEND`, loaded on the
            first reset.
        embedder: ``"minilm"`` (default), ``"hashing"`` or an embedder object (:func:`resolve_embedder`).
        operators: The actions, by name (``"submit"``, ``"restore"`` or a :mod:`codegym.mutation` operator
            name) or as operator objects with ``name`` and ``apply(text, rng)``.
        rewriter: Model of the ``llm_rewrite`` operator (a generator or spec, default
            :data:`DEFAULT_REWRITER`); loaded only when that action is first taken.
        reward_mode: One of :data:`REWARD_MODES`.
        max_steps: Steps before truncation.
        prompt_style: A style of :data:`codegym.tasks.prompts.PROMPT_STYLES`; ``None`` uses each task's
            default (``"mbpp"`` for MBPP, ``"humaneval"`` for HumanEval).
        feedback: ``"tests"`` (pass rate over the hidden tests, as PROMIS and EPiC) or ``"visible"``
            (only the tests shown in the prompt; ``info["hidden_pass_rate"]`` still reports the rest).
        executor: A :class:`~codegym.execution.SandboxExecutor`; default: the process-wide one.
        limits: Execution limits.
        temperature: Code-model temperature (0: greedy, deterministic).
        max_new_tokens: Token budget per program.
        stop: Stop sequences for the code model.
        postprocess: Mode of :func:`codegym.postprocess.postprocess`.
        sampling: ``"random"``, ``"shuffle"`` or ``"sequential"`` (see Starting State).
        evaluator: A :class:`PromptEvaluator` to share (the vector environment passes one); when given,
            ``backend``, ``embedder``, ``executor``, ``limits``, ``feedback``, ``temperature``,
            ``max_new_tokens``, ``stop`` and ``postprocess`` are taken from it.
        render_mode: ``"ansi"`` or ``"human"``.

    """

    metadata = {"render_modes": ["ansi", "human"], "render_fps": 4}

    def __init__(
        self,
        dataset: str = "mbpp",
        split: str | None = "test",
        *,
        tasks: Sequence[Task] | None = None,
        task_ids: Sequence[str] | None = None,
        path: str | None = None,
        backend: Any = None,
        embedder: Any = "minilm",
        operators: Sequence[Any] = DEFAULT_OPERATORS,
        rewriter: Any = None,
        reward_mode: str = "delta",
        max_steps: int = 10,
        prompt_style: str | None = None,
        feedback: str = "tests",
        executor: Any = None,
        limits: Limits | None = None,
        temperature: float = 0.0,
        max_new_tokens: int = 128,
        stop: Sequence[str] = (),
        postprocess: str = "auto",
        sampling: str = "random",
        evaluator: PromptEvaluator | None = None,
        render_mode: str | None = None,
    ) -> None:
        if reward_mode not in REWARD_MODES:
            raise ValueError(f"unknown reward_mode {reward_mode!r}; choose one of {REWARD_MODES}")
        if not isinstance(max_steps, int) or max_steps < 1:
            raise ValueError(f"max_steps must be an integer >= 1, got {max_steps!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"unknown render_mode {render_mode!r}; choose one of {self.metadata['render_modes']}"
            )

        from codegym.envs.code_generation import CodeGenerationEnv

        self.tasks: list[Task] = CodeGenerationEnv._load(dataset, split, tasks, task_ids, path)
        self.dataset = dataset if tasks is None else "custom"
        self.split = split
        self._index = {t.task_id: i for i, t in enumerate(self.tasks)}
        if evaluator is None:
            evaluator = PromptEvaluator(
                backend if backend is not None else DEFAULT_BACKEND,
                embedder,
                executor,
                limits=limits,
                feedback=feedback,
                temperature=temperature,
                max_new_tokens=max_new_tokens,
                stop=stop,
                postprocess=postprocess,
            )
            self._owns_evaluator = True
        else:
            self._owns_evaluator = False
        self.evaluator = evaluator
        if evaluator.feedback == "visible":
            bare = [t.task_id for t in self.tasks if not t.visible_tests]
            if bare:
                raise ValueError(
                    f"feedback='visible' needs tests shown in the prompt, but task {bare[0]} has none "
                    f"({len(bare)} tasks in all); use feedback='tests' or leave those tasks out"
                )
        self.operators = _resolve_operators(operators, rewriter)
        self.operator_names: list[str] = [_op_name(op) for op in self.operators]
        self.reward_mode = reward_mode
        self.max_steps = max_steps
        self.prompt_style = prompt_style
        self.sampling = sampling
        self.render_mode = render_mode
        self._splits: dict[int, tuple[str, Callable[[str], str], bool]] = {}

        self.action_space = spaces.Discrete(len(self.operators))
        self.observation_space = spaces.Box(-1.0, 1.0, shape=(evaluator.dim + NUM_SCALARS,), dtype=np.float32)

        self._sampler = EpisodeSampler(len(self.tasks), sampling)
        self._queued: int | None = None
        self._task_i: int | None = None
        self._done = True
        self._steps = 0
        self._description = ""
        self._prompt = ""
        self._current: Evaluation | None = None
        self._best: Evaluation | None = None
        self._seen_prompts: set[str] = set()
        self._code_calls = 0
        self._rewriter_calls = 0
        self._last_info: dict[str, Any] = {}
        self._pending: tuple[str, bool, bool] | None = None
        self._protected_cache: dict[int, tuple[str, ...]] = {}

    # ------------------------------------------------------------------ helpers

    @property
    def task(self) -> Task | None:
        """The current episode's task (``None`` before the first reset)."""
        return None if self._task_i is None else self.tasks[self._task_i]

    @property
    def queued_task(self) -> Task | None:
        """The task the next ``reset()`` without options will pick (sampled in advance)."""
        return None if self._queued is None else self.tasks[self._queued]

    def _split(self, index: int) -> tuple[str, Callable[[str], str], bool]:
        """``(original description, render, completion style?)`` of a task, computed once."""
        if index not in self._splits:
            from codegym.tasks.prompts import default_style, get_style, split_prompt

            task = self.tasks[index]
            style = get_style(self.prompt_style if self.prompt_style is not None else default_style(task))
            description, render = split_prompt(task, style)
            self._splits[index] = (description, render, style.completion)
        return self._splits[index]

    def _next_index(self) -> int:
        return self._sampler.next(self.np_random)

    def _request(self, index: int, description: str) -> tuple[Task, str, bool]:
        _, render, completion = self._split(index)
        return self.tasks[index], render(description), completion

    def _original_request(self, index: int) -> tuple[Task, str, bool]:
        return self._request(index, self._split(index)[0])

    def _observation(self) -> np.ndarray:
        cur, best = self._current, self._best
        assert cur is not None and best is not None
        scalars = np.array(
            [self._steps / self.max_steps, cur.pass_rate, best.pass_rate, 1.0 if cur.compiled else 0.0],
            dtype=np.float32,
        )
        return np.concatenate([cur.embedding, scalars]).astype(np.float32)

    def _consume(self, evaluation: Evaluation) -> None:
        """Make ``evaluation`` current: charge a model call for a prompt new to this episode, track best."""
        if evaluation.prompt not in self._seen_prompts:
            self._seen_prompts.add(evaluation.prompt)
            self._code_calls += 1
        self._current = evaluation
        if self._best is None or evaluation.pass_rate > self._best.pass_rate:
            self._best = evaluation

    def _info(self, operator: str | None, changed: bool, fallback: bool = False) -> dict[str, Any]:
        task, cur, best = self.task, self._current, self._best
        assert task is not None and cur is not None and best is not None
        tests = self.evaluator._run_tests(task)
        return {
            "task_id": task.task_id,
            "step": self._steps,
            "operator": operator,
            "changed": changed,
            "fallback": fallback,
            "prompt": cur.prompt,
            "description": self._description,
            "completion": cur.completion,
            "code": cur.code,
            "status": cur.result.status.value,
            "verdicts": [
                {
                    "test": tests[v.index] if 0 <= v.index < len(tests) else "",
                    "outcome": v.outcome.value,
                    "exception": v.exception,
                    "message": v.message,
                }
                for v in cur.result.tests
            ],
            "pass_rate": cur.pass_rate,
            "hidden_pass_rate": cur.hidden_pass_rate,
            "best_pass_rate": best.pass_rate,
            "best_prompt": best.prompt,
            "compiled": cur.compiled,
            "solved": cur.solved,
            "model_calls": self._code_calls + self._rewriter_calls,
            "code_model_calls": self._code_calls,
            "rewriter_calls": self._rewriter_calls,
            "stats": CallStats(**self.evaluator.stats.as_dict()),
        }

    # ------------------------------------------------------------------ the staged protocol
    # ``reset`` and ``step`` are each split in two halves around the evaluator call, so that a vector
    # environment can run the first half of N environments, evaluate all their prompts in one batch,
    # and run the second halves.

    def _begin_reset(self, seed: int | None, options: Mapping[str, Any] | None) -> None:
        """Seed, pick the task and restore its original description (no model call)."""
        gym.Env.reset(self, seed=seed)
        requested = requested_index(options, self._index, kind="task")
        if seed is not None or self._queued is None:
            self._sampler.restart()
            self._queued = self._next_index()
        if requested is not None:
            self._task_i = requested
        else:
            self._task_i = self._queued
            self._queued = self._next_index()
        self._description = self._split(self._task_i)[0]
        self._prompt = self._split(self._task_i)[1](self._description)
        self._steps = 0
        self._done = False
        self._current = self._best = None
        self._seen_prompts = set()
        self._code_calls = 0
        self._rewriter_calls = 0
        self._pending = None

    def _needed(self, prefetch: bool = False) -> list[tuple[Task, str, bool]]:
        """Return the prompts the second half of the current reset/step needs evaluated.

        With ``prefetch`` the original prompt of :attr:`queued_task` is added, so that an automatic reset
        after this step finds its evaluation cached (one model call per vector step, resets included).
        """
        out = []
        if self._pending is None or self._pending[0] != SUBMIT:
            assert self._task_i is not None
            out.append(self._request(self._task_i, self._description))
        if prefetch and self._queued is not None:
            out.append(self._original_request(self._queued))
        return out

    def _finish_reset(self) -> tuple[np.ndarray, dict[str, Any]]:
        assert self._task_i is not None
        evaluation = self.evaluator.lookup(self.tasks[self._task_i], self._prompt)
        if evaluation is None:  # not evaluated by a batch: do it now
            (evaluation,) = self.evaluator.evaluate([self._request(self._task_i, self._description)])
        self._consume(evaluation)
        info = self._info(None, False)
        self._last_info = info
        if self.render_mode == "human":
            self.render()
        return self._observation(), info

    def _check_action(self, action: Any) -> int:
        if self._task_i is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        if self._done:
            raise gym.error.ResetNeeded(
                "the episode is over (solved, submitted or out of steps); call reset()"
            )
        try:
            index = int(action)
        except (TypeError, ValueError):
            raise TypeError(f"the action must be an integer operator index, got {action!r}") from None
        if index != action or not 0 <= index < len(self.operators):
            raise ValueError(
                f"action {action!r} is not in Discrete({len(self.operators)}); the operators are "
                f"{self.operator_names}"
            )
        return index

    def _plan_step(
        self, action: Any
    ) -> tuple[Any, tuple[str, np.random.Generator, str, tuple[str, ...]]] | None:
        """Validate ``action``; apply it unless it calls a model, else return it for batching.

        Operators with ``uses_model = True`` (the LLM rewrite) come back as ``(operator, (description,
        rng, original, protected))`` for the caller to apply in a batch with :func:`mutate_batch` (one
        model call for every environment); the new text then goes to :meth:`_set_description`.
        """
        index = self._check_action(action)
        op = self.operators[index]
        self._pending = (self.operator_names[index], False, False)
        if op == SUBMIT:
            return None
        assert self._task_i is not None
        args = (
            self._description,
            self.np_random,
            self._split(self._task_i)[0],
            self._protected(self._task_i),
        )
        if getattr(op, "uses_model", False):
            self._rewriter_calls += 1
            return op, args
        ((text, fallback),) = mutate_batch(op, *([a] for a in args))
        self._set_description(text, fallback)
        return None

    def _protected(self, index: int) -> tuple[str, ...]:
        if index not in self._protected_cache:
            self._protected_cache[index] = protected_words(self.tasks[index])
        return self._protected_cache[index]

    def _set_description(self, description: str, fallback: bool = False) -> None:
        """Make ``description`` current (the second half of a model operator's action)."""
        assert self._pending is not None and self._task_i is not None
        self._pending = (self._pending[0], description != self._description, fallback)
        self._description = description
        self._prompt = self._split(self._task_i)[1](description)

    def _finish_step(self) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        assert self._pending is not None and self._task_i is not None and self._current is not None
        name, changed, fallback = self._pending
        self._steps += 1
        previous = self._current
        submitted = name == SUBMIT
        if not submitted:
            evaluation = self.evaluator.lookup(self.tasks[self._task_i], self._prompt)
            if evaluation is None:
                (evaluation,) = self.evaluator.evaluate([self._request(self._task_i, self._description)])
            self._consume(evaluation)
        cur = self._current
        terminated = submitted or cur.solved
        truncated = not terminated and self._steps >= self.max_steps
        if self.reward_mode == "delta":
            reward = cur.pass_rate - previous.pass_rate
        elif self.reward_mode == "promis":
            reward = 1.0 if cur.solved else -0.1
        else:
            reward = cur.pass_rate if (terminated or truncated) else 0.0
        self._done = terminated or truncated
        info = self._info(name, changed, fallback)
        self._pending = None
        self._last_info = info
        if self.render_mode == "human":
            self.render()
        return self._observation(), float(reward), terminated, truncated, info

    # ------------------------------------------------------------------ Gymnasium API

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode on a sampled task (or ``options["task_id"]`` / ``options["task_index"]``)."""
        self._begin_reset(seed, options)
        self.evaluator.evaluate(self._needed())
        return self._finish_reset()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Apply operator ``action`` to the description, regenerate the program and test it."""
        planned = self._plan_step(action)
        if planned is not None:
            op, args = planned
            ((text, fallback),) = mutate_batch(op, *([a] for a in args))
            self._set_description(text, fallback)
        self.evaluator.evaluate(self._needed())
        return self._finish_step()

    def render(self) -> str | None:
        """Show the current prompt and its outcome (``"ansi"`` returns the text, ``"human"`` prints it)."""
        if self.render_mode is None:
            gym.logger.warn(
                "render() was called without a render_mode; make the environment with render_mode='ansi'"
            )
            return None
        info = self._last_info
        if not info:
            text = "(no episode yet: call reset())"
        else:
            text = (
                f"=== {info['task_id']} step {info['step']}/{self.max_steps} "
                f"({info['operator'] or 'reset'}) ===\n{info['prompt']}\n--- {info['status']}: pass rate "
                f"{info['pass_rate']:.2f} (best {info['best_pass_rate']:.2f}), "
                f"{info['model_calls']} model calls"
            )
        if self.render_mode == "human":
            print(text)
            return None
        return text

    def close(self) -> None:
        """Release the code model if this environment loaded it (a shared evaluator belongs to its owner)."""
        if self._owns_evaluator:
            self.evaluator.close()
