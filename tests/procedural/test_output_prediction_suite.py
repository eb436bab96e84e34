from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace

import pytest
from _shared import every_output_variant

from codegym.tasks.procedural import (
    OutputPredictionConfig,
    format_question,
    generate_output_prediction,
    output_prediction_program,
    verify_items,
)
from codegym.tasks.procedural.programs import expected_stdout


def _cfg(**kwargs) -> OutputPredictionConfig:
    return OutputPredictionConfig(**{"verify": False, **kwargs})


def _programs(items):
    return [it.program for it in items if it.language == "python"]


def test_reproducible_and_prefix_stable():
    a = generate_output_prediction(_cfg(seed=2, size=25))
    assert a == generate_output_prediction(_cfg(seed=2, size=25))
    assert generate_output_prediction(_cfg(seed=2, size=10)) == a[:10]
    assert _programs(a) != _programs(generate_output_prediction(_cfg(seed=3, size=25)))
    # Raw index 0 is always kept: random access gives the first program.
    assert output_prediction_program(_cfg(seed=2, size=25), 0).source("python") == a[0].program


def test_deduplicated():
    items = generate_output_prediction(_cfg(seed=0, size=300))
    assert len(set(_programs(items))) == 300


def test_too_small_space_raises():
    with pytest.raises(ValueError, match="distinct"):
        generate_output_prediction(_cfg(size=50, families=("recursion",), difficulty=(1,)))


def test_train_and_eval_are_disjoint():
    train = generate_output_prediction(_cfg(seed=0, size=300))
    evals = generate_output_prediction(_cfg(seed=0, size=100, split="eval"))
    assert not set(_programs(train)) & set(_programs(evals))
    assert all(it.item_id.startswith("outpred/eval/python/") and it.split == "eval" for it in evals)


def test_languages_render_the_same_program():
    items = generate_output_prediction(_cfg(seed=1, size=5, languages=("python", "javascript")))
    assert [it.item_id for it in items[:2]] == ["outpred/python/0", "outpred/javascript/0"]
    for py, js in zip(items[::2], items[1::2], strict=True):
        assert (py.language, js.language) == ("python", "javascript")
        assert (py.family, py.difficulty, py.index) == (js.family, js.difficulty, js.index)
        assert js.program.startswith(js.input) and "let " in js.input
        assert py.program.startswith(py.input)
        assert not js.verified


def test_filters_and_question():
    items = generate_output_prediction(_cfg(size=12, families=["recursion", "classes"], difficulty=3))
    assert {it.family for it in items} <= {"recursion", "classes"} and {it.difficulty for it in items} == {3}
    question = format_question(items[0])
    assert items[0].program in question and "print" in question


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"languages": ("cobol",)}, "languages"),
        ({"languages": ()}, "languages"),
        ({"languages": ("python", "python")}, "languages"),
        ({"families": ("nope",)}, "families"),
        ({"difficulty": (0,)}, "difficulty"),
        ({"size": -3}, "size"),
        ({"seed": "1"}, "seed"),
        ({"split": "validation"}, "split"),
        ({"timeout_s": 0}, "timeout_s"),
    ],
)
def test_validate_rejects(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _cfg(**kwargs).validate()


def test_every_variant_is_covered():
    topics = {(p.family, p.topic) for p in every_output_variant(3)}
    assert len(topics) >= 40, sorted(topics)


def test_expected_outputs_match_the_sandbox(executor):
    from codegym.tasks.procedural import run_programs

    programs = every_output_variant(3)
    results = run_programs([p.source("python") for p in programs], "python", executor=executor)
    for program, result in zip(programs, results, strict=True):
        assert result.stdout == expected_stdout(program.outputs, "python"), (program.source("python"), result)


def test_generate_verifies_through_the_sandbox(executor):
    items = generate_output_prediction(OutputPredictionConfig(seed=4, size=12), executor=executor)
    assert all(it.verified for it in items)


def test_verification_catches_a_wrong_expected_output(executor):
    items = generate_output_prediction(_cfg(seed=4, size=3))
    broken = [items[0], replace(items[1], expected_output=items[1].expected_output + "extra\n")]
    with pytest.raises(RuntimeError, match="does not print its expected output"):
        verify_items(broken, executor=executor)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_javascript_renderings_print_the_expected_output(tmp_path):
    # These programs are the generator's own (trusted) output: one plain node process checks every
    # JavaScript template at once, much faster than a sandboxed run each (verify_items does that).
    programs = every_output_variant(3)
    script = tmp_path / "all.js"
    # One node process: each program runs in its own function scope, separated by a marker line.
    parts = []
    for program in programs:
        body = program.source("javascript").replace("\n", "\n  ")
        parts.append(f"(() => {{\n  {body}\n}})();\nconsole.log('<<END>>');")
    script.write_text("\n".join(parts))
    proc = subprocess.run(["node", str(script)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    outputs = proc.stdout.split("<<END>>\n")[:-1]
    assert len(outputs) == len(programs)
    for program, out in zip(programs, outputs, strict=True):
        assert out == expected_stdout(program.outputs, "javascript"), program.source("javascript")
