"""PromptOptimizationEnv and its batched vector environment (MBPPPrompt-v0, HumanEvalPrompt-v0)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import gymnasium as gym
import numpy as np
import pytest

import codegym  # noqa: F401  (registers the ids)
from codegym.backends.base import CodeGenerator
from codegym.envs.prompt_optimization import DEFAULT_OPERATORS, PromptOptimizationEnv
from codegym.mutation import MutationOperator, MutationResult
from codegym.observation import HashingEmbedder
from codegym.tasks import Task

# ---------------------------------------------------------------------------------------------- doubles

ADD = Task(
    "demo/add",
    "Write a function to add two numbers.",
    "add",
    tests=(
        "assert add(1, 2) == 3",
        "assert add(2, 2) == 4",
        "assert add(0, 0) == 0",
        "assert add(5, 5) == 10",
    ),
    visible_tests=("assert add(1, 2) == 3",),
    reference_solution="def add(a, b):\n    return a + b",
)
MUL = Task(
    "demo/mul",
    "Write a function to multiply two numbers.",
    "mul",
    tests=("assert mul(2, 3) == 6", "assert mul(0, 5) == 0"),
    visible_tests=("assert mul(2, 3) == 6",),
    reference_solution="def mul(a, b):\n    return a * b",
)

# How many tests of ADD pass: "carefully" 0 times -> 1/4, once -> 3/4, twice or more -> all.
_ADD_PROGRAMS = [
    "def add(a, b):\n    return 3",
    "def add(a, b):\n    return a + b if a < 5 else 0",
    "def add(a, b):\n    return a + b",
]


def add_by_care(prompt: str) -> str:
    """A stand-in code model: the more often the prompt says 'carefully', the better the program."""
    if "def mul" in prompt or "multiply" in prompt:
        return "def mul(a, b):\n    return a * b"
    return _ADD_PROGRAMS[min(prompt.count("carefully"), 2)]


class FnGenerator(CodeGenerator):
    """A deterministic generator ``prompt -> fn(prompt)`` that records every call."""

    name = "fn-generator"

    def __init__(self, fn: Callable[[str], str]) -> None:
        self.fn = fn
        self.calls: list[list[str]] = []

    def generate(self, prompts: Sequence[str], **kwargs: object) -> list[list[str]]:
        self.calls.append(list(prompts))
        return [[self.fn(p)] for p in prompts]


class CountingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__(dim=32)
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        return super().embed(texts)


class Append(MutationOperator):
    """Appends a word to the description (deterministic)."""

    def __init__(self, word: str = "carefully", name: str = "append") -> None:
        self.word = word
        self.name = name

    def mutate(self, text, rng, *, original=None, protected=()):
        return MutationResult(f"{text} {self.word}", self.name, changed=True)


class Shout(MutationOperator):
    """Upper-cases the whole description and draws from the generator (to test seeding)."""

    name = "shout"

    def mutate(self, text, rng, *, original=None, protected=()):
        words = text.split()
        i = int(rng.integers(len(words)))
        words[i] = words[i].upper()
        return MutationResult(" ".join(words), self.name, changed=True)


def demo_env(**kwargs: object) -> PromptOptimizationEnv:
    params: dict = {
        "tasks": [ADD, MUL],
        "backend": FnGenerator(add_by_care),
        "embedder": HashingEmbedder(dim=32),
        "operators": ["submit", Append(), Shout(), "restore_original"],
        "max_steps": 4,
    }
    params.update(kwargs)
    return PromptOptimizationEnv(**params)


@pytest.fixture(scope="module")
def tiny_t5():
    import torch

    from codegym.backends import load_generator
    from codegym.backends.tiny import tiny_t5_path

    torch.set_num_threads(1)  # the suite runs 2 workers on 2 cores
    return load_generator(tiny_t5_path())


# ---------------------------------------------------------------------------------------------- checkers


def test_gymnasium_check_env_tiny_model(tiny_t5, mbpp_path):
    from gymnasium.utils.env_checker import check_env

    env = PromptOptimizationEnv(
        path=str(mbpp_path),
        task_ids=["MBPP/11", "MBPP/12", "MBPP/17"],
        backend=tiny_t5,
        embedder="hashing",
        operators=["submit", "wordnet_synonym", "restore_original", Shout()],
        max_new_tokens=8,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # check_env reports problems as warnings
        check_env(env, skip_render_check=True)
    assert env.observation_space.shape == (384 + 4,)


def test_sb3_check_env():
    from stable_baselines3.common.env_checker import check_env

    env = demo_env()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env, warn=True)


def test_registered_ids_make_and_reset(tiny_t5, mbpp_path):
    env = gym.make(
        "MBPPPrompt-v0",
        path=str(mbpp_path),
        backend=tiny_t5,
        embedder="hashing",
        operators=["submit", Shout()],
        max_new_tokens=8,
    )
    obs, info = env.reset(seed=1)
    assert env.observation_space.contains(obs)
    assert info["task_id"].startswith("MBPP/") and 11 <= int(info["task_id"].split("/")[1]) <= 510
    env = gym.make(
        "HumanEvalPrompt-v0",
        backend=tiny_t5,
        embedder="hashing",
        operators=["submit", Shout()],
        max_new_tokens=8,
    )
    obs, info = env.reset(seed=1)
    assert info["task_id"].startswith("HumanEval/")
    assert info["prompt"].lstrip().startswith(("def ", "from ", "import "))  # completion style
    obs, _, _, _, info = env.step(1)
    signature = next(ln for ln in info["prompt"].splitlines() if ln.startswith("def "))
    assert signature in env.unwrapped.tasks[env.unwrapped._task_i].prompt


# ---------------------------------------------------------------------------------------------- spaces


def test_spaces_and_default_operators():
    env = demo_env(embedder=HashingEmbedder(dim=16))
    assert env.observation_space == gym.spaces.Box(-1.0, 1.0, (20,), np.float32)
    assert env.action_space == gym.spaces.Discrete(4)
    assert env.operator_names == ["submit", "append", "shout", "restore_original"]
    env = demo_env(operators=DEFAULT_OPERATORS)  # builds every operator; loads no model
    assert env.operator_names == [
        "submit",
        "epic",
        "wordnet_synonym",
        "vector_neighbour",
        "llm_rewrite",
        "restore_original",
    ]
    rewrite = env.operators[4]
    assert rewrite.uses_model and rewrite.generator._generator is None


def test_observation_scalars():
    env = demo_env()
    obs, info = env.reset(options={"task_id": "demo/add"})
    np.testing.assert_allclose(obs[-4:], [0.0, 0.25, 0.25, 1.0])
    obs, *_ = env.step(1)
    np.testing.assert_allclose(obs[-4:], [0.25, 0.75, 0.75, 1.0])
    obs, *_ = env.step(3)  # restore: pass rate back to 1/4, best stays 3/4
    np.testing.assert_allclose(obs[-4:], [0.5, 0.25, 0.75, 1.0])


# ---------------------------------------------------------------------------------------------- rewards


def test_delta_reward_and_termination_on_solve():
    env = demo_env()
    _, info = env.reset(options={"task_id": "demo/add"})
    assert info["pass_rate"] == 0.25 and info["model_calls"] == 1
    _, r, term, trunc, info = env.step(1)
    assert (r, term, trunc) == (0.5, False, False)
    _, r, term, trunc, info = env.step(1)
    assert (r, term, trunc) == (0.25, True, False)
    assert info["solved"] and info["pass_rate"] == 1.0 and info["model_calls"] == 3
    assert [v["outcome"] for v in info["verdicts"]] == ["passed"] * 4
    with pytest.raises(gym.error.ResetNeeded):
        env.step(1)


def test_promis_reward():
    env = demo_env(reward_mode="promis")
    env.reset(options={"task_id": "demo/add"})
    assert env.step(1)[1] == pytest.approx(-0.1)
    _, r, term, _, _ = env.step(1)
    assert r == 1.0 and term


def test_final_reward_on_truncation():
    env = demo_env(reward_mode="final", max_steps=3)
    env.reset(options={"task_id": "demo/add"})
    rewards = []
    for action in (2, 2, 1):  # shout, shout, append once: 3/4 at the end
        _, r, term, trunc, _ = env.step(action)
        rewards.append(r)
    assert rewards == [0.0, 0.0, 0.75] and trunc and not term


def test_submit_ends_without_model_call():
    backend = FnGenerator(add_by_care)
    env = demo_env(backend=backend)
    env.reset(options={"task_id": "demo/add"})
    calls = len(backend.calls)
    _, r, term, trunc, info = env.step(0)
    assert (r, term, trunc) == (0.0, True, False)
    assert len(backend.calls) == calls and info["operator"] == "submit"


def test_truncated_at_max_steps():
    env = demo_env(max_steps=2)
    env.reset(options={"task_id": "demo/add"})
    assert env.step(2)[3] is False
    _, _, term, trunc, info = env.step(2)
    assert trunc and not term and info["step"] == 2


def test_revisited_prompt_costs_no_model_call():
    env = demo_env()
    env.reset(options={"task_id": "demo/add"})
    env.step(1)
    _, _, _, _, info = env.step(3)  # restore: the original prompt was evaluated at reset
    assert info["model_calls"] == 2 and info["changed"]


def test_visible_feedback():
    env = demo_env(feedback="visible")
    _, info = env.reset(options={"task_id": "demo/add"})
    assert info["pass_rate"] == 1.0  # `return 3` passes the one visible test...
    assert info["hidden_pass_rate"] == 0.25  # ...but not the hidden ones
    bare = Task("demo/bare", "Write a function f.", "f", tests=("assert f() == 1",))
    with pytest.raises(ValueError, match="feedback='visible'.*demo/bare"):
        demo_env(tasks=[bare], feedback="visible")


# ---------------------------------------------------------------------------------------------- edits


def test_only_description_is_edited(mbpp_path):
    env = PromptOptimizationEnv(
        path=str(mbpp_path),
        task_ids=["MBPP/11"],
        backend=FnGenerator(lambda p: "pass"),
        embedder=HashingEmbedder(dim=8),
        operators=[Append("PLEASE"), Shout()],
    )
    _, info = env.reset()
    original = info["prompt"]
    for action in (0, 1, 1, 0):
        _, _, _, _, info = env.step(action)
    description = info["description"]
    assert description.endswith("PLEASE PLEASE") and description != env.tasks[0].prompt
    assert info["prompt"].replace(description, "") == original.replace(env.tasks[0].prompt, "")
    assert env.tasks[0].visible_tests[0] in info["prompt"]


def test_humaneval_signature_kept():
    env = gym.make(
        "HumanEvalPrompt-v0",
        backend=FnGenerator(lambda p: "    pass\n"),
        embedder=HashingEmbedder(dim=8),
        operators=[Append("PLEASE")],
    ).unwrapped
    _, info = env.reset(options={"task_id": "HumanEval/0"})
    _, _, _, _, after = env.step(0)
    original, edited = info["prompt"], after["prompt"]
    assert "PLEASE" in edited
    for line in original.splitlines():
        if line.startswith(("def ", "from ", "import ")) or ">>>" in line:
            assert line in edited.splitlines()


def test_word_operators_from_registry(mbpp_path):
    env = PromptOptimizationEnv(
        path=str(mbpp_path),
        task_ids=["MBPP/12"],
        backend=FnGenerator(lambda p: "pass"),
        embedder=HashingEmbedder(dim=8),
        operators=["wordnet_synonym", "restore_original"],
        max_steps=5,
    )
    _, info = env.reset(seed=3)
    original = info["description"]
    _, _, _, _, info = env.step(0)
    assert info["changed"] and info["description"] != original and "sort_matrix" not in info["description"]
    _, _, _, _, info = env.step(1)
    assert info["description"] == original


# ------------------------------------------------------------------------------------------ reset, seeding


def test_reset_options():
    env = demo_env()
    assert env.reset(options={"task_id": "demo/mul"})[1]["task_id"] == "demo/mul"
    assert env.reset(options={"task_index": 0})[1]["task_id"] == "demo/add"
    with pytest.raises(ValueError, match="task_id='nope'"):
        env.reset(options={"task_id": "nope"})
    with pytest.raises(ValueError, match="unknown reset options"):
        env.reset(options={"task": "demo/add"})


def test_tasks_are_sampled(mbpp_path):
    env = PromptOptimizationEnv(
        path=str(mbpp_path),
        split="train",
        backend=FnGenerator(lambda p: "pass"),
        embedder=HashingEmbedder(dim=8),
        operators=["submit"],
    )
    env.reset(seed=0)
    ids = {env.reset()[1]["task_id"] for _ in range(10)}
    assert len(ids) > 5


def test_seeding_reproducible():
    def run(seed: int) -> list:
        env = demo_env(max_steps=3)
        out = [env.reset(seed=seed)[0]]
        for _ in range(10):
            obs, r, term, trunc, info = env.step(2)
            out += [obs, r, info["description"]]
            if term or trunc:
                out.append(env.reset()[0])
        return out

    a, b, c = run(7), run(7), run(8)
    assert all(
        np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y for x, y in zip(a, b, strict=True)
    )
    assert not all(
        np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y for x, y in zip(a, c, strict=True)
    )


def test_bad_arguments():
    with pytest.raises(ValueError, match="reward_mode"):
        demo_env(reward_mode="dense")
    with pytest.raises(ValueError, match="max_steps"):
        demo_env(max_steps=0)
    with pytest.raises(ValueError, match="unknown mutation operator 'nope'"):
        demo_env(operators=["submit", "nope"])
    with pytest.raises(ValueError, match="appears more than once"):
        demo_env(operators=["submit", "submit"])
    env = demo_env()
    env.reset()
    with pytest.raises(ValueError, match="not in Discrete"):
        env.step(9)


def test_default_backend_offline_error(monkeypatch):
    from codegym.backends.errors import ModelLoadError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    env = PromptOptimizationEnv(tasks=[ADD], embedder=HashingEmbedder(dim=8), operators=["submit"])
    with pytest.raises((ModelLoadError, OSError), match="backend="):
        env.reset()


# ---------------------------------------------------------------------------------------------- rewriter


class Rephrase(CodeGenerator):
    """A stand-in rewriter that appends 'carefully' to the description it is asked to rewrite."""

    name = "rephrase"

    def __init__(self) -> None:
        self.calls: list[int] = []

    def generate(self, prompts: Sequence[str], **kwargs: object) -> list[list[str]]:
        self.calls.append(len(prompts))
        out = []
        for p in prompts:
            text = p.split("Description:\n", 1)[1].split("\n\nRewritten description:", 1)[0]
            out.append([f"Rewritten description: {text} carefully"])
        return out


def test_llm_rewrite_is_lazy_and_clear_when_missing(tmp_path):
    env = demo_env(operators=["submit", "llm_rewrite"], rewriter=str(tmp_path / "no-such-model"))
    env.reset(options={"task_id": "demo/add"})
    with pytest.raises((OSError, ValueError), match="no-such-model"):
        env.step(1)


def test_llm_rewrite_single_env():
    rewriter = Rephrase()
    env = demo_env(operators=["submit", "llm_rewrite"], rewriter=rewriter)
    env.reset(options={"task_id": "demo/add"})
    _, r, _, _, info = env.step(1)
    assert info["description"].endswith("carefully") and r == 0.5
    assert info["rewriter_calls"] == 1 and info["model_calls"] == 3 and rewriter.calls == [1]


# ---------------------------------------------------------------------------------------------- vector env


def test_vector_env_one_model_call_per_step():
    from codegym.envs.prompt_vec_env import make_prompt_vec_env

    backend, embedder, rewriter = FnGenerator(add_by_care), CountingEmbedder(), Rephrase()
    venv = make_prompt_vec_env(
        None,
        n_envs=4,
        seed=0,
        tasks=[ADD, MUL],
        backend=backend,
        embedder=embedder,
        operators=["submit", Append(), Shout(), "llm_rewrite"],
        rewriter=rewriter,
        max_steps=3,
    )
    obs = venv.reset()
    assert obs.shape == (4, 36) and len(backend.calls) == 1 and embedder.calls == 1
    rng = np.random.default_rng(0)
    dones = 0
    for step in range(1, 13):
        actions = rng.integers(0, 4, size=4)
        actions[0] = 3  # always one rewrite
        obs, rewards, done, infos = venv.step(actions)
        dones += int(done.sum())
        assert len(backend.calls) <= step + 1 and embedder.calls <= step + 1
        assert len(rewriter.calls) == step  # one batched rewriter call per step
        for i in np.flatnonzero(done):
            assert "terminal_observation" in infos[i]
            assert venv.reset_infos[i]["step"] == 0
    assert dones >= 4
    # every step that generated anything did it in one call; batches were larger than one prompt
    assert max(len(c) for c in backend.calls) > 1
    assert venv.evaluators[0].stats.generate_calls == len(backend.calls)


def test_vector_env_matches_single_envs():
    from codegym.envs.prompt_vec_env import make_prompt_vec_env

    kwargs = {"tasks": [ADD, MUL], "operators": ["submit", Append(), Shout()], "max_steps": 3}
    venv = make_prompt_vec_env(
        None, n_envs=3, seed=10, backend=FnGenerator(add_by_care), embedder=HashingEmbedder(dim=32), **kwargs
    )
    singles = [demo_env(**kwargs) for _ in range(3)]
    obs_v = venv.reset()
    obs_s = [env.reset(seed=10 + i)[0] for i, env in enumerate(singles)]
    np.testing.assert_array_equal(obs_v, np.stack(obs_s))
    rng = np.random.default_rng(1)
    for _ in range(10):
        actions = rng.integers(0, 3, size=3)
        obs_v, rew_v, done_v, _ = venv.step(actions)
        for i, env in enumerate(singles):
            o, r, term, trunc, _ = env.step(actions[i])
            if term or trunc:
                o, _ = env.reset()
            np.testing.assert_array_equal(obs_v[i], o)
            assert rew_v[i] == pytest.approx(r) and done_v[i] == (term or trunc)


def test_sb3_ppo_runs_on_vector_env():
    from stable_baselines3 import PPO

    from codegym.envs.prompt_vec_env import make_prompt_vec_env

    venv = make_prompt_vec_env(
        None,
        n_envs=2,
        seed=0,
        tasks=[ADD, MUL],
        backend=FnGenerator(add_by_care),
        embedder=HashingEmbedder(dim=16),
        operators=["submit", Append(), Shout()],
        max_steps=3,
    )
    model = PPO("MlpPolicy", venv, n_steps=16, batch_size=16, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=64)
    action, _ = model.predict(venv.reset(), deterministic=True)
    assert action.shape == (2,)


def test_run_episodes_covers_each_task_once():
    from codegym.envs.prompt_vec_env import make_prompt_vec_env

    backend = FnGenerator(add_by_care)
    venv = make_prompt_vec_env(
        None,
        n_envs=2,
        tasks=[ADD, MUL],
        backend=backend,
        embedder=HashingEmbedder(dim=16),
        operators=["submit", Append(), Shout()],
        max_steps=3,
    )
    ids = ["demo/add", "demo/mul", "demo/add"]
    direct = venv.run_episodes(lambda obs: np.zeros(len(obs), dtype=int), ids, seed=0)
    assert [e["task_id"] for e in direct] == ids
    assert [e["model_calls"] for e in direct] == [1, 1, 1]
    assert [e["hidden_pass_rate"] for e in direct] == [0.25, 1.0, 0.25]
    careful = venv.run_episodes(lambda obs: np.ones(len(obs), dtype=int), ids, seed=0)
    assert [e["hidden_pass_rate"] for e in careful] == [1.0, 1.0, 1.0]
    assert [e["steps"] for e in careful] == [2, 1, 2] and careful[0]["return"] == 0.75
