"""The EPiC genetic algorithm (Taherkhani et al., 2024) as a prompt-optimization agent.

EPiC searches for a task description that makes a frozen code model pass the tests:

1. The first population is the original description plus ``population_size - 1`` mutants of it.
2. Every prompt is scored: fitness = the pass rate of the code the model writes for it (``fitness_fn``).
3. The search stops as soon as a prompt reaches ``fitness_threshold`` (1.0: all tests pass), or after
   ``max_generations`` scored populations.
4. Otherwise the next population keeps the ``elite`` best prompts unchanged and fills the rest with
   mutants of parents drawn by roulette wheel (probability proportional to fitness; uniform when every
   fitness is 0). Mutation is the EPiC local mutation: WordNet synonyms ranked by word-vector
   similarity, each eligible word replaced with probability 0.25 (no model call).

Every prompt the code model sees is counted in ``model_calls``; a prompt seen before is not sent again
(at temperature 0 the model would write the same code), so the count is what the search really spent.
Model calls made by mutation operators that use a model (an LLM-rewrite initializer) are counted too.

Differences from EPiC's code: a population is scored in one batched call (EPiC scored prompts one by one
and stopped at the first success, so it may spend a few calls less in the generation that succeeds),
the carried-over prompt is the best one (EPiC drew it by roulette as well), and mutation keeps code tokens
and the word's inflection (see :class:`codegym.mutation.EPiCMutation`).

Usage::

    from agents.epic_ga import EPiCGA, EPiCGAConfig
    ga = EPiCGA(EPiCGAConfig(population_size=5, max_generations=4, seed=0))
    result = ga.run(description, fitness_fn, render=render)   # render: description -> full prompt
    print(result.best_fitness, result.model_calls, result.best_prompt)

``fitness_fn(prompts: list[str]) -> list[float]`` receives rendered prompts in a batch and returns a pass
rate in [0, 1] for each.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

import numpy as np

from codegym.mutation import EPiCMutation, MutationOperator

FitnessFn = Callable[[list[str]], Sequence[float]]


@dataclass
class EPiCGAConfig:
    """Every hyperparameter of the search (defaults follow EPiC's published gensim experiments)."""

    population_size: int = 5  # EPiC: 1 carried over + 4 mutants
    max_generations: int = 4  # scored populations, the first included (EPiC: 4 iterations)
    elite: int = 1  # best prompts copied unchanged into the next population
    fitness_threshold: float = 1.0  # stop as soon as a prompt scores at least this
    mutation_probability: float = 0.25  # EPiC: each eligible word replaced with probability 0.25
    top_k: int = 10  # EPiC: the 10 most similar WordNet synonyms are the candidates
    mutation_retries: int = 3  # redraw a mutant that came out identical to its parent, up to this often
    seed: int = 0  # seeds the numpy Generator when run() gets none

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad hyperparameter."""
        if self.population_size < 1:
            raise ValueError(f"population_size must be >= 1, got {self.population_size}")
        if self.max_generations < 1:
            raise ValueError(f"max_generations must be >= 1, got {self.max_generations}")
        if not 0 <= self.elite <= self.population_size:
            raise ValueError(f"elite must be in [0, population_size], got {self.elite}")
        if not 0.0 <= self.fitness_threshold <= 1.0:
            raise ValueError(f"fitness_threshold must be in [0, 1], got {self.fitness_threshold}")
        if self.mutation_retries < 0:
            raise ValueError(f"mutation_retries must be >= 0, got {self.mutation_retries}")


@dataclass
class Generation:
    """One scored population."""

    index: int
    descriptions: list[str]
    fitness: list[float]
    model_calls: int  # cumulative, after scoring this population

    @property
    def best(self) -> float:
        """Best fitness in the population."""
        return max(self.fitness)


@dataclass
class GAResult:
    """Outcome of one search."""

    best_description: str
    best_prompt: str  # rendered
    best_fitness: float
    model_calls: int  # code-model prompts scored + model calls by mutation operators
    fitness_calls: int  # calls of fitness_fn (batches)
    stopped: str  # "threshold" or "max_generations"
    generations: list[Generation] = field(default_factory=list)

    @property
    def solved(self) -> bool:
        """Whether the best prompt passes every test."""
        return self.best_fitness >= 1.0


class EPiCGA:
    """The EPiC genetic algorithm over task descriptions.

    Args:
        config: Hyperparameters.
        mutation: The mutation operator (default: :class:`~codegym.mutation.EPiCMutation` with the
            config's probability and top-k and codegym's default word vectors).
        initializer: Operator that makes the first population's mutants (default: ``mutation``; EPiC's
            paper had an LLM write them, e.g. ``LLMRewrite`` with ``temperature > 0``).

    """

    def __init__(
        self,
        config: EPiCGAConfig | None = None,
        mutation: MutationOperator | None = None,
        initializer: MutationOperator | None = None,
    ) -> None:
        self.config = config or EPiCGAConfig()
        self.config.validate()
        self.mutation = mutation or EPiCMutation(self.config.mutation_probability, self.config.top_k)
        self.initializer = initializer or self.mutation

    # -- the algorithm, top to bottom ----------------------------------------------------------------
    def run(
        self,
        description: str,
        fitness_fn: FitnessFn,
        *,
        render: Callable[[str], str] | None = None,
        protected: Collection[str] = (),
        rng: np.random.Generator | None = None,
    ) -> GAResult:
        """Search for a better ``description``.

        Args:
            description: The original (editable) task description.
            fitness_fn: Scores a batch of rendered prompts; one pass rate in [0, 1] per prompt.
            render: Turns a description into the full prompt the model sees (default: identity); for a
                task, ``codegym.tasks.prompts.split_prompt`` returns the description and this function.
            protected: Words mutation must not change (function and parameter names).
            rng: Random generator (default: ``numpy.random.default_rng(config.seed)``).

        """
        cfg = self.config
        rng = rng if rng is not None else np.random.default_rng(cfg.seed)
        render = render or (lambda d: d)
        scored: dict[str, float] = {}  # rendered prompt -> fitness; a prompt is never scored twice
        calls = {"model": 0, "fitness_fn": 0}
        operator_calls_before = self._operator_calls()

        def evaluate(descriptions: list[str]) -> list[float]:
            prompts = [render(d) for d in descriptions]
            new = list(dict.fromkeys(p for p in prompts if p not in scored))
            if new:
                values = [float(v) for v in fitness_fn(new)]
                if len(values) != len(new):
                    raise ValueError(f"fitness_fn returned {len(values)} values for {len(new)} prompts")
                for p, v in zip(new, values, strict=True):
                    if not 0.0 <= v <= 1.0:
                        raise ValueError(f"fitness_fn returned {v} for a prompt; fitness must be in [0, 1]")
                    scored[p] = v
                calls["model"] += len(new)
                calls["fitness_fn"] += 1
            return [scored[p] for p in prompts]

        # 1. First population: the original and its mutants.
        population = [description] + [
            self._mutate(self.initializer, description, rng, protected)
            for _ in range(cfg.population_size - 1)
        ]
        generations: list[Generation] = []
        stopped = "max_generations"
        for index in range(cfg.max_generations):
            # 2. Score the population.
            fitness = evaluate(population)
            model_calls = calls["model"] + self._operator_calls() - operator_calls_before
            generations.append(Generation(index, list(population), fitness, model_calls))
            # 3. Stop at the threshold or after the last generation.
            if max(fitness) >= cfg.fitness_threshold:
                stopped = "threshold"
                break
            if index == cfg.max_generations - 1:
                break
            # 4. Next population: the elite, then mutants of roulette-wheel parents.
            order = sorted(range(len(population)), key=lambda i: (-fitness[i], i))
            next_population = [population[i] for i in order[: cfg.elite]]
            while len(next_population) < cfg.population_size:
                parent = population[self._roulette(fitness, rng)]
                next_population.append(self._mutate(self.mutation, parent, rng, protected))
            population = next_population

        best_fitness, best_description = max(
            ((f, d) for g in generations for d, f in zip(g.descriptions, g.fitness, strict=True)),
            key=lambda x: x[0],
        )
        return GAResult(
            best_description=best_description,
            best_prompt=render(best_description),
            best_fitness=best_fitness,
            model_calls=calls["model"] + self._operator_calls() - operator_calls_before,
            fitness_calls=calls["fitness_fn"],
            stopped=stopped,
            generations=generations,
        )

    # -- helpers ------------------------------------------------------------------------------------
    @staticmethod
    def _roulette(fitness: Sequence[float], rng: np.random.Generator) -> int:
        """Index drawn with probability proportional to fitness (uniform if all are 0)."""
        weights = np.asarray(fitness, dtype=np.float64)
        total = weights.sum()
        if total <= 0:
            return int(rng.integers(len(weights)))
        return int(rng.choice(len(weights), p=weights / total))

    def _mutate(
        self, operator: MutationOperator, parent: str, rng: np.random.Generator, protected: Collection[str]
    ) -> str:
        """Mutate ``parent``, redrawing up to ``mutation_retries`` times while the child equals it."""
        child = parent
        for _ in range(self.config.mutation_retries + 1):
            child = operator.apply(parent, rng, original=parent, protected=protected)
            if child != parent:
                break
        return child

    def _operator_calls(self) -> int:
        ops = {id(self.mutation): self.mutation, id(self.initializer): self.initializer}
        return sum(int(getattr(op, "model_calls", 0)) for op in ops.values())


def run_task(task, fitness_fn: FitnessFn, config: EPiCGAConfig | None = None, **kwargs) -> GAResult:  # noqa: ANN001
    """Run EPiC on a :class:`~codegym.tasks.base.Task`: only its description is mutated.

    Uses ``codegym.tasks.prompts.split_prompt`` for the description and the renderer, and protects the
    task's entry point name.
    """
    from codegym.tasks.prompts import split_prompt

    description, render = split_prompt(task)
    return EPiCGA(config, **kwargs).run(description, fitness_fn, render=render, protected={task.entry_point})


if (
    __name__ == "__main__"
):  # a demo with a synthetic fitness: reward descriptions that differ from the original
    original = "Write a function to find the largest number in a given list of integers and return it."
    base = original.split()

    def demo_fitness(prompts: list[str]) -> list[float]:
        """Count words that differ from the original, up to 4."""
        return [min(1.0, sum(a != b for a, b in zip(p.split(), base, strict=False)) / 4) for p in prompts]

    result = EPiCGA(EPiCGAConfig(max_generations=6, seed=0)).run(original, demo_fitness)
    for g in result.generations:
        print(f"generation {g.index}: best {g.best:.2f}, model calls so far {g.model_calls}")
    print(f"stopped: {result.stopped}; best {result.best_fitness:.2f}: {result.best_description}")
