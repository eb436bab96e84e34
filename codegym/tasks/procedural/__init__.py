"""Procedural task suites, generated reproducibly with no dataset download.

* :mod:`~codegym.tasks.procedural.synthesis`: function-writing tasks in the :class:`~codegym.tasks.Task`
  format, with six phrasing groups per task.
* :mod:`~codegym.tasks.procedural.output_prediction`: programs with inputs and their verified stdout.
* :mod:`~codegym.tasks.procedural.scoring`: exact / close / wrong-type / error verdicts and reward presets.
* :mod:`~codegym.tasks.procedural.io`: jsonl, CSV and Hugging Face ``Dataset`` conversion.
"""

from codegym.tasks.procedural.common import EVAL_FRACTION, EVAL_SEED_OFFSET, SPLITS
from codegym.tasks.procedural.io import (
    export_csv,
    load_csv,
    load_jsonl,
    save_jsonl,
    to_hf_dataset,
)
from codegym.tasks.procedural.output_prediction import (
    LANGUAGES,
    OUTPUT_FAMILIES,
    OutputFamily,
    OutputPredictionConfig,
    OutputPredictionItem,
    Program,
    format_question,
    generate_output_prediction,
    load_output_prediction,
    output_prediction_program,
    run_programs,
    verify_items,
)
from codegym.tasks.procedural.scoring import (
    REWARD_PRESETS,
    VERDICTS,
    PredictionScore,
    is_close,
    prediction_metrics,
    prediction_reward,
    score_prediction,
)
from codegym.tasks.procedural.synthesis import (
    FAMILIES,
    PHRASING_FRAMES,
    PHRASING_GROUPS,
    SynthesisConfig,
    SynthesisFamily,
    generate_synthesis_tasks,
    load_synthesis_tasks,
    rephrase,
    synthesis_item,
)

__all__ = [
    "EVAL_FRACTION",
    "EVAL_SEED_OFFSET",
    "FAMILIES",
    "LANGUAGES",
    "OUTPUT_FAMILIES",
    "PHRASING_FRAMES",
    "PHRASING_GROUPS",
    "REWARD_PRESETS",
    "SPLITS",
    "VERDICTS",
    "OutputFamily",
    "OutputPredictionConfig",
    "OutputPredictionItem",
    "PredictionScore",
    "Program",
    "SynthesisConfig",
    "SynthesisFamily",
    "export_csv",
    "format_question",
    "generate_output_prediction",
    "generate_synthesis_tasks",
    "is_close",
    "load_csv",
    "load_jsonl",
    "load_output_prediction",
    "load_synthesis_tasks",
    "output_prediction_program",
    "prediction_metrics",
    "prediction_reward",
    "rephrase",
    "run_programs",
    "save_jsonl",
    "score_prediction",
    "synthesis_item",
    "to_hf_dataset",
    "verify_items",
]


def _register() -> None:
    """Register the synthesis suite with the task registry (a string loader: nothing is generated now)."""
    from codegym.tasks.registry import list_datasets, register_dataset

    if "procedural/synthesis" not in list_datasets():
        register_dataset(
            "procedural/synthesis",
            "codegym.tasks.procedural.synthesis:load_synthesis_tasks",
            description="procedural function synthesis (Python), six phrasing groups; size=, seed=, split=",
            id_prefix="synth",
            splits=("train", "eval"),
            default_kwargs={"split": "train", "size": 1000},
        )


_register()
