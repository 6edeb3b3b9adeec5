"""Ranking evaluation of next-item recommenders: HR@K, NDCG@K and MRR under two protocols.

- `full`: the true next item ranked against the whole catalogue, the user's history excluded.
- `sampled`: the SASRec paper's protocol: the true item against `num_negatives` items the user
  never interacted with, drawn uniformly with a fixed seed.

A scorer is any callable `(histories, candidates) -> scores` with `histories` a list of raw-ID lists
and `candidates` a `[batch, n]` array of raw IDs, or `[1, n]` shared by every row (full ranking
passes the catalogue once); the pushed model's `score_items` signature and
the popularity baseline are both scorers, so they are measured by the same code. Work is done in
batches of at most MAX_ROWS_PER_BATCH users, fewer as the catalogue grows, so neither a
users-by-items matrix nor the model's activations for every user are ever whole.

Ranks are 1-based and pessimistic on ties: a candidate scoring the same as the target counts as
ranked above it, so a model that scores everything alike gets the worst rank, not the best. A
target missing from the catalogue is a miss (rank infinity) and still counts in the averages.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Sequence

import numpy as np

KS = (1, 5, 10, 20)
LENGTH_BUCKETS = ((3, 5), (6, 10), (11, 20), (21, 50), (51, 200), (201, None))
# Upper bound on candidates scored per call: batch size x catalogue size.
MAX_SCORES_PER_BATCH = 1 << 21
# Upper bound on histories per call: a transformer's activations grow with rows x length^2
# (6,040 rows of 200 items would need gigabytes for the attention weights alone).
MAX_ROWS_PER_BATCH = 256

Scorer = Callable[[List[List[str]], np.ndarray], np.ndarray]


@dataclass(frozen=True)
class EvalCase:
    """One user's evaluation case: the history (oldest first), the next item, the full length."""
    user_id: str
    history: List[str]
    target: str
    length: int


def ranking_metrics(ranks: np.ndarray, ks: Sequence[int] = KS) -> Dict[str, float]:
    """Mean HR@K, NDCG@K for each K, and MRR, of 1-based ranks (np.inf for a miss)."""
    ranks = np.asarray(ranks, dtype=np.float64)
    if ranks.size == 0:
        return {**{f"hr@{k}": 0.0 for k in ks}, **{f"ndcg@{k}": 0.0 for k in ks}, "mrr": 0.0}
    metrics = {}
    for k in ks:
        hit = ranks <= k
        metrics[f"hr@{k}"] = float(hit.mean())
        metrics[f"ndcg@{k}"] = float(np.where(hit, 1.0 / np.log2(ranks + 1.0), 0.0).mean())
    metrics["mrr"] = float((1.0 / ranks).mean())
    return metrics


def ranks_of_targets(scores: np.ndarray, target_columns: np.ndarray, excluded: np.ndarray) -> np.ndarray:
    """Rank of each row's target column among the row's non-excluded candidates (ties count against).

    `target_columns[i] < 0` means the target is not among the candidates: rank infinity.
    """
    rows = np.arange(scores.shape[0])
    present = target_columns >= 0
    target_scores = scores[rows, np.where(present, target_columns, 0)]
    above = (scores >= target_scores[:, None]) & ~excluded
    above[rows, np.where(present, target_columns, 0)] = False
    ranks = 1.0 + above.sum(axis=1)
    return np.where(present, ranks, np.inf)


def _batches(cases: Sequence[EvalCase], candidates_per_row: int) -> Iterable[Sequence[EvalCase]]:
    size = max(1, min(MAX_ROWS_PER_BATCH, MAX_SCORES_PER_BATCH // max(candidates_per_row, 1)))
    for start in range(0, len(cases), size):
        yield cases[start:start + size]


def full_ranks(scorer: Scorer, cases: Sequence[EvalCase], catalogue: Sequence[str]) -> np.ndarray:
    """Ranks of each target against the whole catalogue, the history's items excluded."""
    catalogue = np.asarray(catalogue, dtype=object)
    column = {item: i for i, item in enumerate(catalogue)}
    ranks = []
    for batch in _batches(cases, len(catalogue)):
        scores = np.asarray(scorer([c.history for c in batch], catalogue[np.newaxis, :]), dtype=np.float64)
        excluded = np.zeros(scores.shape, dtype=bool)
        for row, case in enumerate(batch):
            excluded[row, [column[i] for i in case.history if i in column]] = True
        targets = np.array([column.get(c.target, -1) for c in batch])
        # A target the user has already seen cannot be recommended: a miss.
        targets = np.where(excluded[np.arange(len(batch)), np.maximum(targets, 0)] & (targets >= 0), -1, targets)
        ranks.append(ranks_of_targets(scores, targets, excluded))
    return np.concatenate(ranks) if ranks else np.zeros(0)


def sample_negatives(cases: Sequence[EvalCase], catalogue: Sequence[str], num_negatives: int,
                     seed: int) -> np.ndarray:
    """`[len(cases), num_negatives]` items each user never interacted with, uniform, reproducible.

    Drawn without replacement where the catalogue allows it; when a user has seen nearly all of
    it, the remaining unseen items repeat.
    """
    rng = np.random.default_rng(seed)
    catalogue = np.asarray(catalogue, dtype=object)
    in_catalogue = set(catalogue.tolist())
    negatives = np.empty((len(cases), num_negatives), dtype=object)
    for row, case in enumerate(cases):
        seen = set(case.history) | {case.target}
        # Count the unseen items without building the (catalogue-sized) set of them per user.
        if len(in_catalogue) - len(seen & in_catalogue) <= num_negatives:
            unseen = [item for item in catalogue if item not in seen] or [""]
            negatives[row] = [unseen[i % len(unseen)] for i in range(num_negatives)]
            continue
        chosen: Dict[str, None] = {}  # insertion-ordered set
        while len(chosen) < num_negatives:
            for item in catalogue[rng.integers(0, len(catalogue), size=2 * num_negatives)]:
                if item not in seen and item not in chosen:
                    chosen[item] = None
                    if len(chosen) == num_negatives:
                        break
        negatives[row] = list(chosen)
    return negatives


def sampled_ranks(scorer: Scorer, cases: Sequence[EvalCase], catalogue: Sequence[str],
                  num_negatives: int = 100, seed: int = 0) -> np.ndarray:
    """Ranks of each target among itself and `num_negatives` sampled unseen items."""
    negatives = sample_negatives(cases, catalogue, num_negatives, seed)
    ranks = []
    offset = 0
    for batch in _batches(cases, num_negatives + 1):
        candidates = np.concatenate(
            [np.array([[c.target] for c in batch], dtype=object), negatives[offset:offset + len(batch)]], axis=1)
        offset += len(batch)
        scores = np.asarray(scorer([c.history for c in batch], candidates), dtype=np.float64)
        ranks.append(ranks_of_targets(scores, np.zeros(len(batch), dtype=int),
                                      np.zeros(scores.shape, dtype=bool)))
    return np.concatenate(ranks) if ranks else np.zeros(0)


def popularity_scorer(train_histories: Iterable[Sequence[str]]) -> Scorer:
    """Scores each candidate by its interaction count in the train split (unknown items: -1)."""
    counts = Counter(item for history in train_histories for item in history)

    def score(histories: List[List[str]], candidates: np.ndarray) -> np.ndarray:
        flat = np.array([counts.get(item, -1) for item in np.asarray(candidates).ravel()], dtype=np.float64)
        return np.broadcast_to(flat.reshape(np.shape(candidates)), (len(histories), np.shape(candidates)[1]))

    return score


def length_bucket(length: int) -> str:
    for low, high in LENGTH_BUCKETS:
        if length >= low and (high is None or length <= high):
            return f"{low}-{high}" if high is not None else f">{low - 1}"
    return f"<{LENGTH_BUCKETS[0][0]}"


def ndcg_by_length(ranks: np.ndarray, cases: Sequence[EvalCase], k: int = 10) -> Dict[str, Dict[str, float]]:
    """NDCG@k and the number of users in each history-length bucket (length = the user's items)."""
    buckets: Dict[str, List[float]] = {}
    for rank, case in zip(ranks, cases):
        buckets.setdefault(length_bucket(case.length), []).append(rank)
    order = [length_bucket(low) for low, _ in LENGTH_BUCKETS]
    return {name: {"users": len(buckets[name]),
                   f"ndcg@{k}": ranking_metrics(np.array(buckets[name]), (k,))[f"ndcg@{k}"]}
            for name in order if name in buckets}


def evaluate(scorers: Dict[str, Scorer], cases: Sequence[EvalCase], catalogue: Sequence[str],
             num_negatives: int = 100, seed: int = 0) -> Dict[str, Dict]:
    """Both protocols for each scorer, and the model's NDCG@10 by history length."""
    results: Dict[str, Dict] = {"users": len(cases), "catalogue": len(catalogue)}
    for name, scorer in scorers.items():
        full = full_ranks(scorer, cases, catalogue)
        sampled = sampled_ranks(scorer, cases, catalogue, num_negatives, seed)
        results[name] = {"full": ranking_metrics(full), "sampled": ranking_metrics(sampled),
                         "ndcg@10_by_length": ndcg_by_length(full, cases)}
    return results


def read_cases(split_dir: str) -> List[EvalCase]:
    """Evaluation cases of one sequence split (UserSequences' output), ordered by user ID."""
    import sasrec  # noqa: F401  (TF_USE_LEGACY_KERAS)
    import tensorflow as tf

    files = sorted(tf.io.gfile.glob(f"{split_dir}/*"))
    cases = []
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP").as_numpy_iterator():
        feature = tf.train.Example.FromString(record).features.feature
        items = [i.decode("utf-8") for i in feature["item_ids"].bytes_list.value]
        cases.append(EvalCase(user_id=feature["user_id"].bytes_list.value[0].decode("utf-8"),
                              history=items[:-1], target=items[-1],
                              length=int(feature["sequence_length"].int64_list.value[0])))
    return sorted(cases, key=lambda case: case.user_id)


def saved_model_scorer(model_dir: str) -> Scorer:
    """The pushed SavedModel's `score_items` signature as a scorer."""
    import sasrec  # noqa: F401  (TF_USE_LEGACY_KERAS)
    import tensorflow as tf

    signature = tf.saved_model.load(model_dir).signatures["score_items"]

    def score(histories: List[List[str]], candidates: np.ndarray) -> np.ndarray:
        width = max(1, max(len(h) for h in histories))
        padded = [h + [""] * (width - len(h)) for h in histories]
        return signature(history=tf.constant(padded, dtype=tf.string),
                         candidates=tf.constant(np.asarray(candidates).tolist(), dtype=tf.string))["scores"].numpy()

    return score
