"""The ``SynthPrompt-v0`` benchmark: prompt optimization over procedural tasks with codegym's small model.

```SynthPrompt-v0`` is :class:`~codegym.envs.prompt_optimization.PromptOptimizationEnv` (the environment
of ``MBPPPrompt-v0``: same observation, operators and rewards) with these arguments changed:

* **tasks**: the function-synthesis suite (dataset :data:`BENCHMARK_DATASET`), each task worded in a
  phrasing group the small model was *not* trained on (:func:`load_benchmark_tasks`), so that the first
  prompt of an episode often fails and rewording it helps;
* **backend**: the small code model (:class:`~codegym.models.small.SmallModelGenerator`, trained on first
  use and cached), fast enough on a CPU for PPO to train in minutes;
* **rewriter**: the ``llm_rewrite`` operator's model is :class:`PhrasingCatalogueRewriter`, which rewrites
  a description into another phrasing of the same task from the suite's catalogue, instead of asking a
  3B-parameter chat model (which a CPU-only, offline machine does not have);
* **max_steps**: 4 (:data:`BENCHMARK_MAX_STEPS`) instead of 10.

Why the rewriter: the word-level operators (EPiC mutation, WordNet synonym, word-vector neighbour) change
single words and keep the sentence frame, and ``restore_original`` returns to the starting wording, so
none of them can turn a held-out phrasing (``"Create a function named f that ..."``) into a trained one
(``"Write a function f that takes ..."``); an LLM rewrite can. The catalogue rewriter plays the LLM: it
is blind to which groups the model was trained on, keeps every name, number and quoted value (the same
checks :class:`~codegym.mutation.LLMRewrite` applies to a real model's output), and is deterministic.
Pass ``rewriter="meta-llama/Llama-3.2-3B-Instruct"`` (or any generator) to use a real model instead.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import Any

from codegym.backends.base import CodeGenerator, validate_generation_args
from codegym.tasks.base import Task

__all__ = [
    "BENCHMARK_DATASET",
    "BENCHMARK_ENV_ID",
    "BENCHMARK_MAX_STEPS",
    "PhrasingCatalogue",
    "PhrasingCatalogueRewriter",
    "benchmark_env_kwargs",
    "load_benchmark_tasks",
]

#: The registered Gymnasium id of the benchmark.
BENCHMARK_ENV_ID = "SynthPrompt-v0"
#: The task-registry name of the benchmark's tasks (:func:`load_benchmark_tasks`).
BENCHMARK_DATASET = "procedural/synthesis-benchmark"
#: Edits per episode. A trained wording is at most three rewrites from any starting wording, so four
#: steps are enough for an agent that knows what to do, while random operators often run out (with ten
#: steps random search catches up: see docs/small_model.md).
BENCHMARK_MAX_STEPS = 4
#: Default number of tasks per split.
DEFAULT_SIZES = {"train": 500, "eval": 200}

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+|'[^']*'|\"[^\"]*\"")
_DESCRIPTION = re.compile(r"\nDescription:\n(.*)\n\nRewritten description:", re.DOTALL)


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)}


def _similarity(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


class PhrasingCatalogue:
    """Every phrasing of the synthesis tasks seen so far, looked up by (possibly edited) description.

    :func:`load_benchmark_tasks` adds the tasks it returns to :data:`CATALOGUE`; call :meth:`add` for
    tasks built another way. A description is matched to its task by the function name it contains
    (mutation operators never change it) and, among tasks sharing that name, by word overlap.
    """

    def __init__(self) -> None:
        self._by_name: dict[str, list[dict[str, str]]] = {}
        self._keys: set[str] = set()

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, tasks: Iterable[Task]) -> None:
        """Index the phrasings (``task.metadata["phrasings"]``) of synthesis tasks.

        Raises:
            ValueError: A task without phrasings (not a synthesis task).

        """
        for task in tasks:
            phrasings = task.metadata.get("phrasings")
            if not isinstance(phrasings, dict) or not phrasings:
                raise ValueError(
                    f"task {task.task_id!r} has no metadata['phrasings']; the phrasing catalogue takes "
                    "procedural synthesis tasks"
                )
            key = repr(sorted(phrasings.items()))
            if key in self._keys:
                continue
            self._keys.add(key)
            self._by_name.setdefault(task.entry_point, []).append(dict(phrasings))

    def lookup(self, text: str) -> tuple[dict[str, str], str] | None:
        """``(phrasings, current group)`` of the task ``text`` describes, or ``None`` if it is unknown."""
        words = _words(text)
        best: tuple[float, dict[str, str], str] | None = None
        for name in {w for w in _WORD.findall(text)} & self._by_name.keys():
            for phrasings in self._by_name[name]:
                for group, phrasing in phrasings.items():
                    score = _similarity(words, _words(phrasing))
                    if best is None or score > best[0]:
                        best = (score, phrasings, group)
        return None if best is None else (best[1], best[2])


#: The process-wide catalogue :class:`PhrasingCatalogueRewriter` uses by default.
CATALOGUE = PhrasingCatalogue()


class PhrasingCatalogueRewriter(CodeGenerator):
    """A stand-in for the LLM rewriter: rewrites a task description into another phrasing from the catalogue.

    It receives the prompts :class:`~codegym.mutation.LLMRewrite` builds (instruction, then
    ``Description:`` and the text), finds the task in the :class:`PhrasingCatalogue`, and answers with the
    task's description in another phrasing group. Like an instructed LLM it keeps every code, number and
    quoted token of the input and stays within a factor 4 of its length; among the groups that qualify
    it takes the next one in a fixed per-task cyclic order of the six groups (``temperature == 0``), so
    repeated rewrites visit every group, or a seeded random one (``temperature > 0``). It does not know
    which groups the code model was trained on. An unknown description comes back unchanged.

    Args:
        catalogue: The catalogue to search (default: the process-wide :data:`CATALOGUE`, which
            :func:`load_benchmark_tasks` fills).

    """

    name = "phrasing-catalogue"

    def __init__(self, catalogue: PhrasingCatalogue | None = None) -> None:
        self.catalogue = catalogue

    def __repr__(self) -> str:
        return "PhrasingCatalogueRewriter()"

    def __deepcopy__(self, memo: dict[int, Any]) -> PhrasingCatalogueRewriter:
        return PhrasingCatalogueRewriter(self.catalogue)  # the catalogue is shared, never copied

    def rewrite(self, text: str, seed: int | None = None) -> str:
        """Return ``text`` reworded into another phrasing group of its task (``text`` if none qualifies)."""
        from codegym.mutation.llm import protected_tokens

        catalogue = self.catalogue if self.catalogue is not None else CATALOGUE
        found = catalogue.lookup(text)
        if found is None:
            return text
        phrasings, current = found
        groups = sorted(phrasings)
        digest = hashlib.sha256(repr(sorted(phrasings.items())).encode()).digest()
        order = sorted(groups, key=lambda g: hashlib.sha256(digest + g.encode()).digest())
        start = order.index(current)
        candidates = [order[(start + k) % len(order)] for k in range(1, len(order))]
        needed = protected_tokens(text)
        stripped = text.strip()

        def qualifies(group: str) -> bool:
            out = phrasings[group]
            if out.strip() == stripped or any(tok not in out for tok in needed):
                return False
            ratio = len(out) / max(len(stripped), 1)
            return len(stripped) < 20 or 0.25 <= ratio <= 4.0

        valid = [g for g in candidates if qualifies(g)]
        if not valid:
            return text
        if seed is None:
            return phrasings[valid[0]]
        pick = int.from_bytes(hashlib.sha256(f"{seed}\x00{text}".encode()).digest()[:8], "big") % len(valid)
        return phrasings[valid[pick]]

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
        """Rewrite the description inside each prompt; ``n`` copies (identical at ``temperature == 0``)."""
        validate_generation_args(prompts, n, temperature, max_new_tokens)
        out = []
        for prompt in prompts:
            match = _DESCRIPTION.search(prompt)
            text = match.group(1) if match else prompt
            if temperature > 0:
                base = 0 if seed is None else seed
                out.append([self.rewrite(text, seed=base * 1_000_003 + j) for j in range(n)])
            else:
                out.append([self.rewrite(text)] * n)
        return out


def load_benchmark_tasks(
    split: str = "eval",
    size: int | None = None,
    seed: int = 0,
    start_groups: Sequence[str] | None = None,
) -> list[Task]:
    """Return the benchmark's tasks: synthesis tasks worded in groups the small model was not trained on.

    Args:
        split: ``"eval"`` (problems the small model never saw, the default) or ``"train"`` (problems it
            was trained on, in other words; for training agents).
        size: Number of tasks (default :data:`DEFAULT_SIZES` of the split).
        seed: Seed of the synthesis suite.
        start_groups: Phrasing groups the tasks are worded in (default: the groups the default small model
            holds out, ``recipe.held_out_groups``). Each task draws one.

    The tasks are added to :data:`CATALOGUE`, so :class:`PhrasingCatalogueRewriter` can reword them.

    """
    from codegym.models.small import DEFAULT_RECIPE
    from codegym.tasks.procedural.synthesis import load_synthesis_tasks

    groups = tuple(DEFAULT_RECIPE.held_out_groups if start_groups is None else start_groups)
    size = DEFAULT_SIZES.get(split, 200) if size is None else size
    tasks = load_synthesis_tasks(split=split, size=size, seed=seed, phrasing_groups=groups)
    CATALOGUE.add(tasks)
    return tasks


def benchmark_env_kwargs() -> dict[str, Any]:
    """Return the keyword arguments ``SynthPrompt-v0`` is registered with (cheap: nothing loads or trains)."""
    from codegym.models.small import SmallModelGenerator

    return {
        "dataset": BENCHMARK_DATASET,
        "split": "eval",
        "backend": SmallModelGenerator(),
        "rewriter": PhrasingCatalogueRewriter(),
        "prompt_style": "mbpp",
        "max_new_tokens": 96,
        "max_steps": BENCHMARK_MAX_STEPS,
    }


def _register_dataset() -> None:
    from codegym.tasks.registry import list_datasets, register_dataset

    if BENCHMARK_DATASET not in list_datasets():
        register_dataset(
            BENCHMARK_DATASET,
            "codegym.models.benchmark:load_benchmark_tasks",
            description=(
                "procedural function synthesis worded in the phrasing groups the small model holds out "
                "(SynthPrompt-v0's tasks); size=, seed=, split=, start_groups="
            ),
            id_prefix="synth-benchmark",  # never claims get_task("synth/..."), which is the plain suite's
            splits=("train", "eval"),
            default_kwargs={"split": "eval"},
        )


_register_dataset()
