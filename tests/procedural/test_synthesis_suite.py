from __future__ import annotations

import pytest

from codegym.tasks.procedural import (
    FAMILIES,
    PHRASING_GROUPS,
    SynthesisConfig,
    generate_synthesis_tasks,
    load_synthesis_tasks,
    rephrase,
    synthesis_item,
)


def _keys(tasks):
    return [t.metadata["content_key"] for t in tasks]


def test_same_seed_same_tasks_and_other_seed_differs():
    a = generate_synthesis_tasks(SynthesisConfig(seed=3, size=20))
    b = generate_synthesis_tasks(SynthesisConfig(seed=3, size=20))
    assert a == b
    assert [t.metadata for t in a] == [t.metadata for t in b]
    c = generate_synthesis_tasks(SynthesisConfig(seed=4, size=20))
    assert _keys(a) != _keys(c)


def test_item_does_not_depend_on_size():
    small = generate_synthesis_tasks(SynthesisConfig(seed=1, size=10))
    large = generate_synthesis_tasks(SynthesisConfig(seed=1, size=40))
    assert large[:10] == small
    # Raw index 0 is always kept, so the random-access item is the first task.
    raw = synthesis_item(SynthesisConfig(seed=1, size=10), 0)
    assert raw.prompt == small[0].prompt and raw.tests == small[0].tests


def test_deduplicated_and_ids_are_positions():
    tasks = generate_synthesis_tasks(SynthesisConfig(seed=0, size=300))
    assert len(set(_keys(tasks))) == 300
    assert [t.task_id for t in tasks] == [f"synth/{i}" for i in range(300)]


def test_small_space_raises_instead_of_duplicating():
    with pytest.raises(ValueError, match="distinct"):
        generate_synthesis_tasks(SynthesisConfig(size=30, families=("square",)))


def test_train_and_eval_are_disjoint():
    train = generate_synthesis_tasks(SynthesisConfig(seed=0, size=300, split="train"))
    evals = generate_synthesis_tasks(SynthesisConfig(seed=0, size=100, split="eval"))
    assert not set(_keys(train)) & set(_keys(evals))
    assert all(t.metadata["split"] == "eval" and t.task_id.startswith("synth/eval/") for t in evals)


def test_phrasing_groups_change_only_the_wording():
    a = generate_synthesis_tasks(SynthesisConfig(seed=5, size=30, phrasing_groups=("A",)))
    d = generate_synthesis_tasks(SynthesisConfig(seed=5, size=30, phrasing_groups=("D",)))
    assert _keys(a) == _keys(d)
    assert [t.tests for t in a] == [t.tests for t in d]
    assert all(x.prompt != y.prompt for x, y in zip(a, d, strict=True))
    for task in a + d:
        group = task.metadata["phrasing_group"]
        assert task.prompt == task.metadata["phrasings"][group]
        assert set(task.metadata["phrasings"]) == set(PHRASING_GROUPS)
        # Every wording names the function and its arguments.
        for text in task.metadata["phrasings"].values():
            assert task.entry_point in text
            assert all(name in text for name in task.metadata["arg_names"])


def test_groups_are_drawn_from_the_config():
    tasks = generate_synthesis_tasks(SynthesisConfig(seed=0, size=60, phrasing_groups=("B", "E")))
    assert {t.metadata["phrasing_group"] for t in tasks} == {"B", "E"}


def test_task_format():
    for task in generate_synthesis_tasks(SynthesisConfig(seed=2, size=50)):
        assert len(task.tests) == 5 and len(task.visible_tests) == 1
        assert task.visible_tests[0] not in task.tests
        assert task.reference_solution.startswith(task.metadata["signature"])
        assert task.source == "procedural/synthesis" and task.language == "python"
        assert {"family", "phrasing_group", "difficulty", "params", "category"} <= set(task.metadata)
        assert all(t.startswith(f"assert {task.entry_point}(") for t in task.tests + task.visible_tests)


def test_filters():
    tasks = generate_synthesis_tasks(SynthesisConfig(size=20, difficulty=(1,), categories=("string",)))
    assert {t.metadata["difficulty"] for t in tasks} == {1}
    assert {t.metadata["category"] for t in tasks} == {"string"}
    one = generate_synthesis_tasks(SynthesisConfig(size=5, families=["add_k"]))
    assert {t.metadata["family"] for t in one} == {"add_k"}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"families": ("nope",)}, "families"),
        ({"categories": ("maths",)}, "categories"),
        ({"phrasing_groups": ("Z",)}, "phrasing_groups"),
        ({"phrasing_groups": ()}, "phrasing_groups"),
        ({"difficulty": (4,)}, "difficulty"),
        ({"size": -1}, "size"),
        ({"seed": -1}, "seed"),
        ({"seed": 999_999_990}, "seed"),
        ({"split": "test"}, "split"),
        ({"num_tests": 1}, "num_tests"),
        ({"num_visible_tests": -1}, "num_visible_tests"),
        ({"families": ("add_k",), "difficulty": (3,)}, "no family"),
    ],
)
def test_validate_rejects(kwargs, match):
    config = SynthesisConfig(**kwargs)
    with pytest.raises(ValueError, match=match):
        config.validate()
    with pytest.raises(ValueError, match=match):
        generate_synthesis_tasks(config)


def test_loader_and_registry():
    tasks = load_synthesis_tasks(split="eval", size=4, seed=1, difficulty=(1,))
    assert len(tasks) == 4 and all(t.metadata["difficulty"] == 1 for t in tasks)
    from codegym.tasks import get_task, load_tasks

    assert load_tasks("procedural/synthesis", size=4) == generate_synthesis_tasks(SynthesisConfig(size=4))
    assert get_task("synth/3", size=10) == generate_synthesis_tasks(SynthesisConfig(size=4))[3]


def _one_task_per_family():
    return [
        generate_synthesis_tasks(SynthesisConfig(seed=11, size=1, families=(f.name,)))[0] for f in FAMILIES
    ]


def _constant_solution(task):
    first_expected = task.tests[0].split(" == ", 1)[1]
    params = ", ".join(task.metadata["arg_names"])
    return f"def {task.entry_point}({params}):\n    return {first_expected}\n"


def test_reference_solutions_pass_and_wrong_ones_fail(executor):
    from codegym.execution import ExecutionRequest

    tasks = _one_task_per_family() + generate_synthesis_tasks(SynthesisConfig(seed=9, size=30))
    requests = []
    for task in tasks:
        tests = list(task.tests + task.visible_tests)
        requests.append(ExecutionRequest(code=task.reference_solution, tests=tests))
        requests.append(ExecutionRequest(code=_constant_solution(task), tests=list(task.tests)))
        wrong = f"def {task.entry_point}(*args):\n    return None\n"
        requests.append(ExecutionRequest(code=wrong, tests=list(task.tests)))
    results = executor.run_batch(requests)
    for i, task in enumerate(tasks):
        ref, const, none = results[3 * i : 3 * i + 3]
        assert ref.passed, (task.task_id, task.reference_solution, ref)
        assert not const.passed, (task.metadata["family"], task.tests)
        assert not none.passed, task.metadata["family"]


def test_rephrase():
    task = generate_synthesis_tasks(SynthesisConfig(seed=0, size=1, phrasing_groups=("A",)))[0]
    other = rephrase(task, "E")
    assert other.prompt == task.metadata["phrasings"]["E"] != task.prompt
    assert other.metadata["phrasing_group"] == "E" and other.tests == task.tests
    with pytest.raises(ValueError, match="phrasing group"):
        rephrase(task, "Z")
    from dataclasses import replace

    with pytest.raises(ValueError, match="synthesis tasks"):
        rephrase(replace(task, metadata={}), "A")
