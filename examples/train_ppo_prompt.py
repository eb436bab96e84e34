r"""Train the PPO prompt agent (``agents/ppo_prompt.py``) and evaluate it on held-out tasks.

Every option of :class:`agents.ppo_prompt.Args` is a flag (``--n-envs 8``, ``--reward-mode promis``...).

Examples::

    # CodeT5+ 220M (hub id, or a local directory offline), MiniLM observations, MBPP train -> test
    python examples/train_ppo_prompt.py --backend Salesforce/codet5p-220m-py --total-timesteps 20000
    # smoke test: a random-weight tiny model, a hashing embedder, a few hundred steps
    python examples/train_ppo_prompt.py --backend tiny-t5 --embedder hashing --total-timesteps 256 \
        --n-envs 4 --n-steps 32 --train-tasks 16 --eval-tasks 8 --max-new-tokens 16 \
        --operators submit wordnet_synonym restore_original

TensorBoard: ``tensorboard --logdir runs/`` (``prompt/*`` has pass rates and model calls per episode,
``actions/*`` how often each operator is chosen, ``evaluator/*`` the batched model calls).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # agents/ holds scripts, not an installed package
    sys.path.insert(0, str(ROOT))

from agents.ppo_prompt import main  # noqa: E402

if __name__ == "__main__":
    main()
