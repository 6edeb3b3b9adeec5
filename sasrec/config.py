"""The one configuration object: every setting of a run, with the seed's defaults.

Each field becomes a `sasrec run` flag (`max_len` -> `--max-len`), so this file is the single place
where a default is written down. Importing it is cheap: no TensorFlow.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any, Dict

LOSSES = ("bce", "sampled_softmax")
DISTRIBUTIONS = ("none", "mirrored", "multi_worker_mirrored")
_INT64_MAX = 2 ** 63 - 1  # integers become TensorFlow shapes, seeds and proto fields
_INT_RANGES = {
    "min_sequence_length": (3, _INT64_MAX),  # train, eval and test each need an item
    "max_len": (1, _INT64_MAX), "num_blocks": (1, _INT64_MAX), "num_heads": (1, _INT64_MAX),
    "hidden_dim": (1, _INT64_MAX), "num_negatives": (1, _INT64_MAX), "batch_size": (1, _INT64_MAX),
    "epochs": (0, _INT64_MAX), "seed": (0, _INT64_MAX), "top_k": (1, _INT64_MAX),
    "eval_negatives": (1, _INT64_MAX),
}
# (low, high, whether high is allowed); NaN fails every comparison, so it is refused too.
_FLOAT_RANGES = {
    "max_reject_fraction": (0.0, 1.0, True), "dropout": (0.0, 1.0, False), "l2_emb": (0.0, math.inf, False),
    "learning_rate": (0.0, math.inf, False), "beta_1": (0.0, 1.0, False), "beta_2": (0.0, 1.0, False),
    "bless_min_lift": (0.0, math.inf, False), "bless_max_regression": (0.0, 1.0, False),
}


def _setting(default: Any, help: str, **kwargs: Any) -> Any:
    return field(default=default, metadata={"help": help, **kwargs})


@dataclass(frozen=True)
class SASRecConfig:
    """Settings of the data preparation, the model, its training and its export."""

    # Data preparation.
    min_rating: float = _setting(2.0, "ratings below this are dropped before sequences are built")
    min_sequence_length: int = _setting(3, "users with fewer interactions (after filtering) are dropped")
    max_len: int = _setting(200, "maximum history length the model reads; longer ones keep their most recent items")
    max_reject_fraction: float = _setting(
        0.001, "fail the run when more than this fraction of the ratings file's lines is malformed")

    # Model.
    num_blocks: int = _setting(2, "transformer blocks")
    num_heads: int = _setting(1, "attention heads per block")
    hidden_dim: int = _setting(50, "embedding and hidden size")
    dropout: float = _setting(0.2, "dropout rate")
    # 0, as in the SASRec paper's code. The seed declares l2(1e-3) on its item embeddings, but its
    # compute_loss override drops Keras' regularisation losses, so it trains without it; with it
    # (measured on ML-1M-scale data) the model hardly gets past popularity in 10 epochs.
    l2_emb: float = _setting(0.0, "L2 regularisation of the item embeddings")

    # Training.
    loss: str = _setting("bce", "training loss", choices=LOSSES)
    num_negatives: int = _setting(
        100, "negatives shared by a batch for the sampled_softmax loss (bce draws one per position)")
    batch_size: int = _setting(128, "sequences per training batch")
    epochs: int = _setting(10, "training epochs")
    learning_rate: float = _setting(1e-3, "Adam learning rate")
    beta_1: float = _setting(0.9, "Adam beta_1")
    beta_2: float = _setting(0.98, "Adam beta_2")
    seed: int = _setting(42, "random seed of initialisation, negatives and evaluation sampling")
    distribution: str = _setting(
        "none", "tf.distribute strategy of the Trainer: mirrored (the devices of one machine) or "
        "multi_worker_mirrored (several machines, configured by TF_CONFIG)", choices=DISTRIBUTIONS)

    # Export.
    top_k: int = _setting(10, "items returned by the serving signature")

    # Evaluation and the push gate.
    eval_negatives: int = _setting(
        100, "negatives per user of the sampled evaluation protocol (the SASRec paper's 100)")
    bless_min_lift: float = _setting(
        0.05, "push only if full-ranking NDCG@10 beats the popularity baseline by this relative margin")
    bless_max_regression: float = _setting(
        0.05, "push only if full-ranking NDCG@10 is at most this much (relative) below the latest pushed model")

    def __post_init__(self) -> None:
        for name, (low, high) in _INT_RANGES.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
        for name, (low, high, high_included) in _FLOAT_RANGES.items():
            value = getattr(self, name)
            inside = low <= value and (value <= high if high_included else value < high)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not inside:
                bracket = "]" if high_included else ")"
                raise ValueError(f"{name} must be a number in [{low}, {high}{bracket}, got {value!r}")
        if not math.isfinite(self.min_rating):
            raise ValueError(f"min_rating must be a finite number, got {self.min_rating!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}")
        if self.hidden_dim % self.num_heads:
            raise ValueError(f"hidden_dim ({self.hidden_dim}) must be divisible by num_heads ({self.num_heads})")
        if self.distribution not in DISTRIBUTIONS:
            raise ValueError(f"distribution must be one of {DISTRIBUTIONS}, got {self.distribution!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, values: Dict[str, Any]) -> "SASRecConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(unknown)}")
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> "SASRecConfig":
        return cls.from_dict(json.loads(text))
