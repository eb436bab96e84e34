"""The bundled LLM-policy trainer: SFT, GRPO and PPO with LoRA / QLoRA on the code-generation environments.

One readable file per algorithm, each starting with its config dataclass:

- :mod:`codegym.training.sft`: supervised fine-tuning on reference solutions;
- :mod:`codegym.training.grpo`: group-relative policy optimisation against execution rewards;
- :mod:`codegym.training.ppo`: PPO with a value head, GAE and an adaptive KL penalty;

and what they share: :mod:`~codegym.training.config` (options, YAML, CLI flags),
:mod:`~codegym.training.common` (model loading, sampling, log-probabilities, checkpoints),
:mod:`~codegym.training.envs` (driving the environments), :mod:`~codegym.training.run` (the run
directory) and :mod:`~codegym.training.evaluation` (pass@k of a policy).

Importing this package does not import torch; the algorithm modules do.

Example::

    from codegym.training.grpo import GRPOConfig, train

    result = train(GRPOConfig(model="path/to/model", env="MBPPCodeGen-v0", env_kwargs={"split": "train"}))
"""

__all__ = ["common", "config", "envs", "evaluation", "grpo", "ppo", "run", "sft"]
