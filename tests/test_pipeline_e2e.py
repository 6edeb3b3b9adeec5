"""The whole pipeline on generated data: ratings file -> pushed SavedModel, then its signatures."""
import glob
import json

import numpy as np
import pytest

from conftest import E2E_NUM_ITEMS, E2E_TRAIN_ARGS
from sasrec import cli, evaluation
from sasrec.data import synthetic

pytestmark = pytest.mark.slow

# The shared run (tests/conftest.py: the session fixtures run_dir, pushed, signatures, vocabulary).
NUM_ITEMS = E2E_NUM_ITEMS
TRAIN_ARGS = E2E_TRAIN_ARGS


def _recommend(signatures, rows):
    import tensorflow as tf

    width = max(1, max(len(r) for r in rows))
    out = signatures["serving_default"](history=tf.constant([r + [""] * (width - len(r)) for r in rows]))
    return [[i.decode() for i in row] for row in out["item_ids"].numpy()], out["scores"].numpy()


def test_signatures_and_their_contracts(signatures, vocabulary):
    import tensorflow as tf

    assert set(signatures) == {"serving_default", "score_items", "serving_examples"}
    spec = signatures["serving_default"].structured_input_signature[1]["history"]
    assert spec.dtype == tf.string and spec.shape.as_list() == [None, None]

    known = vocabulary[:5]
    rows = [known, [], ["unknown-1", "unknown-2"], ["", known[0], "", known[1]],
            [vocabulary[i % len(vocabulary)] for i in range(1000)]]
    items, scores = _recommend(signatures, rows)
    assert np.isfinite(scores).all() and all(len(r) == 10 for r in items)
    assert not set(items[0]) & set(known)
    assert items[1] == vocabulary[:10]                  # empty history: most popular first
    assert items[2] == vocabulary[:10]                  # only unknown IDs: same as empty
    assert not set(items[3]) & {known[0], known[1]}     # "" padding anywhere is ignored
    assert all(i == "" for i in items[4])               # the whole catalogue is history: nothing left
    assert (np.diff(scores[0]) <= 0).all()              # best first

    # Only the most recent max_len (50) items are read: older ones do not change the scores.
    recent, candidates = vocabulary[10:60], tf.constant([vocabulary[:10]])
    longer = signatures["score_items"](history=tf.constant([vocabulary[100:140] + recent]), candidates=candidates)
    shorter = signatures["score_items"](history=tf.constant([vocabulary[140:145] + recent]), candidates=candidates)
    np.testing.assert_allclose(longer["scores"].numpy(), shorter["scores"].numpy(), rtol=1e-5)

    scored = signatures["score_items"](history=tf.constant([known]),
                                       candidates=tf.constant([[vocabulary[7], "nope", "", vocabulary[8]]]))
    values = scored["scores"].numpy()[0]
    assert np.isfinite(values).all() and values[1] == values[2] == np.finfo(np.float32).min
    assert values[0] > values[1] and values[3] > values[1]

    # One row of candidates is shared by every history: the same as that row repeated.
    histories = tf.constant([known, vocabulary[20:25], [""] * 5])
    shared = signatures["score_items"](history=histories, candidates=tf.constant([vocabulary[:30]]))["scores"]
    repeated = signatures["score_items"](history=histories, candidates=tf.constant([vocabulary[:30]] * 3))["scores"]
    assert shared.shape == (3, 30)
    np.testing.assert_array_equal(shared.numpy(), repeated.numpy())

    example = tf.train.Example(features=tf.train.Features(feature={
        "item_ids": tf.train.Feature(bytes_list=tf.train.BytesList(value=[k.encode() for k in known]))}))
    from_examples = signatures["serving_examples"](examples=tf.constant([example.SerializeToString()]))
    assert [i.decode() for i in from_examples["item_ids"].numpy()[0]] == items[0]


def test_model_learns_the_sequential_structure(run_dir, pushed, vocabulary):
    sequences, = glob.glob(str(run_dir / "pipeline_root/UserSequences/sequences/*"))
    test = evaluation.read_cases(sequences + "/Split-test")
    train = evaluation.read_cases(sequences + "/Split-train")
    model = evaluation.ranking_metrics(evaluation.full_ranks(
        evaluation.saved_model_scorer(str(pushed)), test, vocabulary))
    popularity = evaluation.ranking_metrics(evaluation.full_ranks(
        evaluation.popularity_scorer(c.history + [c.target] for c in train), test, vocabulary))
    chance = 10 / NUM_ITEMS
    assert model["hr@10"] > 3 * chance
    assert model["hr@10"] > 1.5 * popularity["hr@10"]


def test_training_outputs_for_people(run_dir):
    history_file, = glob.glob(str(run_dir / "pipeline_root/Trainer/model_run/*/training_history.json"))
    history = json.load(open(history_file))
    assert len(history["history"]["loss"]) == 30 and len(history["history"]["val_loss"]) == 30
    assert history["history"]["loss"][-1] < history["history"]["loss"][0]
    assert 1 <= history["best_epoch"] <= 30
    assert glob.glob(str(run_dir / "pipeline_root/Trainer/model_run/*/train/events.out.tfevents.*"))


def test_recommend_command(pushed, vocabulary, capsys, tmp_path):
    movies = tmp_path / "movies.dat"
    synthetic.write_movies(movies, NUM_ITEMS)
    assert cli.main(["recommend", "--model", str(pushed.parent), "--history", ",".join(vocabulary[:3]),
                     "--movies", str(movies)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 10 and all("(" in line for line in lines)  # titles printed


def test_evaluation_report_printed_and_regenerated(run_dir, capsys):
    assert cli.main(["report", str(run_dir)]) == 0
    path = capsys.readouterr().out.strip().split("Report: ")[1]
    metrics = json.load(open(path.replace("report.md", "metrics.json")))
    assert metrics["blessing"]["blessed"]
    assert f"{metrics['model']['full']['ndcg@10']:.4f}" in open(path).read()


# Runs last in this module: it adds a second, worse model to the run directory.
def test_untrained_model_is_not_pushed(run_dir, pushed, capsys):
    assert cli.main(["run", "--ratings", str(run_dir.parent / "ratings.dat"), "--output-dir", str(run_dir),
                     *TRAIN_ARGS, "--epochs", "0"]) == 0
    out = capsys.readouterr().out
    assert "NOT blessed: not pushed" in out and "does not beat the popularity baseline" in out
    assert [p.name for p in (run_dir / "serving").iterdir()] == [pushed.name]
