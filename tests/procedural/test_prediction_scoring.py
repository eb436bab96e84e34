from __future__ import annotations

import pytest

from codegym.tasks.procedural import REWARD_PRESETS, prediction_metrics, prediction_reward, score_prediction
from codegym.tasks.procedural.scoring import PredictionScore, reward_table


@pytest.mark.parametrize(
    ("predicted", "expected", "verdict"),
    [
        ("12", "12\n", "exact"),
        ("  12\r\n", "12\n", "exact"),
        ("a\nb", "a\nb\n", "exact"),
        ("12.0", "12\n", "close"),
        ("0.30000001", "0.3\n", "close"),
        ("[1,2]", "[1, 2]\n", "close"),
        ('["a", "b"]', "['a', 'b']\n", "close"),
        ('"hello"', "hello\n", "close"),
        ("'hello world'", "hello world\n", "close"),
        ("true", "True\n", "close"),
        ("null", "None\n", "close"),
        ("```\n5\n```", "5\n", "close"),
        ("```python\n5\n6\n```", "5\n6\n", "close"),
        ("1 2", "1\n2\n", "close"),
        ("a\n\nb", "a\nb\n", "close"),
        ('{"a":1,"b":[true]}', "{'a': 1, 'b': [True]}\n", "close"),
        ("13", "12\n", "wrong"),
        ("123456790", "123456789\n", "wrong"),
        ("Hello", "hello\n", "wrong"),
        ("a b", "ab\n", "wrong"),
        ("1\n2\n3", "1\n2\n", "wrong"),
        ("[1, 3]", "[1, 2]\n", "wrong"),
        ("twelve", "12\n", "wrong_type"),
        ("3", "[1, 2]\n", "wrong_type"),
        ("1", "True\n", "wrong_type"),
        ("{'a': 1}", "[1]\n", "wrong_type"),
        ("5\nfive", "5\n6\n", "wrong_type"),
        (None, "1\n", "error"),
        ("", "1\n", "error"),
        (" \n ", "1\n", "error"),
        (12, "12\n", "error"),
    ],
)
def test_verdicts(predicted, expected, verdict):
    assert score_prediction(predicted, expected).verdict == verdict


def test_close_counts_exact_and_rewards():
    exact, close = score_prediction("5", "5\n"), score_prediction("5.0", "5\n")
    assert exact.exact and exact.close and close.close and not close.exact
    assert exact.reward() == 10.0 and close.reward("reference") == 5.0
    assert prediction_reward("x", "5\n", "penalized") == -1.0
    assert prediction_reward(None, "5\n", "penalized") == -2.0
    assert prediction_reward("5.0", "5\n", "lenient") == 1.0
    custom = {"exact": 2, "close": 1, "wrong_type": 0, "wrong": 0, "error": -1}
    assert close.reward(custom) == 1.0
    for table in REWARD_PRESETS.values():
        assert set(table) == {"exact", "close", "wrong_type", "wrong", "error"}


def test_reward_table_errors():
    with pytest.raises(ValueError, match="unknown reward preset"):
        reward_table("nope")
    with pytest.raises(ValueError, match="missing"):
        reward_table({"exact": 1.0})
    with pytest.raises(TypeError):
        score_prediction("1", None)  # type: ignore[arg-type]


def test_metrics():
    scores = [
        PredictionScore("exact"),
        PredictionScore("close"),
        PredictionScore("wrong"),
        PredictionScore("error"),
    ]
    m = prediction_metrics(scores)
    assert (
        m["n"] == 4 and m["exact_accuracy"] == 0.25 and m["close_accuracy"] == 0.5 and m["error_rate"] == 0.25
    )
    assert prediction_metrics([])["exact_accuracy"] == 0.0


def test_generated_outputs_score_exact_against_themselves_and_across_languages():
    from codegym.tasks.procedural import OutputPredictionConfig, generate_output_prediction

    items = generate_output_prediction(
        OutputPredictionConfig(seed=0, size=60, languages=("python", "javascript"), verify=False)
    )
    for py, js in zip(items[::2], items[1::2], strict=True):
        assert score_prediction(py.expected_output, py.expected_output).exact
        # The JavaScript stdout of the same program is a close answer to the Python one.
        assert score_prediction(js.expected_output, py.expected_output).close, (
            py.program,
            js.expected_output,
        )
