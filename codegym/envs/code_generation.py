"""The code-generation environment: the observation is a programming task, the action is the program."""

from __future__ import annotations

import string
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
from gymnasium import spaces

from codegym.envs.sampling import SAMPLING_MODES as _SAMPLING
from codegym.envs.sampling import EpisodeSampler, requested_index
from codegym.execution.results import ExecutionResult, Limits, Outcome
from codegym.postprocess import MODES, Extraction, postprocess
from codegym.rewards import RewardContext, RewardSpec, get_reward
from codegym.tasks.base import Task

__all__ = ["CHARSET", "CodeGenerationEnv", "StepTimings"]


def _build_charset() -> frozenset[str]:
    """Printable ASCII and whitespace plus the non-ASCII characters that show up in task texts."""
    ranges = (
        (0x00A0, 0x017F),  # Latin-1 supplement (², ³, é, ...) and Latin Extended-A
        (0x0370, 0x03FF),  # Greek (π, Σ, ...)
        (0x2010, 0x205E),  # dashes, quotes, ellipsis, primes
        (0x2070, 0x209F),  # super- and subscripts
        (0x20A0, 0x20C0),  # currency signs
        (0x2100, 0x214F),  # letterlike symbols
        (0x2190, 0x21FF),  # arrows
        (0x2200, 0x22FF),  # mathematical operators (≤, ≠, ∑, ...)
        (0x2500, 0x25FF),  # box drawing, blocks, geometric shapes
        (0x2794, 0x27BF),  # dingbat arrows (➞ in MBPP)
        (0x27F0, 0x27FF),  # supplemental arrows
    )
    chars = set(string.printable)
    for lo, hi in ranges:
        for code in range(lo, hi + 1):
            ch = chr(code)
            if unicodedata.category(ch) not in ("Cn", "Cc", "Cf", "Co", "Cs"):
                chars.add(ch)
    return frozenset(chars)


#: Characters of the observation and action :class:`~gymnasium.spaces.Text` spaces: printable ASCII,
#: whitespace, and the Latin, Greek, punctuation, arrow and math characters of real task texts (every
#: MBPP and HumanEval prompt is inside it). An environment adds any other character its tasks' prompts use.
CHARSET: frozenset[str] = _build_charset()


@dataclass(frozen=True, eq=False)
class StepTimings:
    """Wall-clock measurements of one step, in seconds (generation happens outside the environment).

    Timings are measurements, not part of the environment's transition: two ``StepTimings`` always
    compare equal, so that the same seed and actions give equal ``info`` dicts (as Gymnasium's
    ``check_env`` requires) although the clock never repeats.

    Attributes:
        postprocess_s: Extracting the program from the completion.
        execution_s: Running the program against the tests, as seen by the environment (includes the
            engine's queueing and process overhead).
        reward_s: Computing every reward term.
        step_s: The whole ``step`` call.
        engine_s: The engine's own measurement of the candidate (``ExecutionResult.duration_s``).
        tests_s: Each test's duration as measured inside the sandbox.
        cached: The engine answered from its result cache.

    """

    postprocess_s: float = 0.0
    execution_s: float = 0.0
    reward_s: float = 0.0
    step_s: float = 0.0
    engine_s: float = 0.0
    tests_s: tuple[float, ...] = field(default_factory=tuple)
    cached: bool = False

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StepTimings)

    def __hash__(self) -> int:
        return hash(StepTimings)

    def as_dict(self) -> dict[str, Any]:
        """Return the measurements as a plain dict (for logging)."""
        return {
            "postprocess_s": self.postprocess_s,
            "execution_s": self.execution_s,
            "reward_s": self.reward_s,
            "step_s": self.step_s,
            "engine_s": self.engine_s,
            "tests_s": list(self.tests_s),
            "cached": self.cached,
        }


class CodeGenerationEnv(gym.Env[str, str]):
    """Write a program that passes a task's hidden unit tests.

    ## Description

    Each episode is one programming task (MBPP, HumanEval or any list of :class:`~codegym.tasks.Task`).
    The agent (usually a language model) reads the prompt and answers with a completion; the
    environment extracts the program from it (:mod:`codegym.postprocess`), runs it against the task's
    hidden tests in the sandboxed execution engine (:mod:`codegym.execution`) and scores the outcome
    with a composite reward (:mod:`codegym.rewards`).

    ## Observation Space

    A :class:`~gymnasium.spaces.Text` of at most ``max_observation_chars`` characters over
    :data:`CHARSET` (plus any other character the tasks' prompts use): the task's prompt rendered in
    ``prompt_style`` (:func:`codegym.tasks.prompts.format_prompt`). In multi-turn mode
    (``max_attempts > 1``) the observation after a failed attempt also holds the previous program,
    the failing tests and their error messages: after the prompt for whole-program styles, or as
    ``#`` comments before it for completion styles (so the model still continues the signature).
    Feedback characters outside the charset are replaced by ``?`` and the feedback is shortened to
    keep the observation within ``max_observation_chars``.

    ## Action Space

    A :class:`~gymnasium.spaces.Text` of at most ``max_action_chars`` characters over :data:`CHARSET`:
    the completion. ``step`` accepts any string (models emit characters outside any fixed set); the
    space bounds what ``action_space.sample()`` produces.

    ## Rewards

    ``reward`` (a preset name, :class:`~codegym.rewards.CompositeReward`, ``{term: weight}`` mapping
    or your own terms; see :func:`codegym.rewards.get_reward`). The default ``"execution"`` preset gives
    1.0 when every test passes, 0 otherwise, -0.2 for a syntax error, plus 0.1 x readability.
    ``info["reward_terms"]`` reports every term, including those with weight 0.

    ## Starting State

    ``reset`` picks a task with ``self.np_random`` (``sampling="random"``: uniformly, with replacement;
    ``"shuffle"``: each task once per pass in a random order; ``"sequential"``: in order), or the task
    given by ``options={"task_id": ...}`` or ``options={"task_index": ...}`` (so that a group of
    environments can share one task, as GRPO needs).

    ## Episode End

    The episode terminates when every test passes or after ``max_attempts`` attempts (default 1: one
    step per episode). The attempt budget is part of the problem, so running out of attempts is
    termination, not truncation; ``truncated`` is always False.

    ## Info

    ``reset``: ``task_id``, ``entry_point``, ``prompt_style``, ``attempt`` (0), ``max_attempts``.
    ``step`` adds: ``attempt``, ``solved``, ``completion_chars``, ``code`` (the executed program),
    ``code_found``, ``extraction``, ``status``, ``passed``, ``num_passed``, ``num_tests``,
    ``pass_fraction``, ``verdicts`` (one dict per test: ``test``, ``outcome``, ``exception``,
    ``message``), ``error``, ``reward_terms``, ``reward_weights``, ``reward_valid`` (False when the
    engine itself failed) and ``timings`` (a :class:`StepTimings`).

    ## Arguments

    ```python
    import gymnasium as gym
    import codegym

    env = gym.make("MBPPCodeGen-v0", split="test", reward="weighted", max_attempts=3)
    ```

    Args:
        dataset: Registered dataset name (:func:`codegym.tasks.load_tasks`), used when ``tasks`` is None.
        split: Split passed to the loader. Datasets without splits (HumanEval) take ``None`` or
            ``"test"`` (all their tasks).
        tasks: Your own tasks instead of a dataset.
        task_ids: Keep only these task ids (in this order).
        path: Local data file passed to the loader as ``path``.
        reward: What :func:`codegym.rewards.get_reward` accepts.
        max_attempts: Attempts per episode; > 1 gives multi-turn episodes with feedback.
        prompt_style: A style of :data:`codegym.tasks.prompts.PROMPT_STYLES`; ``None`` uses each task's
            default (``"humaneval"`` for code prompts, ``"mbpp"`` otherwise).
        postprocess: A mode of :func:`codegym.postprocess.postprocess` (``"auto"`` by default).
        stop: Extra stop sequences applied to each completion.
        limits: Execution limits; default: the reward's limits (3 s per test for ``"execution"``).
        executor: A :class:`~codegym.execution.SandboxExecutor` (or anything with its ``run``);
            default: the process-wide :func:`~codegym.execution.get_default_executor`.
        sampling: ``"random"``, ``"shuffle"`` or ``"sequential"`` (see Starting State).
        max_observation_chars: Bound of the observation space; prompts longer than this are an error.
        max_action_chars: Bound of the action space.
        feedback_chars: Most characters of feedback added to the prompt in multi-turn mode.
        render_mode: ``"ansi"`` (``render()`` returns text) or ``"human"`` (prints it).
        language: Programming language of the tasks (``"python"``, ``"javascript"``, ``"cpp"``,
            ``"rust"``); ``None`` keeps the tasks' own. Procedural synthesis tasks are rendered in it
            (:mod:`codegym.tasks.procedural.translate`); other datasets exist only in Python and raise
            ``ValueError``; a language whose toolchain is missing raises ``ToolchainMissing``.

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
        reward: RewardSpec = "execution",
        max_attempts: int = 1,
        prompt_style: str | None = None,
        postprocess: str = "auto",
        stop: Sequence[str] = (),
        limits: Limits | None = None,
        executor: Any = None,
        sampling: str = "random",
        max_observation_chars: int = 16_384,
        max_action_chars: int = 16_384,
        feedback_chars: int = 3_000,
        render_mode: str | None = None,
        language: str | None = None,
    ) -> None:
        if not isinstance(max_attempts, int) or max_attempts < 1:
            raise ValueError(f"max_attempts must be an integer >= 1, got {max_attempts!r}")
        if postprocess not in MODES:
            raise ValueError(f"unknown postprocess mode {postprocess!r}; choose one of {MODES}")
        if sampling not in _SAMPLING:
            raise ValueError(f"unknown sampling {sampling!r}; choose one of {_SAMPLING}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"unknown render_mode {render_mode!r}; choose one of {self.metadata['render_modes']}"
            )
        if isinstance(stop, str):
            raise TypeError("stop must be a sequence of strings, not a single string; wrap it in a list")
        for name, value in (
            ("max_observation_chars", max_observation_chars),
            ("max_action_chars", max_action_chars),
            ("feedback_chars", feedback_chars),
        ):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")

        self.tasks: list[Task] = self._load(dataset, split, tasks, task_ids, path)
        if language is not None:
            from codegym.tasks.procedural.translate import tasks_in_language

            self.tasks = tasks_in_language(self.tasks, language)
        self.dataset = dataset if tasks is None else "custom"
        self.split = split
        self.reward_fn = get_reward(reward)
        self.limits = limits if limits is not None else self.reward_fn.limits
        if self.limits is not None:
            self.limits.validate()
        self.max_attempts = max_attempts
        self.prompt_style = prompt_style
        self.postprocess_mode = postprocess
        self.stop = tuple(stop)
        self.sampling = sampling
        self.feedback_chars = feedback_chars
        self.render_mode = render_mode
        self._executor = executor
        self._index = {t.task_id: i for i, t in enumerate(self.tasks)}

        # Render every prompt once: fails early on a style that does not fit a task, and fixes the
        # spaces so that every prompt is inside the observation space.
        self._prompts: list[tuple[str, str, bool]] = [self._render(t) for t in self.tasks]
        longest = max(range(len(self.tasks)), key=lambda i: len(self._prompts[i][0]))
        if len(self._prompts[longest][0]) > max_observation_chars:
            raise ValueError(
                f"the prompt of task {self.tasks[longest].task_id} has {len(self._prompts[longest][0])} "
                f"characters, more than max_observation_chars={max_observation_chars}; raise "
                "max_observation_chars or leave the task out"
            )
        extra = {ch for prompt, _, _ in self._prompts for ch in prompt} - CHARSET
        self.charset: frozenset[str] = CHARSET | extra
        self.observation_space = spaces.Text(
            max_length=max_observation_chars, min_length=0, charset=self.charset
        )
        self.action_space = spaces.Text(max_length=max_action_chars, min_length=0, charset=CHARSET)

        self._sampler = EpisodeSampler(len(self.tasks), sampling)
        self._task_i: int | None = None
        self._attempt = 0
        self._done = False
        self._observation = ""
        self._last_info: dict[str, Any] = {}
        self.last_result: ExecutionResult | None = None

    # ------------------------------------------------------------------ set-up helpers

    @staticmethod
    def _load(
        dataset: str,
        split: str | None,
        tasks: Sequence[Task] | None,
        task_ids: Sequence[str] | None,
        path: str | None,
    ) -> list[Task]:
        if tasks is not None:
            loaded = list(tasks)
            bad = [type(t).__name__ for t in loaded if not isinstance(t, Task)]
            if bad:
                raise TypeError(f"tasks must be codegym.tasks.Task objects, got {bad[0]}")
        else:
            from codegym.tasks import dataset_info, load_tasks

            info = dataset_info(dataset)  # raises, listing the registered datasets, for an unknown name
            kwargs: dict[str, Any] = {}
            if info.splits and split is not None:
                kwargs["split"] = split
            elif split not in (None, "test"):
                raise ValueError(
                    f"dataset {dataset!r} has no splits (all its tasks form one test set); "
                    f"pass split=None or 'test', not {split!r}"
                )
            if path is not None:
                kwargs["path"] = path
            loaded = load_tasks(dataset, **kwargs)
        if task_ids is not None:
            if isinstance(task_ids, str):
                raise TypeError(
                    "task_ids must be a sequence of task ids, not a single string; wrap it in a list"
                )
            by_id = {t.task_id: t for t in loaded}
            missing = [i for i in task_ids if i not in by_id]
            if missing:
                raise ValueError(
                    f"task_ids {missing[:5]} are not in the {len(loaded)} loaded tasks "
                    f"(ids look like {[t.task_id for t in loaded[:3]]})"
                )
            loaded = [by_id[i] for i in task_ids]
        if not loaded:
            raise ValueError("no tasks to sample from: the dataset split, tasks or task_ids left none")
        ids = [t.task_id for t in loaded]
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise ValueError(f"task id {dup!r} appears more than once; task ids must be unique")
        return loaded

    def _render(self, task: Task) -> tuple[str, str, bool]:
        """``(prompt, style name, completion style?)`` for one task."""
        from codegym.tasks.prompts import default_style, format_prompt, get_style

        style = get_style(self.prompt_style if self.prompt_style is not None else default_style(task))
        return format_prompt(task, style), style.name, style.completion

    @property
    def executor(self) -> Any:
        """The execution engine (the process-wide default unless one was given)."""
        if self._executor is None:
            from codegym.execution import get_default_executor

            self._executor = get_default_executor()
        return self._executor

    @property
    def task(self) -> Task | None:
        """The current episode's task (``None`` before the first reset)."""
        return None if self._task_i is None else self.tasks[self._task_i]

    # ------------------------------------------------------------------ Gymnasium API

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        """Start an episode on a sampled task, or on ``options["task_id"]`` / ``options["task_index"]``."""
        super().reset(seed=seed)
        requested = requested_index(options, self._index, kind="task")
        if seed is not None:
            self._sampler.restart()
        self._task_i = requested if requested is not None else self._next_index()
        self._attempt = 0
        self._done = False
        self.last_result = None
        prompt, style, _ = self._prompts[self._task_i]
        self._observation = prompt
        task = self.tasks[self._task_i]
        info = {
            "task_id": task.task_id,
            "entry_point": task.entry_point,
            "prompt_style": style,
            "attempt": 0,
            "max_attempts": self.max_attempts,
        }
        self._last_info = info
        if self.render_mode == "human":
            self.render()
        return prompt, dict(info)

    def _next_index(self) -> int:
        return self._sampler.next(self.np_random)

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Run the program in ``action`` against the task's tests and score it."""
        if self._task_i is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        if self._done:
            raise gym.error.ResetNeeded("the episode is over (solved or out of attempts); call reset()")
        if not isinstance(action, str):
            raise TypeError(
                f"the action must be the completion as a str, got {type(action).__name__}; for chat "
                "messages pass the assistant message's content"
            )
        task = self.tasks[self._task_i]
        prompt, style, completion_style = self._prompts[self._task_i]
        t0 = time.perf_counter()
        extraction = postprocess(
            action,
            task,
            mode=self.postprocess_mode,
            stop=self.stop,
            prompt=prompt if completion_style else None,
        )
        t1 = time.perf_counter()
        result = self.executor.run(
            extraction.code,
            list(task.tests),
            setup=task.test_setup,
            limits=self.limits,
            language=task.language,
            entry_point=task.entry_point,
        )
        t2 = time.perf_counter()
        ctx = RewardContext(
            completion=action,
            code=extraction.code,
            result=result,
            task=task,
            code_found=extraction.found,
            limits=self.limits,
        )
        breakdown = self.reward_fn.evaluate(ctx)
        t3 = time.perf_counter()

        self._attempt += 1
        self.last_result = result
        solved = result.passed
        terminated = solved or self._attempt >= self.max_attempts
        self._done = terminated
        if not terminated:
            self._observation = self._with_feedback(prompt, completion_style, extraction, result, task)
        timings = StepTimings(
            postprocess_s=t1 - t0,
            execution_s=t2 - t1,
            reward_s=t3 - t2,
            step_s=time.perf_counter() - t0,
            engine_s=result.duration_s,
            tests_s=tuple(v.duration_s for v in result.tests),
            cached=result.cached,
        )
        info = {
            "task_id": task.task_id,
            "entry_point": task.entry_point,
            "prompt_style": style,
            "attempt": self._attempt,
            "max_attempts": self.max_attempts,
            "solved": solved,
            "completion_chars": len(action),
            "code": extraction.code,
            "code_found": extraction.found,
            "extraction": extraction.method,
            "status": result.status.value,
            "passed": result.passed,
            "num_passed": result.num_passed,
            "num_tests": len(result.tests),
            "pass_fraction": result.pass_fraction,
            "verdicts": [
                {
                    "test": task.tests[v.index] if 0 <= v.index < len(task.tests) else "",
                    "outcome": v.outcome.value,
                    "exception": v.exception,
                    "message": v.message,
                }
                for v in result.tests
            ],
            "error": result.message,
            "reward_terms": dict(breakdown.terms),
            "reward_weights": dict(breakdown.weights),
            "reward_valid": breakdown.valid,
            "timings": timings,
        }
        if result.status is Outcome.INFRA:
            gym.logger.warn(f"the execution engine failed on task {task.task_id}: {result.message}")
        self._last_info = info
        if self.render_mode == "human":
            self.render()
        return self._observation, float(breakdown.total), terminated, False, info

    # ------------------------------------------------------------------ multi-turn feedback

    def _sanitize(self, text: str) -> str:
        return "".join(ch if ch in self.charset else "?" for ch in text)

    def _with_feedback(
        self, prompt: str, completion_style: bool, extraction: Extraction, result: ExecutionResult, task: Task
    ) -> str:
        """Build the next observation: the prompt plus what went wrong, within the observation bound."""
        lines = [
            f"Attempt {self._attempt} of {self.max_attempts}: {result.num_passed} of {len(result.tests)} "
            f"tests passed (status: {result.status.value})."
        ]
        if result.status in (Outcome.SYNTAX_ERROR, Outcome.COMPILE_ERROR, Outcome.CRASHED, Outcome.INFRA):
            lines.append(f"Error: {result.message.strip()}" if result.message.strip() else "")
        failing = [v for v in result.tests if not v.passed]
        if failing:
            lines.append(f"Failing tests ({len(failing)} of {len(result.tests)}):")
            for v in failing[:5]:
                test = task.tests[v.index].strip() if 0 <= v.index < len(task.tests) else f"test {v.index}"
                why = v.outcome.value + (f": {v.exception}" if v.exception else "")
                if v.message.strip():
                    why += f": {v.message.strip()}"
                lines.append(f"{test}\n  -> {why[:300]}")
            if len(failing) > 5:
                lines.append(f"... and {len(failing) - 5} more")
        code_budget = max(0, self.feedback_chars // 2)
        code = (
            extraction.code
            if len(extraction.code) <= code_budget
            else extraction.code[:code_budget] + "\n..."
        )
        lines.append("Your previous program:\n" + code.rstrip())
        feedback = self._sanitize("\n".join(ln for ln in lines if ln))[: self.feedback_chars]
        limit = self.observation_space.max_length
        while True:
            if completion_style:
                commented = "\n".join("# " + ln if ln else "#" for ln in feedback.split("\n"))
                observation = f"{commented}\n# Fix the function below.\n\n{prompt}"
            else:
                observation = f"{prompt}\n\n### Feedback\n{feedback}\n\nWrite the corrected program.\n"
            if len(observation) <= limit or not feedback:
                return observation[-limit:] if completion_style else observation[:limit]
            feedback = feedback[: max(0, len(feedback) - (len(observation) - limit) - 1)]

    # ------------------------------------------------------------------ rendering

    def render(self) -> str | None:
        """Show the current prompt and the last step's outcome (``"ansi"`` returns it, ``"human"`` prints)."""
        if self.render_mode is None:
            gym.logger.warn(
                "render() was called without a render_mode; make the environment with render_mode='ansi' "
                "or 'human'"
            )
            return None
        task = self.task
        if task is None:
            text = "(no episode yet: call reset())"
        else:
            text = (
                f"=== {task.task_id} (attempt {self._attempt}/{self.max_attempts}) ===\n{self._observation}"
            )
            info = self._last_info
            if "status" in info:
                text += (
                    f"\n--- {info['status']}: {info['num_passed']}/{info['num_tests']} tests passed; "
                    f"reward terms { ({k: round(v, 3) for k, v in info['reward_terms'].items()}) }"
                )
        if self.render_mode == "human":
            print(text)
            return None
        return text

    def close(self) -> None:
        """Nothing to release: the default executor is shared, a given executor belongs to the caller."""
