"""Ranking metrics against hand-computed values, the sampled protocol, the push gate, the report."""
import json
import math

import numpy as np
import pytest

from sasrec import evaluation, report
from sasrec.evaluation import EvalCase


def test_metrics_by_hand():
    ranks = np.array([1, 3, 12, np.inf])
    m = evaluation.ranking_metrics(ranks, ks=(1, 5, 10, 20))
    assert m["hr@1"] == pytest.approx(0.25)
    assert m["hr@5"] == pytest.approx(0.5)
    assert m["hr@10"] == pytest.approx(0.5)
    assert m["hr@20"] == pytest.approx(0.75)
    assert m["ndcg@5"] == pytest.approx((1 + 1 / math.log2(4)) / 4)
    assert m["ndcg@20"] == pytest.approx((1 + 0.5 + 1 / math.log2(13)) / 4)
    assert m["mrr"] == pytest.approx((1 + 1 / 3 + 1 / 12 + 0) / 4)


def test_ties_count_against_the_target_and_k_beyond_the_catalogue():
    scores = np.array([[1.0, 1.0, 1.0], [0.1, 0.5, 0.9]])
    ranks = evaluation.ranks_of_targets(scores, np.array([0, 2]), np.zeros(scores.shape, dtype=bool))
    assert ranks.tolist() == [3.0, 1.0]  # all tied: worst rank, not best
    # K larger than a 3-item catalogue: every present target is a hit.
    assert evaluation.ranking_metrics(ranks, ks=(20,))["hr@20"] == 1.0


def test_full_ranking_excludes_history_and_misses_unknown_targets():
    catalogue = ["a", "b", "c", "d"]
    scores = {"a": 4.0, "b": 3.0, "c": 2.0, "d": 1.0}

    def scorer(histories, candidates):
        assert candidates.shape[0] == 1  # the catalogue, shared by the batch
        row = np.vectorize(lambda item: scores.get(item, -1.0))(candidates).astype(float)
        return np.broadcast_to(row, (len(histories), candidates.shape[1]))

    cases = [EvalCase("u1", ["a", "b"], "c", 3),   # a, b excluded: c is first
             EvalCase("u2", ["d"], "c", 2),        # a, b above: rank 3
             EvalCase("u3", ["a"], "zzz", 2),      # not in the catalogue: a miss
             EvalCase("u4", ["c"], "c", 2)]        # already seen, cannot be recommended: a miss
    assert evaluation.full_ranks(scorer, cases, catalogue).tolist() == [1.0, 3.0, np.inf, np.inf]


def test_batches_stay_bounded(monkeypatch):
    monkeypatch.setattr(evaluation, "MAX_SCORES_PER_BATCH", 10)
    widths = []

    def scorer(histories, candidates):
        widths.append((len(histories), candidates.shape[1]))
        return np.zeros((len(histories), candidates.shape[1]))

    cases = [EvalCase(str(u), ["i0"], "i1", 2) for u in range(7)]
    evaluation.full_ranks(scorer, cases, [f"i{k}" for k in range(5)])
    assert all(rows * cols <= 10 for rows, cols in widths) and sum(r for r, _ in widths) == 7


def test_sampled_negatives_never_hit_the_history_and_are_reproducible():
    catalogue = [str(i) for i in range(300)]
    cases = [EvalCase(str(u), [str(i) for i in range(u, u + 150)], str(u + 150), 151) for u in range(20)]
    negatives = evaluation.sample_negatives(cases, catalogue, 100, seed=7)
    for case, row in zip(cases, negatives):
        assert not set(row) & (set(case.history) | {case.target})
        assert len(set(row)) == 100
    assert (negatives == evaluation.sample_negatives(cases, catalogue, 100, seed=7)).all()
    assert not (negatives == evaluation.sample_negatives(cases, catalogue, 100, seed=8)).all()
    # A user who has seen nearly all of a small catalogue: the few unseen items, repeated.
    tight = evaluation.sample_negatives([EvalCase("u", catalogue[:298], "298", 299)], catalogue, 100, seed=0)
    assert set(tight[0]) == {"299"}


def test_popularity_scorer_counts_the_train_split():
    scorer = evaluation.popularity_scorer([["a", "b"], ["a"], ["c", "a"]])
    assert scorer([[]], np.array([["a", "b", "zzz"]])).tolist() == [[3.0, 1.0, -1.0]]


def _results(model, popularity, baseline=None):
    results = {"model": {"full": {"ndcg@10": model}}, "popularity": {"full": {"ndcg@10": popularity}}}
    if baseline is not None:
        results["baseline_model"] = {"full": {"ndcg@10": baseline}}
    return results


def test_blessing_gate_both_ways():
    from components.ranking_evaluator import decide_blessing

    assert decide_blessing(_results(0.30, 0.10), 0.05, 0.05)[0]
    blessed, reasons = decide_blessing(_results(0.104, 0.10), 0.05, 0.05)
    assert not blessed and "does not beat" in reasons[0]
    assert decide_blessing(_results(0.30, 0.10, baseline=0.31), 0.05, 0.05)[0]
    blessed, reasons = decide_blessing(_results(0.30, 0.10, baseline=0.40), 0.05, 0.05)
    assert not blessed and "more than" in reasons[1]


def _metrics():
    ks = (1, 5, 10, 20)
    block = lambda base: {**{f"hr@{k}": base + k / 100 for k in ks}, **{f"ndcg@{k}": base / 2 + k / 200 for k in ks},
                          "mrr": base / 3}
    by_length = {"3-5": {"users": 2, "ndcg@10": 0.25}, "6-10": {"users": 3, "ndcg@10": 0.3125}}
    return {"users": 5, "catalogue": 40, "num_negatives": 100, "seed": 1,
            "model": {"full": block(0.4), "sampled": block(0.6), "ndcg@10_by_length": by_length},
            "popularity": {"full": block(0.1), "sampled": block(0.2), "ndcg@10_by_length": by_length},
            "blessing": {"blessed": True, "reasons": ["because it is good"]},
            "training": {"best_epoch": 2, "history": {"loss": [1.0, 0.8], "val_loss": [1.1, 0.9],
                                                      "val_ndcg@10": [0.1, 0.2]}}}


def test_report_files_hold_the_metrics(tmp_path):
    metrics = _metrics()
    (tmp_path / report.METRICS_FILE).write_text(json.dumps(metrics))
    path = report.regenerate(tmp_path)
    text = path.read_text()
    for name in ("hit_rate_at_k.png", "ndcg_by_length.png", "loss_curves.png"):
        assert (tmp_path / name).stat().st_size > 1000 and name in text
    for scorer in ("model", "popularity"):
        for protocol in ("full", "sampled"):
            assert f"{metrics[scorer][protocol]['ndcg@10']:.4f}" in text
            assert f"{metrics[scorer][protocol]['hr@10']:.4f}" in text
    assert "0.3125" in text and "because it is good" in text and "BLESSED" in text


def test_a_catalogue_of_100k_items_in_bounded_batches(monkeypatch):
    catalogue = np.array([f"item{i}" for i in range(100_000)], dtype=object)
    position = {item: i for i, item in enumerate(catalogue)}
    calls = []

    def scorer(histories, candidates):  # the higher the index, the better
        calls.append((len(histories), candidates.shape[1]))
        return np.broadcast_to(np.vectorize(position.get)(candidates).astype(np.float64),
                               (len(histories), candidates.shape[1]))

    cases = [EvalCase(str(u), [f"item{99_999 - u}"], f"item{99_990 - u}", 2) for u in range(50)]
    ranks = evaluation.full_ranks(scorer, cases, catalogue)
    # Above user u's target: the 9 + u items with higher indices, less the one in the history.
    assert ranks.tolist() == [9.0 + u for u in range(50)]
    assert all(rows * cols <= evaluation.MAX_SCORES_PER_BATCH for rows, cols in calls)
    assert max(rows for rows, _ in calls) < len(cases)
    assert evaluation.sampled_ranks(scorer, cases, catalogue, 100, seed=0).shape == (50,)


def test_histories_per_call_stay_bounded_when_candidates_are_few():
    rows = []

    def scorer(histories, candidates):
        rows.append(len(histories))
        return np.zeros((len(histories), candidates.shape[1]))

    cases = [EvalCase(str(u), ["i0"], "i1", 2) for u in range(1000)]
    evaluation.sampled_ranks(scorer, cases, [f"i{k}" for k in range(200)], 100, seed=0)
    assert max(rows) == evaluation.MAX_ROWS_PER_BATCH and sum(rows) == 1000
