"""A batched vector environment of :class:`~codegym.envs.prompt_optimization.PromptOptimizationEnv`.

Stepping N prompt environments one by one calls the code model N times per step with one prompt each.
:class:`PromptOptimizationVecEnv` instead runs the first half of every environment's step (apply the
operator), evaluates all N edited prompts with one ``generate`` call, one ``run_batch`` call and one
``embed`` call through the shared :class:`~codegym.envs.prompt_optimization.PromptEvaluator`, and then
the second halves. LLM rewrites of the N environments are batched into one rewriter call likewise.

Automatic resets cost no extra model call: each environment samples its next task in advance, and the
original prompt of that task rides along in a step's batch (once per episode), so the reset finds its
evaluation cached.

It is a stable-baselines3 :class:`~stable_baselines3.common.vec_env.VecEnv` (SB3's conventions: resets
happen inside ``step``, the last observation of an episode is in ``info["terminal_observation"]``), so
SB3's algorithms train on it directly::

    from codegym.envs.prompt_vec_env import make_prompt_vec_env

    venv = make_prompt_vec_env("MBPPPrompt-v0", n_envs=8, seed=0, split="train")
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvObs, VecEnvStepReturn

from codegym.envs.prompt_optimization import PromptEvaluator, PromptOptimizationEnv, mutate_batch

__all__ = ["EVALUATOR_KWARGS", "PromptOptimizationVecEnv", "make_prompt_vec_env"]

#: Keyword arguments of :class:`PromptOptimizationEnv` that configure its (shared) evaluator.
EVALUATOR_KWARGS = (
    "backend",
    "embedder",
    "executor",
    "limits",
    "feedback",
    "temperature",
    "max_new_tokens",
    "stop",
    "postprocess",
)


class PromptOptimizationVecEnv(VecEnv):
    """N prompt-optimization environments stepped together, with one batched model call per step.

    Args:
        envs: The environments (unwrapped :class:`PromptOptimizationEnv` instances with equal spaces).
            Environments that share a :class:`PromptEvaluator` are evaluated in one batch; build them
            with :func:`make_prompt_vec_env` to share one.

    """

    def __init__(self, envs: Sequence[PromptOptimizationEnv]) -> None:
        envs = list(envs)
        if not envs:
            raise ValueError("PromptOptimizationVecEnv needs at least one environment")
        for i, env in enumerate(envs):
            if not isinstance(env, PromptOptimizationEnv):
                raise TypeError(
                    f"envs[{i}] is a {type(env).__name__}, not a PromptOptimizationEnv; pass env.unwrapped "
                    "or build the vector environment with make_prompt_vec_env"
                )
        if len({id(e) for e in envs}) != len(envs):
            raise ValueError("the same environment instance appears twice in envs; create one per slot")
        first = envs[0]
        for i, env in enumerate(envs[1:], 1):
            if env.observation_space != first.observation_space or env.action_space != first.action_space:
                raise ValueError(f"envs[{i}] has different spaces from envs[0]; all environments must match")
        self.envs = envs
        super().__init__(len(envs), first.observation_space, first.action_space)
        self._actions: np.ndarray | None = None

    # ------------------------------------------------------------------ batching

    def _evaluate(self, indices: Sequence[int], prefetch: bool) -> None:
        """Evaluate what ``envs[indices]`` need, one evaluator call per distinct evaluator."""
        groups: dict[int, tuple[PromptEvaluator, list]] = {}
        for i in indices:
            env = self.envs[i]
            group = groups.setdefault(id(env.evaluator), (env.evaluator, []))
            group[1].extend(env._needed(prefetch=prefetch))
        for evaluator, requests in groups.values():
            if requests:
                evaluator.evaluate(requests)

    def reset(self) -> VecEnvObs:
        """Reset every environment (seeds and options from :meth:`seed` / :meth:`set_options`)."""
        for i, env in enumerate(self.envs):
            env._begin_reset(self._seeds[i], self._options[i] or None)
        self._evaluate(range(self.num_envs), prefetch=True)
        obs = []
        for i, env in enumerate(self.envs):
            o, self.reset_infos[i] = env._finish_reset()
            obs.append(o)
        self._reset_seeds()
        self._reset_options()
        return np.stack(obs)

    def step_async(self, actions: np.ndarray) -> None:
        """Remember the actions for :meth:`step_wait`."""
        self._actions = np.asarray(actions)

    def step_wait(self) -> VecEnvStepReturn:
        """Step every environment with one batched rewrite, generation, execution and embedding call."""
        if self._actions is None:
            raise RuntimeError("step_wait() called without step_async(actions)")
        actions, self._actions = self._actions, None
        if len(actions) != self.num_envs:
            raise ValueError(f"got {len(actions)} actions for {self.num_envs} environments")
        # 1. Apply the operators; collect the ones that need a model (LLM rewrites) per operator object.
        rewrites: dict[int, tuple[Any, list[int], list[tuple]]] = {}
        for i, (env, action) in enumerate(zip(self.envs, actions, strict=True)):
            planned = env._plan_step(action)
            if planned is not None:
                op, args = planned
                group = rewrites.setdefault(id(op), (op, [], []))
                group[1].append(i)
                group[2].append(args)
        for op, idx, arglist in rewrites.values():
            edited = mutate_batch(op, *(list(column) for column in zip(*arglist, strict=True)))
            for i, (text, fallback) in zip(idx, edited, strict=True):
                self.envs[i]._set_description(text, fallback)
        # 2. One evaluation batch: every edited prompt plus each environment's next task's original prompt.
        self._evaluate(range(self.num_envs), prefetch=True)
        # 3. Finish the steps; reset finished environments (their evaluation is cached by the prefetch).
        obs = np.zeros((self.num_envs, *self.observation_space.shape), dtype=np.float32)
        rewards = np.zeros(self.num_envs, dtype=np.float32)
        dones = np.zeros(self.num_envs, dtype=bool)
        infos: list[dict[str, Any]] = []
        finished = []
        for i, env in enumerate(self.envs):
            o, r, terminated, truncated, info = env._finish_step()
            info["TimeLimit.truncated"] = truncated and not terminated
            rewards[i], dones[i], obs[i] = r, terminated or truncated, o
            if dones[i]:
                info["terminal_observation"] = o
                env._begin_reset(None, None)
                finished.append(i)
            infos.append(info)
        if finished:
            self._evaluate(finished, prefetch=False)  # cache hits: no model call
            for i in finished:
                obs[i], self.reset_infos[i] = self.envs[i]._finish_reset()
        return obs, rewards, dones, infos

    # ------------------------------------------------------------------ VecEnv plumbing

    def close(self) -> None:
        """Close every environment (the evaluator is released by the environment that created it)."""
        for env in self.envs:
            env.close()

    def _targets(self, indices: VecEnvIndices) -> list[PromptOptimizationEnv]:
        return [self.envs[i] for i in self._get_indices(indices)]

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """Return an attribute of each environment."""
        return [getattr(env, attr_name) for env in self._targets(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Set an attribute of each environment."""
        for env in self._targets(indices):
            setattr(env, attr_name, value)

    def env_method(
        self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **method_kwargs: Any
    ) -> list[Any]:
        """Call a method of each environment."""
        return [getattr(env, method_name)(*method_args, **method_kwargs) for env in self._targets(indices)]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        """Return False for each environment: they are used unwrapped."""
        return [False for _ in self._targets(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        """No images: the environments render text."""
        return [None for _ in self.envs]

    def run_episodes(
        self,
        policy: Callable[[np.ndarray], np.ndarray],
        task_ids: Sequence[str],
        *,
        seed: int | None = None,
    ) -> list[dict[str, Any]]:
        """Run one episode per task, ``num_envs`` at a time, with batched model calls; for evaluation.

        Each slot takes the next task id when its episode ends. Per step, the policy is called once
        for the observations of the active slots, and the code model once for all their prompts (a
        second call evaluates the original prompts of slots that start a new task). The environments
        are left mid-episode: call :meth:`reset` before training on them again.

        Args:
            policy: Maps a ``(k, obs_dim)`` batch of observations to ``k`` actions.
            task_ids: The tasks, each run once (order is kept in the output).
            seed: Seeds environment ``i`` with ``seed + i`` at its first episode (mutation randomness).

        Returns:
            One dict per task: the last step's ``info`` plus ``return`` (sum of rewards), ``steps``,
            ``terminated`` and ``truncated``.

        """
        queue = list(enumerate(task_ids))
        results: list[dict[str, Any] | None] = [None] * len(queue)
        slots: dict[int, tuple[int, float]] = {}  # env index -> (result index, return so far)
        obs = np.zeros((self.num_envs, *self.observation_space.shape), dtype=np.float32)

        def start(indices: list[int]) -> None:
            started = []
            for i in indices:
                if not queue:
                    continue
                k, task_id = queue.pop(0)
                first_seed = None if seed is None or i in slots else seed + i
                self.envs[i]._begin_reset(first_seed, {"task_id": task_id})
                slots[i] = (k, 0.0)
                started.append(i)
            if started:
                self._evaluate(started, prefetch=False)
                for i in started:
                    obs[i], _ = self.envs[i]._finish_reset()

        start(list(range(self.num_envs)))
        active = sorted(i for i in slots if results[slots[i][0]] is None)
        while active:
            actions = np.asarray(policy(obs[active])).reshape(len(active))
            rewrites: dict[int, tuple[Any, list[int], list[tuple]]] = {}
            for i, action in zip(active, actions, strict=True):
                planned = self.envs[i]._plan_step(action)
                if planned is not None:
                    group = rewrites.setdefault(id(planned[0]), (planned[0], [], []))
                    group[1].append(i)
                    group[2].append(planned[1])
            for op, idx, arglist in rewrites.values():
                edited = mutate_batch(op, *(list(column) for column in zip(*arglist, strict=True)))
                for i, (text, fallback) in zip(idx, edited, strict=True):
                    self.envs[i]._set_description(text, fallback)
            self._evaluate(active, prefetch=False)
            finished = []
            for i in active:
                obs[i], reward, terminated, truncated, info = self.envs[i]._finish_step()
                k, ret = slots[i]
                slots[i] = (k, ret + reward)
                if terminated or truncated:
                    results[k] = {
                        **info,
                        "return": ret + reward,
                        "steps": info["step"],
                        "terminated": terminated,
                        "truncated": truncated,
                    }
                    finished.append(i)
            start(finished)
            active = sorted(i for i in slots if results[slots[i][0]] is None)
        return [r for r in results if r is not None]

    @property
    def evaluators(self) -> list[PromptEvaluator]:
        """The distinct evaluators of the environments (one when built by :func:`make_prompt_vec_env`)."""
        seen: dict[int, PromptEvaluator] = {}
        for env in self.envs:
            seen.setdefault(id(env.evaluator), env.evaluator)
        return list(seen.values())


def make_prompt_vec_env(
    env_id: str | None = "MBPPPrompt-v0", n_envs: int = 8, *, seed: int | None = None, **kwargs: Any
) -> PromptOptimizationVecEnv:
    """Build ``n_envs`` environments that share one evaluator (one code model, embedder and cache).

    Args:
        env_id: A registered prompt-optimization id whose default keyword arguments are used
            (``"MBPPPrompt-v0"``, ``"HumanEvalPrompt-v0"``), or ``None`` to use only ``kwargs``.
        n_envs: Number of environments.
        seed: If given, environment ``i`` is reset with seed ``seed + i`` on the first ``reset()``.
        **kwargs: :class:`PromptOptimizationEnv` arguments; they override the id's defaults.

    Returns:
        A :class:`PromptOptimizationVecEnv`. The operators (including a loaded rewriter) are shared too.

    """
    if not isinstance(n_envs, int) or n_envs < 1:
        raise ValueError(f"n_envs must be a positive integer, got {n_envs!r}")
    params: dict[str, Any] = {}
    if env_id is not None:
        import codegym  # noqa: F401  (registers the ids)

        spec = gym.spec(env_id)
        entry = spec.entry_point if isinstance(spec.entry_point, str) else ""
        if not entry.endswith(":PromptOptimizationEnv"):
            raise ValueError(
                f"{env_id!r} is not a prompt-optimization environment (entry point {spec.entry_point})"
            )
        params.update(spec.kwargs)
    params.update(kwargs)
    if "evaluator" in params:
        raise ValueError("make_prompt_vec_env builds the shared evaluator itself; pass its settings instead")
    first = PromptOptimizationEnv(**params)
    shared = {
        k: v for k, v in params.items() if k not in EVALUATOR_KWARGS and k not in ("operators", "rewriter")
    }
    shared["tasks"] = first.tasks
    envs = [first] + [
        PromptOptimizationEnv(**shared, evaluator=first.evaluator, operators=first.operators)
        for _ in range(n_envs - 1)
    ]
    for env in envs[1:]:
        env.dataset = first.dataset
    venv = PromptOptimizationVecEnv(envs)
    if seed is not None:
        venv.seed(seed)
    return venv
