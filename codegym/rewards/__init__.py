"""Composable execution rewards: named terms, weighted sums, presets.

>>> from codegym.rewards import get_reward
>>> reward = get_reward("execution")
>>> reward.weights["all_passed"], reward.weights["syntax_error"], reward.weights["readability"]
(1.0, -0.2, 0.1)

See ``docs/rewards.md``.
"""

from codegym.rewards.base import FunctionTerm, RewardContext, RewardTerm
from codegym.rewards.composite import (
    PRESETS,
    CompositeReward,
    RewardBreakdown,
    RewardSpec,
    get_reward,
    make_preset,
)
from codegym.rewards.terms import (
    BUILTIN_TERMS,
    AllPassedTerm,
    CodeMetrics,
    CompilesTerm,
    EfficiencyTerm,
    FormatTerm,
    PassFractionTerm,
    ReadabilityTerm,
    SyntaxErrorTerm,
    TimedOutTerm,
    code_metrics,
)

__all__ = [
    "BUILTIN_TERMS",
    "PRESETS",
    "AllPassedTerm",
    "CodeMetrics",
    "CompilesTerm",
    "CompositeReward",
    "EfficiencyTerm",
    "FormatTerm",
    "FunctionTerm",
    "PassFractionTerm",
    "ReadabilityTerm",
    "RewardBreakdown",
    "RewardContext",
    "RewardSpec",
    "RewardTerm",
    "SyntaxErrorTerm",
    "TimedOutTerm",
    "code_metrics",
    "get_reward",
    "make_preset",
]
