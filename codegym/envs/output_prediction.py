"""The code output prediction environment: the observation is a program, the action is what it prints.

Items come from the procedural generator (:func:`codegym.tasks.procedural.generate_output_prediction`,
every expected output checked by running the program in the sandbox) or are passed in. Verified items
are cached on disk, keyed by the generator config and the generator's source, so that making the
environment a second time takes milliseconds.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
from gymnasium import spaces

from codegym.cache import cache_root
from codegym.envs.code_generation import CHARSET
from codegym.envs.sampling import SAMPLING_MODES as _SAMPLING
from codegym.envs.sampling import EpisodeSampler, requested_index
from codegym.tasks.procedural.output_prediction import (
    LANGUAGES,
    OUTPUT_FAMILIES,
    OutputPredictionConfig,
    OutputPredictionItem,
    format_question,
    generate_output_prediction,
)
from codegym.tasks.procedural.scoring import (
    PredictionScore,
    prediction_metrics,
    reward_table,
    score_prediction,
)

__all__ = [
    "CACHE_ENV",
    "DEFAULT_SIZE",
    "OBSERVATION_MODES",
    "CodeOutputPredictionEnv",
    "cache_dir",
    "cached_output_prediction",
    "episode_metrics",
]

#: Environment variable overriding codegym's cache folder (default ``~/.cache/codegym``).
CACHE_ENV = "CODEGYM_CACHE_DIR"
#: Programs generated when neither ``items`` nor ``config`` nor ``size`` is given.
DEFAULT_SIZE = 300
#: What the observation shows (see :class:`CodeOutputPredictionEnv`).
OBSERVATION_MODES = ("question", "program", "dict")
#: Called as ``reward(prediction, item, score)``; returns the step's reward.
RewardFn = Callable[[str, OutputPredictionItem, PredictionScore], float]

_FAMILY_NAMES = tuple(f.name for f in OUTPUT_FAMILIES)
# Modules whose source defines the generated items: a change to any of them invalidates the cache.
_GENERATOR_MODULES = (
    "codegym.tasks.procedural.common",
    "codegym.tasks.procedural.programs",
    "codegym.tasks.procedural.output_prediction",
)


# ----------------------------------------------------------------------------------------------------
# Cached generation


def cache_dir() -> Path:
    """Cache folder of generated items: ``$CODEGYM_CACHE_DIR/output_prediction``, else under
    ``$XDG_CACHE_HOME/codegym`` or ``~/.cache/codegym``.
    """  # noqa: D205
    return cache_root() / "output_prediction"


def _generator_fingerprint() -> str:
    digest = hashlib.sha256()
    for name in _GENERATOR_MODULES:
        module = importlib.import_module(name)
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()[:16]


def _cache_key(config: OutputPredictionConfig) -> str:
    from codegym.tasks.procedural.output_prediction import verifiable_languages

    payload = {
        "config": dataclasses.asdict(config),
        "generator": _generator_fingerprint(),
        # Items of a language the engine learns to run later become verified: a different result.
        "verifiable": list(verifiable_languages()),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


def cached_output_prediction(
    config: OutputPredictionConfig,
    cache: bool | str | os.PathLike[str] = True,
    executor: Any = None,
) -> list[OutputPredictionItem]:
    """Return ``generate_output_prediction(config)``, read from or written to the on-disk cache.

    Only verified generation (``config.verify``) is cached; unverified generation takes milliseconds.
    The file is ``<folder>/<key>.jsonl`` where the key hashes the config, the generator's source and
    the languages the execution engine can run. A cache file that cannot be read is regenerated
    (with a warning); a folder that cannot be written is reported with a warning and skipped.

    Args:
        config: What to generate.
        cache: ``True``: :func:`cache_dir`; ``False``: no cache; a path: that folder.
        executor: A :class:`~codegym.execution.SandboxExecutor` to verify with (default: a new one).

    """
    config.validate()
    if cache is False or not config.verify:
        return generate_output_prediction(config, executor=executor)
    folder = cache_dir() if cache is True else Path(cache)
    path = folder / f"{_cache_key(config)}.jsonl"
    if path.is_file():
        try:
            from codegym.tasks.procedural.io import load_jsonl

            items = load_jsonl(path)
            if len(items) == config.size * len(config.languages) and all(
                isinstance(i, OutputPredictionItem) for i in items
            ):
                return items  # type: ignore[return-value]
            gym.logger.warn(f"output-prediction cache {path} does not match its config; regenerating")
        except (OSError, ValueError, TypeError) as exc:
            gym.logger.warn(f"output-prediction cache {path} is unreadable ({exc}); regenerating")
    items = generate_output_prediction(config, executor=executor)
    _write_cache(path, items)
    return items


def _write_cache(path: Path, items: Sequence[OutputPredictionItem]) -> None:
    """Write ``items`` to ``path`` atomically (concurrent makers never see a partial file)."""
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.stem, suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for item in items:
                f.write(json.dumps(item.to_dict(), ensure_ascii=False) + "\n")
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache holds nothing secret
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        gym.logger.warn(
            f"cannot write the output-prediction cache in {path.parent} ({exc}); set {CACHE_ENV} to a "
            "writable folder or pass cache=False"
        )
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


# ----------------------------------------------------------------------------------------------------
# Metrics over episodes


def _step_records(infos: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Flatten single-env step infos and vector-env info dicts into per-episode records."""
    batches = [infos] if isinstance(infos, Mapping) else list(infos)
    records: list[dict[str, Any]] = []
    for info in batches:
        if not isinstance(info, Mapping):
            raise TypeError(f"infos must be step info dicts, got {type(info).__name__}")
        if "verdict" not in info:
            continue  # a reset info, or a vector step where no episode ended
        verdict = info["verdict"]
        if isinstance(verdict, str):
            records.append(dict(info))
            continue
        # A vector env's info: arrays per key, with "_key" masks saying which entries are set.
        mask = info.get("_verdict", [True] * len(verdict))
        for j, present in enumerate(mask):
            if present:
                records.append(
                    {k: v[j] for k, v in info.items() if not k.startswith("_") and hasattr(v, "__len__")}
                )
    return records


def episode_metrics(
    infos: Mapping[str, Any] | Iterable[Mapping[str, Any]], by: str | None = None
) -> dict[str, Any]:
    """Exact and close accuracy over episodes, from the ``info`` dicts that ``step`` returned.

    Accepts a list of single-environment step infos, a vector environment's step info (arrays with
    ``_verdict`` masks) or a list of those; infos without a ``verdict`` (reset infos) are skipped.

    Args:
        infos: Step infos.
        by: Also break the metrics down by an info key (``"family"``, ``"difficulty"``,
            ``"language"``): the result then has ``"by_<key>": {value: metrics}``.

    Returns:
        :func:`~codegym.tasks.procedural.prediction_metrics` of the verdicts: ``n``,
        ``exact_accuracy``, ``close_accuracy`` (exact or close) and ``<verdict>_rate`` for each verdict.

    """
    records = _step_records(infos)
    out: dict[str, Any] = prediction_metrics(PredictionScore(str(r["verdict"])) for r in records)
    if by is not None:
        if any(by not in r for r in records):
            raise ValueError(f"cannot group by {by!r}: not every step info has that key")
        groups: dict[Any, list[PredictionScore]] = {}
        for r in records:
            key = r[by].item() if hasattr(r[by], "item") else r[by]
            groups.setdefault(key, []).append(PredictionScore(str(r["verdict"])))
        out[f"by_{by}"] = {k: prediction_metrics(v) for k, v in sorted(groups.items(), key=str)}
    return out


# ----------------------------------------------------------------------------------------------------
# The environment


class CodeOutputPredictionEnv(gym.Env[Any, str]):
    """Predict exactly what a small program prints.

    ## Description

    Each episode is one output-prediction item: a short program (Python, JavaScript, C++ or Rust) whose
    first lines (of ``main`` in C++ and Rust) assign its input, from a family such as ``arithmetic``,
    ``strings``, ``recursion`` or ``exceptions`` at difficulty 1 to 3
    (:mod:`codegym.tasks.procedural.output_prediction`). The agent (usually a language model) reads the
    program and answers with the text it prints, as that language prints it (C++ writes ``1`` for
    ``true``, Rust ``Some(3)`` for an ``Option``). Expected outputs were checked by running the programs
    in the sandbox (C++ and Rust compiled there) when the items were generated; the environment itself
    runs nothing.

    ## Observation Space

    ``observation="question"`` (default): a :class:`~gymnasium.spaces.Text` of at most
    ``max_observation_chars`` characters over :data:`~codegym.envs.code_generation.CHARSET` (plus any
    other character the items use) holding
    :func:`~codegym.tasks.procedural.format_question`: the question and the program in a fenced block.
    ``"program"``: the same space holding the bare program. ``"dict"``: a
    :class:`~gymnasium.spaces.Dict` with ``program`` (Text), ``input`` (Text, the input assignments),
    ``language`` (``Discrete`` over :data:`~codegym.tasks.procedural.LANGUAGES`), ``family``
    (``Discrete`` over the family names, in catalogue order) and ``difficulty`` (``Discrete(3, start=1)``).

    ## Action Space

    A :class:`~gymnasium.spaces.Text` of at most ``max_action_chars`` characters over ``CHARSET``: the
    predicted output. ``step`` accepts any string; the space bounds what ``sample()`` produces.

    ## Rewards

    The prediction is judged by :func:`~codegym.tasks.procedural.score_prediction` (one verdict of
    ``exact``, ``close`` (whitespace / quote / number-format / ``true``-``True`` tolerant),
    ``wrong_type``, ``wrong``, ``error`` (empty answer)) and the verdict is mapped to a reward by
    ``reward``: a preset name of :data:`~codegym.tasks.procedural.REWARD_PRESETS` (default
    ``"reference"``: exact 10, close 5, otherwise 0), a ``{verdict: reward}`` mapping, or a callable
    ``reward(prediction, item, score) -> float``.

    ## Starting State

    ``reset`` picks an item with ``self.np_random`` (``sampling="random"``: uniformly, with
    replacement; ``"shuffle"``: each item once per pass in a random order; ``"sequential"``: in order),
    or the item given by ``options={"item_id": ...}`` or ``options={"item_index": ...}``.

    ## Episode End

    One step per episode: the episode terminates after the prediction. ``truncated`` is always False.

    ## Info

    ``reset``: ``item_id``, ``language``, ``family``, ``difficulty``, ``topic``, ``input``,
    ``verified`` (the expected output was checked in the sandbox). ``step`` adds ``expected_output``,
    ``verdict``, ``detail`` (why), ``exact`` and ``close`` (exact or close). :func:`episode_metrics`
    turns a list of step infos into exact and close accuracy; ``env.unwrapped.metrics()`` does the same
    for every episode this environment has scored.

    ## Arguments

    ```python
    import gymnasium as gym
    import codegym

    env = gym.make("CodeOutputPrediction-v0", split="eval", size=100, difficulty=(2, 3), reward="unit")
    ```

    Args:
        split: ``"train"`` or ``"eval"`` (disjoint programs). Default ``"train"``.
        size: Programs to generate (each rendered in every language). Default :data:`DEFAULT_SIZE`.
        seed: Generator seed (not the episode seed). Default 0.
        languages: Languages to render: a name or a sequence of :data:`~codegym.tasks.procedural.LANGUAGES`
            (``"python"``, ``"javascript"``, ``"cpp"``, ``"rust"``; default ``("python",)``). Every
            item is verified, so each language needs its toolchain (node, g++, rustc) on a cache miss;
            without one, ``gym.make`` raises :class:`~codegym.execution.toolchains.ToolchainMissing`
            (pass ``config=OutputPredictionConfig(..., verify=False)`` for unverified items).
        families: Family names to keep (default: all).
        difficulty: Difficulty levels to keep (default ``(1, 2, 3)``).
        config: A full :class:`~codegym.tasks.procedural.OutputPredictionConfig` instead of the
            keyword fields above.
        items: Your own items instead of generated ones (e.g. from
            :func:`~codegym.tasks.procedural.load_jsonl`).
        reward: Preset name, ``{verdict: reward}`` mapping or callable (see Rewards).
        observation: ``"question"``, ``"program"`` or ``"dict"`` (see Observation Space).
        sampling: ``"random"``, ``"shuffle"`` or ``"sequential"`` (see Starting State).
        cache: Cache generated items on disk: ``True`` (:func:`cache_dir`), ``False`` or a folder.
        executor: A :class:`~codegym.execution.SandboxExecutor` for verifying on a cache miss
            (default: a new one, closed afterwards).
        max_observation_chars: Bound of the observation's text; a longer item is an error.
        max_action_chars: Bound of the action space.
        render_mode: ``"ansi"`` (``render()`` returns text) or ``"human"`` (prints it).

    """

    metadata = {"render_modes": ["ansi", "human"], "render_fps": 4}

    def __init__(
        self,
        split: str | None = None,
        size: int | None = None,
        seed: int | None = None,
        languages: str | Sequence[str] | None = None,
        families: Sequence[str] | None = None,
        difficulty: int | Sequence[int] | None = None,
        *,
        config: OutputPredictionConfig | None = None,
        items: Sequence[OutputPredictionItem] | None = None,
        reward: str | Mapping[str, float] | RewardFn = "reference",
        observation: str = "question",
        sampling: str = "random",
        cache: bool | str | os.PathLike[str] = True,
        executor: Any = None,
        max_observation_chars: int = 8_192,
        max_action_chars: int = 4_096,
        render_mode: str | None = None,
    ) -> None:
        if observation not in OBSERVATION_MODES:
            raise ValueError(f"unknown observation {observation!r}; choose one of {OBSERVATION_MODES}")
        if sampling not in _SAMPLING:
            raise ValueError(f"unknown sampling {sampling!r}; choose one of {_SAMPLING}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"unknown render_mode {render_mode!r}; choose one of {self.metadata['render_modes']}"
            )
        for name, value in (
            ("max_observation_chars", max_observation_chars),
            ("max_action_chars", max_action_chars),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not (cache is True or cache is False or isinstance(cache, (str, os.PathLike))):
            raise TypeError(f"cache must be True, False or a folder path, got {cache!r}")

        fields = {
            "split": split,
            "size": size,
            "seed": seed,
            "languages": languages,
            "families": families,
            "difficulty": difficulty,
        }
        given = [k for k, v in fields.items() if v is not None]
        if items is not None:
            if given or config is not None:
                raise ValueError(
                    f"pass either items= or generator options, not both (got items and "
                    f"{given or ['config']}); filter your items before passing them"
                )
            self.items: list[OutputPredictionItem] = self._check_items(items)
            self.config: OutputPredictionConfig | None = None
        else:
            if config is not None and given:
                raise ValueError(
                    f"pass either config= or its fields {given}, not both; "
                    "change a config with dataclasses.replace(config, ...)"
                )
            if config is None:
                config = self._make_config(fields)
            elif not isinstance(config, OutputPredictionConfig):
                raise TypeError(f"config must be an OutputPredictionConfig, got {type(config).__name__}")
            self.config = config
            self.items = self._check_items(cached_output_prediction(config, cache=cache, executor=executor))

        self.reward_spec = reward
        self._reward_fn: RewardFn = self._resolve_reward(reward)
        self.observation_mode = observation
        self.sampling = sampling
        self.render_mode = render_mode
        self._index = {item.item_id: i for i, item in enumerate(self.items)}

        # Render every observation once: fixes the charset and fails early on an over-long item.
        self._texts = [self._text(item) for item in self.items]
        longest = max(range(len(self.items)), key=lambda i: len(self._texts[i]))
        if len(self._texts[longest]) > max_observation_chars:
            raise ValueError(
                f"the observation of item {self.items[longest].item_id} has {len(self._texts[longest])} "
                f"characters, more than max_observation_chars={max_observation_chars}; raise it or leave "
                "the item out"
            )
        extra = {ch for text in self._texts for ch in text} - CHARSET
        extra |= {ch for item in self.items for ch in item.input} - CHARSET
        self.charset: frozenset[str] = CHARSET | extra
        text_space = spaces.Text(max_length=max_observation_chars, min_length=0, charset=self.charset)
        if observation == "dict":
            for item in self.items:
                if item.family not in _FAMILY_NAMES or item.difficulty not in (1, 2, 3):
                    raise ValueError(
                        f"item {item.item_id} has family {item.family!r} and difficulty {item.difficulty!r}; "
                        f"the 'dict' observation encodes only the families {_FAMILY_NAMES} and difficulty "
                        "1 to 3: use observation='question' or 'program'"
                    )
            self.observation_space: spaces.Space[Any] = spaces.Dict(
                {
                    "program": text_space,
                    "input": text_space,
                    "language": spaces.Discrete(len(LANGUAGES)),
                    "family": spaces.Discrete(len(_FAMILY_NAMES)),
                    "difficulty": spaces.Discrete(3, start=1),
                }
            )
        else:
            self.observation_space = text_space
        self.action_space = spaces.Text(max_length=max_action_chars, min_length=0, charset=CHARSET)

        self.scores: list[PredictionScore] = []
        self._sampler = EpisodeSampler(len(self.items), sampling)
        self._item_i: int | None = None
        self._done = False
        self._last_info: dict[str, Any] = {}
        self._last_prediction: str | None = None

    # ------------------------------------------------------------------ set-up helpers

    @staticmethod
    def _make_config(fields: dict[str, Any]) -> OutputPredictionConfig:
        languages = fields["languages"]
        if isinstance(languages, str):
            languages = (languages,)
        difficulty = fields["difficulty"]
        if isinstance(difficulty, int) and not isinstance(difficulty, bool):
            difficulty = (difficulty,)
        families = fields["families"]
        if isinstance(families, str):
            families = (families,)
        config = OutputPredictionConfig(
            seed=0 if fields["seed"] is None else fields["seed"],
            size=DEFAULT_SIZE if fields["size"] is None else fields["size"],
            split="train" if fields["split"] is None else fields["split"],
            languages=("python",) if languages is None else tuple(languages),
            families=None if families is None else tuple(families),
            difficulty=(1, 2, 3) if difficulty is None else tuple(difficulty),
        )
        config.validate()
        return config

    @staticmethod
    def _check_items(items: Sequence[OutputPredictionItem]) -> list[OutputPredictionItem]:
        loaded = list(items)
        bad = [type(i).__name__ for i in loaded if not isinstance(i, OutputPredictionItem)]
        if bad:
            raise TypeError(
                f"items must be OutputPredictionItem objects, got {bad[0]}; load files with "
                "codegym.tasks.procedural.load_jsonl"
            )
        if not loaded:
            raise ValueError("no items to sample from: pass a non-empty list or a size > 0")
        ids = [i.item_id for i in loaded]
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise ValueError(f"item id {dup!r} appears more than once; item ids must be unique")
        unknown = sorted({i.language for i in loaded} - set(LANGUAGES))
        if unknown:
            raise ValueError(f"items have unknown languages {unknown}; known: {LANGUAGES}")
        return loaded

    @staticmethod
    def _resolve_reward(reward: str | Mapping[str, float] | RewardFn) -> RewardFn:
        if isinstance(reward, (str, Mapping)):
            table = reward_table(reward)  # raises, naming the presets or the missing verdicts
            return lambda prediction, item, score: table[score.verdict]
        if callable(reward):
            return reward
        raise TypeError(
            f"reward must be a preset name, a {{verdict: reward}} mapping or a callable "
            f"reward(prediction, item, score), got {type(reward).__name__}"
        )

    def _text(self, item: OutputPredictionItem) -> str:
        return format_question(item) if self.observation_mode == "question" else item.program

    def _observation(self, i: int) -> Any:
        item = self.items[i]
        if self.observation_mode != "dict":
            return self._texts[i]
        return {
            "program": item.program,
            "input": item.input,
            "language": LANGUAGES.index(item.language),
            "family": _FAMILY_NAMES.index(item.family),
            "difficulty": int(item.difficulty),
        }

    @property
    def item(self) -> OutputPredictionItem | None:
        """The current episode's item (``None`` before the first reset)."""
        return None if self._item_i is None else self.items[self._item_i]

    # ------------------------------------------------------------------ Gymnasium API

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Start an episode on a sampled item, or on ``options["item_id"]`` / ``options["item_index"]``."""
        super().reset(seed=seed)
        requested = requested_index(options, self._index, kind="item")
        if seed is not None:
            self._sampler.restart()
        self._item_i = requested if requested is not None else self._next_index()
        self._done = False
        self._last_prediction = None
        item = self.items[self._item_i]
        info = {
            "item_id": item.item_id,
            "language": item.language,
            "family": item.family,
            "difficulty": item.difficulty,
            "topic": item.metadata.get("topic", ""),
            "input": item.input,
            "verified": item.verified,
        }
        self._last_info = info
        if self.render_mode == "human":
            self.render()
        return self._observation(self._item_i), dict(info)

    def _next_index(self) -> int:
        return self._sampler.next(self.np_random)

    def step(self, action: str) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Score the predicted output ``action`` against the program's real output."""
        if self._item_i is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        if self._done:
            raise gym.error.ResetNeeded("the episode is over (one prediction per episode); call reset()")
        if not isinstance(action, str):
            raise TypeError(
                f"the action must be the predicted output as a str, got {type(action).__name__}; for chat "
                "messages pass the assistant message's content"
            )
        item = self.items[self._item_i]
        score = score_prediction(action, item.expected_output)
        reward = float(self._reward_fn(action, item, score))
        self._done = True
        self._last_prediction = action
        self.scores.append(score)
        info = {
            **self._last_info,
            "expected_output": item.expected_output,
            "verdict": score.verdict,
            "detail": score.detail,
            "exact": score.exact,
            "close": score.close,
        }
        self._last_info = info
        if self.render_mode == "human":
            self.render()
        return self._observation(self._item_i), reward, True, False, info

    # ------------------------------------------------------------------ metrics and rendering

    def metrics(self) -> dict[str, float]:
        """Exact accuracy, close accuracy and verdict shares over every step of this environment."""
        return prediction_metrics(self.scores)

    def reset_metrics(self) -> None:
        """Forget the verdicts counted by :meth:`metrics`."""
        self.scores.clear()

    def render(self) -> str | None:
        """Show the current program and, after a step, the prediction and its verdict."""
        if self.render_mode is None:
            gym.logger.warn(
                "render() was called without a render_mode; make the environment with render_mode='ansi' "
                "or 'human'"
            )
            return None
        item = self.item
        if item is None:
            text = "(no episode yet: call reset())"
        else:
            text = (
                f"=== {item.item_id} ({item.family}, difficulty {item.difficulty}) ===\n"
                f"{self._texts[self._item_i] if self._item_i is not None else ''}"
            )
            if self._last_prediction is not None:
                text += (
                    f"\n--- predicted ---\n{self._last_prediction}\n--- expected ---\n"
                    f"{item.expected_output}--- verdict: {self._last_info['verdict']}"
                )
        if self.render_mode == "human":
            print(text)
            return None
        return text

    def close(self) -> None:
        """Nothing to release: the environment runs no programs."""
