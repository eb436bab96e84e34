"""CodeOutputPredictionEnv and SynthCodeGen-v0: check_env, rewards, verdicts, reset options, seeding."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import codegym  # noqa: F401  (registers the ids)
from codegym.envs import output_prediction as op_module
from codegym.envs.output_prediction import (
    DEFAULT_SIZE,
    CodeOutputPredictionEnv,
    cached_output_prediction,
    episode_metrics,
)
from codegym.tasks.procedural import (
    REWARD_PRESETS,
    VERDICTS,
    OutputPredictionConfig,
    OutputPredictionItem,
    format_question,
    generate_output_prediction,
    load_synthesis_tasks,
)

# A program whose output has a number line and a list line: every verdict is reachable.
HAND = OutputPredictionItem(
    item_id="hand/0",
    language="python",
    program="x = 12\n\nprint(x)\nprint([1, 2])\n",
    input="x = 12\n",
    expected_output="12\n[1, 2]\n",
    family="lists",
    difficulty=1,
    verified=True,
    metadata={"topic": "hand"},
)
ANSWERS = {
    "exact": "12\n[1, 2]\n",
    "close": "```\n12\n[1,2]\n```",
    "wrong_type": "twelve\n[1, 2]",
    "wrong": "13\n[1, 2]",
    "error": "   ",
}


@pytest.fixture(scope="module")
def executor() -> Iterator[object]:
    from codegym.execution import SandboxExecutor

    with SandboxExecutor() as ex:
        yield ex


@pytest.fixture(scope="module")
def items() -> list[OutputPredictionItem]:
    """Twelve unverified Python programs (generation without the sandbox takes milliseconds)."""
    return generate_output_prediction(OutputPredictionConfig(seed=3, size=12, verify=False))


def env_of(items: list[OutputPredictionItem], **kwargs: object) -> CodeOutputPredictionEnv:
    return CodeOutputPredictionEnv(items=items, **kwargs)


# ---------------------------------------------------------------- making it


def test_default_make_works_offline_and_is_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEGYM_CACHE_DIR", str(tmp_path))
    env = gym.make("CodeOutputPrediction-v0")
    inner = env.unwrapped
    assert isinstance(inner, CodeOutputPredictionEnv)
    assert len(inner.items) == DEFAULT_SIZE and all(i.verified for i in inner.items)
    assert inner.config == OutputPredictionConfig(size=DEFAULT_SIZE)
    assert len({i.family for i in inner.items}) == 10
    files = list((tmp_path / "output_prediction").glob("*.jsonl"))
    assert len(files) == 1 and not list((tmp_path / "output_prediction").glob("*.tmp"))
    obs, info = env.reset(seed=0)
    assert obs == format_question(inner.item) and obs in env.observation_space
    assert "expected_output" not in info  # the answer is not handed to the agent before it answers
    _, reward, terminated, truncated, info = env.step(inner.item.expected_output)
    assert (reward, terminated, truncated, info["verdict"]) == (10.0, True, False, "exact")

    # A second make reads the cache: generation must not run again.
    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("generated again instead of reading the cache")

    monkeypatch.setattr(op_module, "generate_output_prediction", boom)
    again = gym.make("CodeOutputPrediction-v0").unwrapped
    assert again.items == inner.items
    env.close()


def test_cache_keyed_by_config_and_rebuilt_when_corrupt(tmp_path: Path, executor: object) -> None:
    small = OutputPredictionConfig(seed=1, size=4)
    first = cached_output_prediction(small, cache=tmp_path, executor=executor)
    assert len(first) == 4 and all(i.verified for i in first)
    other = cached_output_prediction(dataclasses.replace(small, seed=2), cache=tmp_path, executor=executor)
    files = sorted(tmp_path.glob("*.jsonl"))
    assert len(files) == 2 and other != first
    assert cached_output_prediction(small, cache=tmp_path) == first  # no executor needed: cache hit
    for f in files:
        f.write_text("{not json\n")
    with pytest.warns(UserWarning, match="unreadable"):
        rebuilt = cached_output_prediction(small, cache=tmp_path, executor=executor)
    assert rebuilt == first
    # cache=False and unverified configs never touch the disk.
    cached_output_prediction(dataclasses.replace(small, seed=5), cache=False, executor=executor)
    cached_output_prediction(dataclasses.replace(small, seed=6, verify=False), cache=tmp_path)
    assert len(list(tmp_path.glob("*.jsonl"))) == 2


def test_generator_options_reach_the_config(tmp_path: Path) -> None:
    from codegym.execution.toolchains import ToolchainMissing, find_toolchain

    try:
        find_toolchain("javascript")  # the items are verified with node
    except ToolchainMissing as exc:
        pytest.skip(str(exc))
    env = gym.make(
        "CodeOutputPrediction-v0",
        split="eval",
        size=6,
        seed=4,
        languages="javascript",
        families=["loops", "recursion"],
        difficulty=2,
        cache=tmp_path,
    ).unwrapped
    assert env.config == OutputPredictionConfig(
        seed=4,
        size=6,
        split="eval",
        languages=("javascript",),
        families=("loops", "recursion"),
        difficulty=(2,),
    )
    assert {i.family for i in env.items} <= {"loops", "recursion"}
    assert {i.difficulty for i in env.items} == {2} and {i.language for i in env.items} == {"javascript"}
    assert all(i.item_id.startswith("outpred/eval/javascript/") for i in env.items)
    obs, info = env.reset(seed=0)
    assert "```javascript" in obs and info["language"] == "javascript"
    config = OutputPredictionConfig(seed=4, size=3, verify=False)
    assert CodeOutputPredictionEnv(config=config).items == generate_output_prediction(config)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"items": [HAND], "size": 3}, ValueError, "either items= or generator options"),
        ({"config": OutputPredictionConfig(size=2), "seed": 1}, ValueError, "either config= or its fields"),
        ({"config": {"size": 2}}, TypeError, "OutputPredictionConfig"),
        ({"items": [HAND, HAND]}, ValueError, "more than once"),
        ({"items": []}, ValueError, "no items"),
        ({"items": ["print(1)"]}, TypeError, "OutputPredictionItem"),
        ({"languages": ["cobol"], "cache": False}, ValueError, "languages"),
        ({"split": "dev", "cache": False}, ValueError, "split"),
        ({"families": ["nope"], "cache": False}, ValueError, "unknown names"),
        ({"items": [HAND], "observation": "image"}, ValueError, "unknown observation"),
        ({"items": [HAND], "sampling": "cyclic"}, ValueError, "unknown sampling"),
        ({"items": [HAND], "reward": "strict"}, ValueError, "unknown reward preset"),
        ({"items": [HAND], "reward": {"exact": 1.0}}, ValueError, "missing"),
        ({"items": [HAND], "reward": 3}, TypeError, "preset name"),
        ({"items": [HAND], "max_observation_chars": 10}, ValueError, "max_observation_chars"),
        ({"items": [HAND], "cache": 1}, TypeError, "cache"),
        (
            {"items": [dataclasses.replace(HAND, family="mine")], "observation": "dict"},
            ValueError,
            "'dict' observation encodes only",
        ),
    ],
)
def test_bad_arguments_name_the_problem(kwargs: dict, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        CodeOutputPredictionEnv(**kwargs)


# ---------------------------------------------------------------- Gymnasium API


@pytest.mark.parametrize("observation", ["question", "program", "dict"])
def test_check_env(items: list[OutputPredictionItem], observation: str) -> None:
    env = env_of(items, observation=observation)
    check_env(env, skip_render_check=True)
    obs, info = env.reset(seed=0)
    assert obs in env.observation_space
    if observation == "dict":
        assert obs["program"] == env.item.program and obs["input"] == env.item.input == info["input"]
        assert obs["difficulty"] == env.item.difficulty
    elif observation == "program":
        assert obs == env.item.program
    assert env.action_space.sample() in env.action_space


def test_check_env_through_gym_make(tmp_path: Path) -> None:
    env = gym.make("CodeOutputPrediction-v0", size=5, cache=tmp_path)
    check_env(env.unwrapped)
    env.close()


def test_check_env_synthesis_codegen() -> None:
    env = gym.make("SynthCodeGen-v0")
    inner = env.unwrapped
    assert inner.dataset == "procedural/synthesis" and len(inner.tasks) == 100
    assert all(t.task_id.startswith("synth/") for t in inner.tasks)
    check_env(inner)
    _, info = env.reset(seed=0, options={"task_id": "synth/3"})
    _, reward, terminated, _, info = env.step(inner.task.reference_solution)
    assert terminated and info["solved"] and reward >= 1.0
    _, _ = env.reset(options={"task_id": "synth/3"})
    _, reward, _, _, info = env.step(f"def {inner.task.entry_point}(*args):\n    return None\n")
    assert not info["solved"] and reward < 1.0
    env.close()


def test_synthesis_codegen_takes_other_splits_and_tasks() -> None:
    assert gym.make("SynthCodeGen-v0", split="eval").unwrapped.tasks[0].task_id.startswith("synth/eval/")
    tasks = load_synthesis_tasks(split="eval", size=5, seed=1, phrasing_groups=("E",))
    env = gym.make("SynthCodeGen-v0", tasks=tasks).unwrapped
    assert env.tasks == tasks


@pytest.mark.parametrize("verdict", VERDICTS)
def test_every_verdict_through_step(verdict: str) -> None:
    env = env_of([HAND])
    env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(ANSWERS[verdict])
    assert info["verdict"] == verdict, info["detail"]
    assert reward == REWARD_PRESETS["reference"][verdict]
    assert terminated and not truncated and obs == format_question(HAND)
    assert info["expected_output"] == HAND.expected_output
    assert info["exact"] == (verdict == "exact") and info["close"] == (verdict in ("exact", "close"))
    assert {k: info[k] for k in ("item_id", "family", "difficulty", "language", "verified", "topic")} == {
        "item_id": "hand/0",
        "family": "lists",
        "difficulty": 1,
        "language": "python",
        "verified": True,
        "topic": "hand",
    }


def test_reference_rewards_are_exact_10_close_5() -> None:
    env = env_of([HAND])
    rewards = {}
    for verdict, answer in ANSWERS.items():
        env.reset()
        rewards[verdict] = env.step(answer)[1]
    assert rewards == {"exact": 10.0, "close": 5.0, "wrong_type": 0.0, "wrong": 0.0, "error": 0.0}


@pytest.mark.parametrize("preset", sorted(REWARD_PRESETS))
def test_reward_presets(preset: str) -> None:
    env = env_of([HAND], reward=preset)
    for verdict, answer in ANSWERS.items():
        env.reset()
        assert env.step(answer)[1] == REWARD_PRESETS[preset][verdict], (preset, verdict)


def test_custom_reward_table_and_callable() -> None:
    table = {"exact": 2.0, "close": 1.0, "wrong_type": -3.0, "wrong": -1.0, "error": -5.0}
    env = env_of([HAND], reward=table)
    env.reset()
    assert env.step(ANSWERS["wrong_type"])[1] == -3.0

    seen = []

    def by_length(prediction: str, item: OutputPredictionItem, score: object) -> float:
        seen.append((prediction, item.item_id, score.verdict))
        return 1.0 if score.exact else -len(prediction) / 100

    env = env_of([HAND], reward=by_length)
    env.reset()
    assert env.step(ANSWERS["wrong"])[1] == pytest.approx(-0.09)
    assert seen == [(ANSWERS["wrong"], "hand/0", "wrong")]


def test_step_errors() -> None:
    env = env_of([HAND])
    with pytest.raises(gym.error.ResetNeeded):
        env.step("12")
    env.reset()
    with pytest.raises(TypeError, match="as a str"):
        env.step(12)  # type: ignore[arg-type]
    env.step("12")
    with pytest.raises(gym.error.ResetNeeded, match="one prediction per episode"):
        env.step("12")


# ---------------------------------------------------------------- reset options, sampling, seeding


def test_reset_options(items: list[OutputPredictionItem]) -> None:
    env = env_of(items)
    _, info = env.reset(options={"item_id": items[5].item_id})
    assert info["item_id"] == items[5].item_id and env.item is items[5]
    _, info = env.reset(options={"item_index": 7})
    assert info["item_id"] == items[7].item_id
    with pytest.raises(ValueError, match="not one of this environment's 12 items"):
        env.reset(options={"item_id": "outpred/python/999"})
    with pytest.raises(ValueError, match=r"int in \[0, 12\)"):
        env.reset(options={"item_index": 12})
    with pytest.raises(ValueError, match="not both"):
        env.reset(options={"item_id": items[0].item_id, "item_index": 0})
    with pytest.raises(ValueError, match="unknown reset options"):
        env.reset(options={"task_id": "x"})


def episode_ids(env: gym.Env, seed: int, n: int) -> list[str]:
    ids = [env.reset(seed=seed)[1]["item_id"]]
    ids += [env.reset()[1]["item_id"] for _ in range(n - 1)]
    return ids


def test_seeding_is_reproducible(items: list[OutputPredictionItem]) -> None:
    a, b = env_of(items), env_of(items)
    assert episode_ids(a, 7, 20) == episode_ids(b, 7, 20) == episode_ids(a, 7, 20)
    assert episode_ids(a, 7, 20) != episode_ids(a, 8, 20)
    assert len(set(episode_ids(a, 7, 40))) > 6  # uniform sampling visits most items


def test_shuffle_and_sequential_sampling(items: list[OutputPredictionItem]) -> None:
    ids = [i.item_id for i in items]
    shuffled = episode_ids(env_of(items, sampling="shuffle"), 0, 24)
    assert sorted(shuffled[:12]) == sorted(ids) and sorted(shuffled[12:]) == sorted(ids)
    assert shuffled[:12] != ids
    assert episode_ids(env_of(items, sampling="sequential"), 0, 13) == [*ids, ids[0]]


def test_generated_items_depend_on_the_generator_seed_not_the_episode_seed(executor: object) -> None:
    a, b, c = (CodeOutputPredictionEnv(seed=s, size=3, cache=False, executor=executor) for s in (1, 1, 2))
    assert a.items == b.items and a.items != c.items
    a.reset(seed=0)
    c.reset(seed=0)
    assert a.item != c.item


# ---------------------------------------------------------------- vector envs and metrics


def test_sync_vector_env_and_episode_metrics() -> None:
    envs = gym.vector.SyncVectorEnv([lambda: CodeOutputPredictionEnv(items=[HAND])] * 3)
    obs, infos = envs.reset(seed=0)
    assert list(obs) == [format_question(HAND)] * 3 and "expected_output" not in infos
    _, rewards, terminated, truncated, infos = envs.step(
        [ANSWERS["exact"], ANSWERS["close"], ANSWERS["wrong"]]
    )
    assert list(rewards) == [10.0, 5.0, 0.0] and terminated.all() and not truncated.any()
    assert list(infos["verdict"]) == ["exact", "close", "wrong"]
    # Gymnasium's NEXT_STEP autoreset: the next step only resets, and reports no verdict.
    _, rewards2, _, _, infos2 = envs.step(["", "", ""])
    assert list(rewards2) == [0.0] * 3 and "verdict" not in infos2
    metrics = episode_metrics([infos, infos2])
    assert metrics["n"] == 3
    assert metrics["exact_accuracy"] == pytest.approx(1 / 3)
    assert metrics["close_accuracy"] == pytest.approx(2 / 3)
    assert metrics["wrong_rate"] == pytest.approx(1 / 3)
    assert episode_metrics(infos, by="family")["by_family"]["lists"]["n"] == 3
    envs.close()


def test_env_metrics_and_episode_metrics_agree(items: list[OutputPredictionItem]) -> None:
    env = env_of(items)
    infos = []
    rng = np.random.default_rng(0)
    for k in range(30):
        env.reset(seed=k)
        expected = env.item.expected_output
        answer = [expected, expected.replace("\n", "\n\n") + " ", "no idea", ""][int(rng.integers(4))]
        infos.append(env.step(answer)[4])
    mine = env.metrics()
    assert mine == episode_metrics(infos)
    assert mine["n"] == 30 and 0 < mine["exact_accuracy"] < mine["close_accuracy"] < 1
    by = episode_metrics(infos, by="difficulty")["by_difficulty"]
    assert sum(m["n"] for m in by.values()) == 30 and set(by) <= {1, 2, 3}
    with pytest.raises(ValueError, match="cannot group by"):
        episode_metrics(infos, by="colour")
    env.reset_metrics()
    assert env.metrics()["n"] == 0


def test_render_ansi() -> None:
    env = env_of([HAND], render_mode="ansi")
    assert "no episode" in env.render()
    env.reset()
    env.step("13\n[1, 2]")
    text = env.render()
    assert "hand/0" in text and "--- predicted ---\n13" in text and "verdict: wrong" in text
