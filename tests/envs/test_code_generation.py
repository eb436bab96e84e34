"""CodeGenerationEnv: Gymnasium API, check_env, vector envs, reset options, seeding, multi-turn."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import codegym  # noqa: F401  (registers the ids)
from codegym.envs.code_generation import CHARSET, CodeGenerationEnv, StepTimings
from codegym.registration import ENVIRONMENTS
from codegym.rewards import BUILTIN_TERMS
from codegym.tasks import load_humaneval, load_mbpp
from codegym.tasks.base import Task
from codegym.tasks.prompts import PROMPT_STYLES, format_prompt


@pytest.fixture(scope="module")
def few_mbpp(mbpp_path: Path) -> list[Task]:
    """MBPP's ten few-shot tasks (ids 1-10): small, with reference solutions."""
    return load_mbpp("prompt", path=mbpp_path)


@pytest.fixture(scope="module")
def he_tasks() -> list[Task]:
    return load_humaneval()[:5]


def mbpp_env(tasks: list[Task], **kwargs: object) -> CodeGenerationEnv:
    return CodeGenerationEnv(tasks=tasks, **kwargs)


def wrong_program(task: Task) -> str:
    return f"def {task.entry_point}(*args, **kwargs):\n    return None\n"


# ---------------------------------------------------------------- spaces and prompts


def test_spaces_and_every_real_prompt_is_in_the_observation_space(mbpp_path: Path) -> None:
    """All 974 MBPP and 164 HumanEval prompts, in every style that fits them, use only CHARSET."""
    env = gym.make("MBPPCodeGen-v0", path=str(mbpp_path), split="all")
    space = env.observation_space
    assert isinstance(space, gym.spaces.Text) and isinstance(env.action_space, gym.spaces.Text)
    assert env.unwrapped.charset == CHARSET  # no task needed extra characters
    assert " " in CHARSET and "\n" in CHARSET and "\t" in CHARSET and "≤" in CHARSET
    checked = 0
    for task in [*load_mbpp("all", path=mbpp_path), *load_humaneval()]:
        for style in PROMPT_STYLES:
            try:
                prompt = format_prompt(task, style)
            except ValueError:  # a style that does not fit the task (e.g. no signature)
                continue
            assert prompt in space, (task.task_id, style, set(prompt) - CHARSET)
            checked += 1
    assert checked > 2 * (974 + 164)
    env.close()


def test_reset_and_step_with_the_reference_solution(few_mbpp: list[Task]) -> None:
    env = mbpp_env(few_mbpp)
    obs, info = env.reset(seed=0, options={"task_id": "MBPP/2"})
    task = env.task
    assert obs in env.observation_space and task is not None
    assert info == {
        "task_id": "MBPP/2",
        "entry_point": task.entry_point,
        "prompt_style": "mbpp",
        "attempt": 0,
        "max_attempts": 1,
    }
    completion = f"Here is my solution:\n```python\n{task.reference_solution}\n```\nIt uses sets."
    obs2, reward, terminated, truncated, info = env.step(completion)
    assert info["status"] == "passed" and info["solved"] and info["passed"]
    assert terminated and not truncated
    assert reward == pytest.approx(1.0 + 0.1 * info["reward_terms"]["readability"])
    assert set(info["reward_terms"]) == set(BUILTIN_TERMS)  # every term, weight 0 or not
    assert info["reward_weights"]["efficiency"] == 0.0
    assert info["code_found"] and info["extraction"] == "fence"
    assert info["num_passed"] == info["num_tests"] == len(task.tests)
    assert [v["outcome"] for v in info["verdicts"]] == ["passed"] * len(task.tests)
    assert isinstance(info["timings"], StepTimings) and info["timings"].execution_s > 0
    assert obs2 in env.observation_space
    with pytest.raises(gym.error.ResetNeeded):
        env.step(completion)


def test_wrong_answer_and_syntax_error_rewards(few_mbpp: list[Task]) -> None:
    env = mbpp_env(few_mbpp)
    env.reset(seed=0, options={"task_index": 0})
    _, reward, terminated, _, info = env.step(wrong_program(env.task))
    assert terminated and not info["solved"] and info["status"] in ("failed", "error")
    assert reward == pytest.approx(0.1 * info["reward_terms"]["readability"])
    env.reset(options={"task_index": 0})
    _, reward, _, _, info = env.step("def broken(:\n    pass")
    assert info["status"] == "syntax_error" and reward == pytest.approx(-0.2)
    env.reset(options={"task_index": 0})
    _, reward, _, _, info = env.step("I'm sorry, I can't write that.")
    assert not info["code_found"] and info["status"] == "syntax_error" and reward == pytest.approx(-0.2)


def test_step_before_reset_and_bad_actions(few_mbpp: list[Task]) -> None:
    env = mbpp_env(few_mbpp)
    with pytest.raises(gym.error.ResetNeeded):
        env.step("x = 1")
    env.reset(seed=0)
    with pytest.raises(TypeError, match="completion as a str"):
        env.step(["x = 1"])  # type: ignore[arg-type]


# ---------------------------------------------------------------- reset options and seeding


def test_reset_options(few_mbpp: list[Task]) -> None:
    env = mbpp_env(few_mbpp)
    assert env.reset(options={"task_id": "MBPP/7"})[1]["task_id"] == "MBPP/7"
    assert env.reset(options={"task_index": 3})[1]["task_id"] == few_mbpp[3].task_id
    with pytest.raises(ValueError, match="MBPP/999"):
        env.reset(options={"task_id": "MBPP/999"})
    with pytest.raises(ValueError, match="task_index"):
        env.reset(options={"task_index": 10})
    with pytest.raises(ValueError, match="unknown reset options"):
        env.reset(options={"task": "MBPP/7"})
    with pytest.raises(ValueError, match="not both"):
        env.reset(options={"task_id": "MBPP/7", "task_index": 1})


def test_seeded_sampling_is_reproducible_and_varies(few_mbpp: list[Task]) -> None:
    def episode_ids(seed: int, n: int = 12, sampling: str = "random") -> list[str]:
        env = mbpp_env(few_mbpp, sampling=sampling)
        ids = [env.reset(seed=seed)[1]["task_id"]]
        ids += [env.reset()[1]["task_id"] for _ in range(n - 1)]
        return ids

    assert episode_ids(0) == episode_ids(0)
    assert episode_ids(0) != episode_ids(1)
    assert len(set(episode_ids(0))) > 3  # never the same task every episode
    shuffled = episode_ids(5, n=10, sampling="shuffle")
    assert sorted(shuffled) == sorted(t.task_id for t in few_mbpp)  # each task once per pass
    assert episode_ids(5, n=10, sampling="sequential") == [t.task_id for t in few_mbpp]


def test_custom_tasks_and_task_ids(few_mbpp: list[Task], mbpp_path: Path) -> None:
    env = gym.make("MBPPCodeGen-v0", path=str(mbpp_path), task_ids=["MBPP/11", "MBPP/12"])
    assert [t.task_id for t in env.unwrapped.tasks] == ["MBPP/11", "MBPP/12"]
    own = Task(
        "mine/1",
        "Return twice x.",
        "double",
        ("assert double(2) == 4",),
        visible_tests=("assert double(2) == 4",),
    )
    env2 = gym.make("MBPPCodeGen-v0", tasks=[own], reward="binary")
    obs, _ = env2.reset(seed=3)
    assert obs.startswith("Return twice x.")
    _, reward, *_ = env2.step("def double(x):\n    return 2 * x\n")
    assert reward == 1.0
    with pytest.raises(ValueError, match="MBPP/99999"):
        CodeGenerationEnv(tasks=few_mbpp, task_ids=["MBPP/99999"])
    with pytest.raises(ValueError, match="more than once"):
        CodeGenerationEnv(tasks=[own, own])
    with pytest.raises(ValueError, match="max_attempts"):
        CodeGenerationEnv(tasks=[own], max_attempts=0)
    with pytest.raises(ValueError, match="unknown reward preset"):
        CodeGenerationEnv(tasks=[own], reward="nope")


# ---------------------------------------------------------------- multi-turn


def test_multi_turn_feedback_then_success(few_mbpp: list[Task]) -> None:
    env = mbpp_env(few_mbpp, max_attempts=3)
    prompt, _ = env.reset(seed=0, options={"task_id": "MBPP/3"})
    task = env.task
    obs, reward, terminated, truncated, info = env.step(wrong_program(task))
    assert not terminated and not truncated and info["attempt"] == 1
    assert obs.startswith(prompt) and obs in env.observation_space
    assert "Attempt 1 of 3" in obs and task.tests[0].strip() in obs  # the failing test is shown
    assert "return None" in obs  # the previous program is shown
    obs, reward, terminated, truncated, info = env.step(task.reference_solution)
    assert terminated and not truncated and info["solved"] and info["attempt"] == 2
    assert reward >= 1.0


def test_multi_turn_runs_out_of_attempts_by_termination(few_mbpp: list[Task]) -> None:
    env = mbpp_env(few_mbpp, max_attempts=2)
    env.reset(seed=0)
    assert env.step("def f(:")[2] is False
    obs, _, terminated, truncated, info = env.step("def f(:")
    assert terminated and not truncated and not info["solved"] and info["attempt"] == 2
    assert "syntax_error" in obs  # the observation kept the feedback of attempt 1


def test_multi_turn_completion_style_puts_feedback_before_the_signature(he_tasks: list[Task]) -> None:
    env = CodeGenerationEnv(tasks=he_tasks, max_attempts=2)
    prompt, info = env.reset(seed=0, options={"task_id": "HumanEval/2"})
    assert info["prompt_style"] == "humaneval"
    obs, _, terminated, _, info = env.step("    return 0.0\n")
    assert not terminated and obs.endswith(prompt)  # the model still continues the signature
    feedback = obs[: -len(prompt)]
    assert all(line.startswith("#") or not line for line in feedback.splitlines())
    _, reward, terminated, _, info = env.step("    return number - int(number)\n\n\ndef junk():\n    pass\n")
    assert terminated and info["solved"] and info["extraction"] == "continuation"
    assert "junk" not in info["code"]


def test_feedback_is_bounded_by_the_observation_space(few_mbpp: list[Task]) -> None:
    env = mbpp_env(few_mbpp, max_attempts=2, max_observation_chars=600, feedback_chars=5000)
    env.reset(seed=0, options={"task_id": "MBPP/2"})
    huge = (
        "def similar_elements(a, b):\n" + "    x = '\u4e2d'  # not in the charset\n" * 200 + "    return ()\n"
    )
    obs, *_ = env.step(huge)
    assert len(obs) <= 600 and obs in env.observation_space


# ---------------------------------------------------------------- Gymnasium tooling


@pytest.mark.parametrize("env_id", [spec.id for spec in ENVIRONMENTS if spec.id.endswith("CodeGen-v0")])
def test_check_env_passes_for_every_registered_id(env_id: str, mbpp_path: Path) -> None:
    kwargs = {"path": str(mbpp_path), "split": "prompt"} if env_id.startswith("MBPP") else {}
    env = gym.make(env_id, **kwargs)
    check_env(env.unwrapped)
    env.close()


def test_check_env_multi_turn(few_mbpp: list[Task]) -> None:
    check_env(CodeGenerationEnv(tasks=few_mbpp, max_attempts=3, reward="weighted"), skip_render_check=True)


def test_same_seed_and_actions_give_the_same_steps(few_mbpp: list[Task]) -> None:
    def rollout() -> list[tuple]:
        env = mbpp_env(few_mbpp, max_attempts=2)
        out = []
        env.reset(seed=42)
        for action in ("def f(:", "x = 1"):
            obs, reward, terminated, truncated, info = env.step(action)
            out.append((obs, reward, terminated, info["reward_terms"], info["status"]))
        return out

    assert rollout() == rollout()


def test_sync_and_async_vector_envs(mbpp_path: Path) -> None:
    kwargs = {"path": str(mbpp_path), "split": "prompt"}
    answers = "def x(:"
    sync = gym.make_vec("MBPPCodeGen-v0", num_envs=2, vectorization_mode="sync", **kwargs)
    obs, infos = sync.reset(seed=[1, 2])
    assert len(obs) == 2 and all(o in sync.single_observation_space for o in obs)
    _, rewards, terminated, truncated, infos = sync.step((answers, answers))
    assert np.allclose(rewards, -0.2) and terminated.all() and not truncated.any()
    assert list(infos["status"]) == ["syntax_error", "syntax_error"]
    sync.close()

    async_env = gym.vector.AsyncVectorEnv(
        [lambda: gym.make("MBPPCodeGen-v0", **kwargs)] * 2, shared_memory=False
    )
    obs, infos = async_env.reset(seed=7, options={"task_id": "MBPP/2"})
    assert list(infos["task_id"]) == ["MBPP/2", "MBPP/2"]  # a GRPO group shares one task
    task = next(t for t in load_mbpp("prompt", path=mbpp_path) if t.task_id == "MBPP/2")
    _, rewards, terminated, _, infos = async_env.step((task.reference_solution, answers))
    assert rewards[0] >= 1.0 and rewards[1] == pytest.approx(-0.2)
    assert terminated.all()
    assert list(infos["solved"]) == [True, False]
    async_env.close()


def test_render_ansi(few_mbpp: list[Task]) -> None:
    env = mbpp_env(few_mbpp, render_mode="ansi")
    env.reset(seed=0, options={"task_id": "MBPP/2"})
    assert "MBPP/2" in env.render()
    env.step("def f(:")
    assert "syntax_error" in env.render()


def test_step_timings_compare_equal_and_export() -> None:
    a = StepTimings(execution_s=0.1, tests_s=(0.01,))
    b = StepTimings(execution_s=0.2)
    assert a == b and a != {"execution_s": 0.1}
    assert a.as_dict()["execution_s"] == 0.1 and a.as_dict()["tests_s"] == [0.01]
