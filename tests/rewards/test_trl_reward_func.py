"""The TRL adapter: reward_funcs signature, batching, chat completions, and a real GRPOTrainer step."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest

from codegym.execution import ExecutionResult, Outcome
from codegym.integrations.trl import completion_text, make_trl_dataset, make_trl_reward_func
from codegym.tasks import load_humaneval, load_mbpp
from codegym.tasks.base import Task


@pytest.fixture(scope="module")
def tasks(mbpp_path: Path) -> list[Task]:
    return load_mbpp("prompt", path=mbpp_path)[:3]


def fenced(code: str) -> str:
    return f"Here you go:\n```python\n{code}\n```\n"


def test_strings_and_chat_completions_batched(tasks: list[Task]) -> None:
    func = make_trl_reward_func("execution", tasks=tasks)
    assert func.__name__ == "codegym_execution"
    a, b, c = tasks
    completions = [
        fenced(a.reference_solution),  # a plain string
        [{"role": "assistant", "content": fenced(b.reference_solution)}],  # conversational
        "def nope(:",  # syntax error
        [{"role": "assistant", "content": "I cannot do this."}],  # no code
    ]
    logged: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    rewards = func(
        prompts=["p"] * 4,
        completions=completions,
        completion_ids=[[1]] * 4,
        task_id=[a.task_id, b.task_id, c.task_id, c.task_id],
        trainer_state=None,
        log_metric=lambda name, value: logged.__setitem__(name, value),
        log_extra=lambda column, values: extra.__setitem__(column, values),
    )
    assert len(rewards) == 4 and all(isinstance(r, float) for r in rewards)
    assert rewards[0] >= 1.0 and rewards[1] >= 1.0
    assert rewards[2] == pytest.approx(-0.2) and rewards[3] == pytest.approx(-0.2)
    assert logged["codegym_execution/all_passed"] == pytest.approx(0.5)
    assert logged["codegym_execution/format"] == pytest.approx(0.75)
    assert extra["codegym_execution/status"] == ["passed", "passed", "syntax_error", "syntax_error"]


def test_task_lookup_by_registry_and_custom_reward() -> None:
    task = load_humaneval()[2]
    func = make_trl_reward_func({"pass_fraction": 1.0}, name="frac")  # no tasks: registry lookup by id
    assert func.__name__ == "frac"
    rewards = func(
        prompts=[task.prompt] * 2,
        completions=["    return number % 1.0\n", "    return 0\n"],
        task_id=[task.task_id] * 2,
    )
    assert rewards[0] == 1.0 and rewards[1] < 1.0


def test_errors_name_the_problem(tasks: list[Task]) -> None:
    func = make_trl_reward_func(tasks=tasks)
    with pytest.raises(KeyError, match="'task_id'.*missing"):
        func(prompts=["p"], completions=["x"], problem=["MBPP/1"])
    with pytest.raises(KeyError, match="MBPP/999"):
        func(prompts=["p"], completions=["x"], task_id=["MBPP/999"])
    with pytest.raises(ValueError, match="unknown reward preset"):
        make_trl_reward_func("nope")
    with pytest.raises(TypeError, match="chat messages"):
        completion_text(42)


def test_engine_failures_become_none(tasks: list[Task]) -> None:
    class BrokenEngine:
        def run_batch(self, requests: list) -> list[ExecutionResult]:
            return [ExecutionResult(status=Outcome.INFRA, message="worker died") for _ in requests]

    func = make_trl_reward_func(tasks=tasks, executor=BrokenEngine())
    assert func(prompts=["p"], completions=["x = 1"], task_id=[tasks[0].task_id]) == [None]


def test_signature_matches_what_grpo_trainer_passes() -> None:
    trl = pytest.importorskip("trl")
    source = inspect.getsource(trl.GRPOTrainer._calculate_rewards)
    # TRL 1.x calls reward_func(prompts=..., completions=..., completion_ids=..., **reward_kwargs).
    assert "prompts=prompts, completions=completions" in source
    params = inspect.signature(make_trl_reward_func()).parameters
    assert {"prompts", "completions"} <= set(params)
    assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


@pytest.mark.slow
def test_grpo_trainer_step_with_a_tiny_chat_model(tmp_path: Path) -> None:
    """One real GRPO step: TRL generates chat completions, calls our reward function and logs its terms."""
    pytest.importorskip("trl")
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from codegym.backends.tiny import tiny_llama_path

    he = load_humaneval()[:2]
    inner = make_trl_reward_func("execution", tasks=he)
    seen: list[dict[str, Any]] = []

    def reward(prompts: list, completions: list, **columns: Any) -> list[float | None]:
        seen.append({"prompts": prompts, "completions": completions, **columns})
        return inner(prompts, completions, **columns)

    reward.__name__ = inner.__name__
    path = tiny_llama_path(instruct=True)
    trainer = GRPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(path),
        processing_class=AutoTokenizer.from_pretrained(path),
        reward_funcs=[reward],
        train_dataset=make_trl_dataset(he, prompt_style="instruct", conversational=True),
        args=GRPOConfig(
            output_dir=str(tmp_path),
            per_device_train_batch_size=2,
            num_generations=2,
            max_completion_length=8,
            max_steps=1,
            report_to=[],
            use_cpu=True,
            logging_steps=1,
            save_strategy="no",
            seed=0,
        ),
    )
    trainer.train()
    call = seen[0]
    assert len(call["completions"]) == 2 and set(call["task_id"]) <= {t.task_id for t in he}
    assert isinstance(call["completions"][0], list) and call["completions"][0][0]["role"] == "assistant"
    logs = trainer.state.log_history[0]
    assert "rewards/codegym_execution/mean" in logs
    assert "codegym_execution/syntax_error" in logs and "codegym_execution/readability" in logs
