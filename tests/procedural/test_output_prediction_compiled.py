"""The output-prediction suite in C++ and Rust: outputs verified in the sandbox, reproducibility, the env.

Compiling costs about a second of CPU per C++ program (less for Rust), so the checks compile few programs:
every variant of every family is checked in *one* program per language (each variant in a namespace or
module of its own), and real items are generated a handful at a time, sharing one seed so that later tests
hit the engine's build cache. A language whose toolchain is missing is skipped with the reason.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import replace

import gymnasium as gym
import pytest
from _shared import every_output_variant, toolchain_param

import codegym  # noqa: F401  (registers the environments)
from codegym.execution import toolchains
from codegym.execution.toolchains import ToolchainMissing, find_toolchain
from codegym.tasks.procedural import (
    OUTPUT_FAMILIES,
    OutputPredictionConfig,
    format_question,
    generate_output_prediction,
    output_prediction_program,
    run_programs,
    score_prediction,
)
from codegym.tasks.procedural.programs import CPP_NPOS, Native, Program, expected_stdout, printed

COMPILED = ("cpp", "rust")
END = "<<END>>"
#: Items of the generation tests: the env and CLI tests use the same seed (their programs are a prefix).
SEED = 5


LANGS = [toolchain_param(lang) for lang in COMPILED]


def _one_program(programs: list[Program], lang: str) -> str:
    """All ``programs`` in one source: each in its own namespace (C++) or module (Rust), run in order."""
    if lang == "cpp":
        headers: set[str] = set()
        parts = []
        for i, program in enumerate(programs):
            lines = program.source("cpp").splitlines(keepends=True)
            headers |= {line for line in lines if line.startswith("#include")}
            body = "".join(line for line in lines if not line.startswith("#include"))
            assert body.count("int main() {") == 1
            parts.append(f"namespace p{i} {{\n{body.replace('int main() {', 'void run() {')}}}\n")
        calls = "".join(f'    p{i}::run();\n    std::cout << "{END}\\n";\n' for i in range(len(programs)))
        return (
            "".join(sorted(headers | {"#include <iostream>\n"}))
            + "".join(parts)
            + f"int main() {{\n{calls}}}\n"
        )
    parts = []
    for i, program in enumerate(programs):
        body = program.source("rust")
        assert body.count("fn main() {") == 1
        parts.append(f"mod p{i} {{\n{body.replace('fn main() {', 'pub fn main() {')}}}\n")
    calls = "".join(f'    p{i}::main();\n    println!("{END}");\n' for i in range(len(programs)))
    return "".join(parts) + f"fn main() {{\n{calls}}}\n"


# ---------------------------------------------------------------------------------------------------
# Every family and level prints what the generator expects


def test_every_family_and_level_has_both_languages():
    programs = every_output_variant(2)
    assert {(p.family, p.difficulty) for p in programs} == {
        (f.name, d) for f in OUTPUT_FAMILIES for d in f.difficulties
    }
    for family in OUTPUT_FAMILIES:
        assert set(COMPILED) <= set(family.languages), family.name
    for program in programs:
        for lang in COMPILED:
            source = program.source(lang)
            # The input block opens main, and the program without it is the item's "code".
            head = "int main() {\n" if lang == "cpp" else "fn main() {\n"
            block = "".join(f"    {line}\n" for line in program.input_block(lang).splitlines())
            assert head + block + "\n" in source
            assert program.body(lang) == source.replace(block + "\n", "")


@pytest.mark.parametrize("lang", LANGS)
def test_every_variant_prints_its_expected_output_in_the_sandbox(executor, lang):
    programs = every_output_variant(2)
    (result,) = run_programs([_one_program(programs, lang)], lang, executor=executor, timeout_s=30.0)
    assert result.status.value == "passed", (result.message, result.stderr[-3000:])
    outputs = result.stdout.split(END + "\n")
    assert outputs[-1] == "" and len(outputs) == len(programs) + 1
    for program, out in zip(programs, outputs, strict=False):
        assert out == expected_stdout(program.outputs, lang), program.source(lang)


def test_native_printing():
    # C++ prints booleans as 1/0 and a failed find as npos; Rust prints Option with {:?}.
    assert printed(True, "cpp") == "1" and printed(False, "rust") == "false"
    missing, found = Native(-1, (("cpp", CPP_NPOS), ("rust", "None"))), Native(2, (("rust", "Some(2)"),))
    assert [printed(missing, lang) for lang in ("python", "cpp", "rust")] == ["-1", str(2**64 - 1), "None"]
    assert printed(found, "rust") == "Some(2)" and printed(found, "cpp") == "2"
    # Containers: Rust's Debug text (the C++ programs' helpers print the same), keys sorted.
    assert printed({"b": 1, "a": 2}, "rust") == '{"a": 2, "b": 1}' == printed({"b": 1, "a": 2}, "cpp")
    assert printed(["x", "y"], "cpp") == '["x", "y"]' and printed([[1, 2]], "rust") == "[[1, 2]]"


def test_close_scoring_of_native_outputs():
    verdict = lambda predicted, expected: score_prediction(predicted, expected).verdict  # noqa: E731
    # The same values in another language's notation are close, not exact.
    assert verdict("['a', 'b']", '["a", "b"]\n') == "close"
    assert verdict("{'a': 2, 'b': 1}", '{"a": 2, "b": 1}\n') == "close"
    assert verdict("[1,2]\ntrue", "[1, 2]\ntrue\n") == "close"
    # What the program really prints decides: C++ prints 1 for true, Rust Some(3) for an Option.
    assert verdict("1", "1\n") == "exact" and verdict("true", "1\n") == "wrong_type"
    assert verdict("Some(3)", "Some(3)\n") == "exact" and verdict("3", "Some(3)\n") == "wrong_type"
    assert verdict("null", "None\n") == "close"


# ---------------------------------------------------------------------------------------------------
# Generation: verified, reproducible, deduplicated, disjoint splits


@pytest.mark.parametrize("lang", LANGS)
def test_generated_items_are_verified_in_the_sandbox(executor, lang):
    config = OutputPredictionConfig(seed=SEED, size=8, languages=("python", lang))
    items = generate_output_prediction(config, executor=executor)
    assert [it.item_id for it in items[:2]] == ["outpred/python/0", f"outpred/{lang}/0"]
    assert all(it.verified for it in items) and len({it.family for it in items}) >= 4
    for py, it in zip(items[::2], items[1::2], strict=True):
        assert (it.language, it.family, it.difficulty, it.index) == (lang, py.family, py.difficulty, py.index)
        assert it.input in it.program.replace("\n    ", "\n") and it.input.strip()
        assert it.metadata["code"] == it.program.replace(textwrap.indent(it.input, "    ") + "\n", "")
    question = format_question(items[1])
    assert question.startswith(f"What does this {'C++' if lang == 'cpp' else 'Rust'} program print?")
    assert f"```{lang}\n" in question
    # The same config gives the same items without running anything.
    unverified = generate_output_prediction(replace(config, verify=False))
    assert [replace(it, verified=True) for it in unverified] == items


@pytest.mark.parametrize("lang", COMPILED)
def test_reproducible_deduplicated_and_disjoint(lang):
    def programs(**kwargs):
        items = generate_output_prediction(OutputPredictionConfig(languages=(lang,), verify=False, **kwargs))
        return [it.program for it in items]

    train = programs(seed=2, size=150)
    assert train == programs(seed=2, size=150) and programs(seed=2, size=20) == train[:20]
    assert len(set(train)) == 150 and train != programs(seed=3, size=150)
    assert output_prediction_program(OutputPredictionConfig(seed=2, size=150), 0).source(lang) == train[0]
    evals = programs(seed=2, size=60, split="eval")
    assert not set(train) & set(evals)
    assert all(f"{'#include' if lang == 'cpp' else 'fn main'}" in p for p in evals)


def test_a_missing_toolchain_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(toolchains, "_found", {})
    monkeypatch.setenv("CODEGYM_CXX", "/nonexistent/g++")
    config = OutputPredictionConfig(seed=SEED, size=2, languages=("python", "cpp"))
    with pytest.raises(ToolchainMissing) as info:
        generate_output_prediction(config)
    message = str(info.value)
    assert "g++" in message and "apt-get install g++" in message and "--no-verify" in message
    items = generate_output_prediction(replace(config, verify=False))
    assert [it.language for it in items] == ["python", "cpp"] * 2 and not any(it.verified for it in items)


# ---------------------------------------------------------------------------------------------------
# The environment and the command line


@pytest.mark.parametrize("lang", LANGS)
def test_env_episodes_in_the_language(tmp_path, executor, lang):
    env = gym.make(
        "CodeOutputPrediction-v0", languages=[lang], size=3, seed=SEED, cache=tmp_path, executor=executor
    )
    assert {it.language for it in env.unwrapped.items} == {lang}
    verdicts = {}
    for i in range(3):
        question, info = env.reset(options={"item_index": i})
        item = env.unwrapped.item
        assert f"```{lang}\n{item.program}```" in question
        assert info["language"] == lang and info["verified"] and info["input"] == item.input
        expected = item.expected_output
        answers = {
            "exact": expected,
            "close": "```\n" + expected.replace("\n", "\n\n") + "```",
            "wrong": "no idea",
        }
        for kind, answer in answers.items():
            env.reset(options={"item_index": i})
            _, reward, terminated, _, step_info = env.step(answer)
            assert terminated and step_info["expected_output"] == expected
            verdicts.setdefault(kind, set()).add((step_info["verdict"], reward))
    assert verdicts["exact"] == {("exact", 10.0)} and verdicts["close"] == {("close", 5.0)}
    assert {reward for _, reward in verdicts["wrong"]} == {0.0}
    assert {v for v, _ in verdicts["wrong"]} <= {"wrong", "wrong_type"}
    dict_env = gym.make(
        "CodeOutputPrediction-v0", languages=[lang], size=3, seed=SEED, cache=tmp_path, observation="dict"
    )
    obs, _ = dict_env.reset(seed=0)
    assert obs["language"] == ("python", "javascript", "cpp", "rust").index(lang)
    assert dict_env.observation_space.contains(obs)


def test_data_generate_in_four_languages(tmp_path, capsys):
    from codegym.cli import main

    for lang in ("javascript", *COMPILED):
        try:
            find_toolchain(lang)
        except ToolchainMissing as exc:
            pytest.skip(str(exc))
    out = tmp_path / "op.jsonl"
    argv = ["data", "generate", "--suite", "output-prediction", "--languages", "python", "javascript"]
    argv += ["cpp", "rust", "--num-samples", "2", "--seed", str(SEED), "--quiet", "--out", str(out)]
    assert main(argv) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["language"] for r in records] == ["python", "javascript", "cpp", "rust"] * 2
    assert all(r["verified"] for r in records)
    assert "wrote 8 output-prediction items" in capsys.readouterr().out
