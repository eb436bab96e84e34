from __future__ import annotations

import pytest

from codegym.tasks.procedural import (
    OutputPredictionConfig,
    SynthesisConfig,
    export_csv,
    generate_output_prediction,
    generate_synthesis_tasks,
    load_csv,
    load_jsonl,
    save_jsonl,
    to_hf_dataset,
)
from codegym.tasks.procedural.io import from_flat_row


@pytest.fixture(scope="module")
def synth():
    return generate_synthesis_tasks(SynthesisConfig(seed=0, size=15))


@pytest.fixture(scope="module")
def outpred():
    return generate_output_prediction(
        OutputPredictionConfig(seed=0, size=8, languages=("python", "javascript"), verify=False)
    )


def _same(a, b):
    assert a == b
    assert [x.metadata for x in a] == [y.metadata for y in b]


def test_jsonl_round_trip(tmp_path, synth, outpred):
    _same(load_jsonl(save_jsonl(synth, tmp_path / "sub" / "s.jsonl")), synth)
    _same(load_jsonl(save_jsonl(outpred, tmp_path / "o.jsonl")), outpred)


def test_csv_round_trip(tmp_path, synth, outpred):
    _same(load_csv(export_csv(synth, tmp_path / "s.csv")), synth)
    _same(load_csv(export_csv(outpred, tmp_path / "o.csv")), outpred)
    with pytest.raises(ValueError, match="several suites"):
        export_csv([synth[0], outpred[0]], tmp_path / "mixed.csv")


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_jsonl(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"suite": "synthesis", "task_id": "x"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:1"):
        load_jsonl(bad)
    bad.write_text("not json\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:1"):
        load_jsonl(bad)


def test_hf_dataset(synth, outpred):
    pytest.importorskip("datasets")
    for items in (synth, outpred):
        ds = to_hf_dataset(items)
        assert len(ds) == len(items)
        _same([from_flat_row(row) for row in ds], items)
