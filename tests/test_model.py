"""Tests of sasrec.model: shapes, causality, the last-item gather, losses, negatives, a tiny fit,
the ranking helpers and config round trips. Small models only; the whole file runs in well under a
minute on a CPU."""
import math

import numpy as np
import pytest

import sasrec  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
import tensorflow as tf
import tf_keras as keras

from sasrec.model import (
    SASRec,
    PositionEmbedding,
    TransformerBlock,
    exclusion_mask,
    hit_rate_at_k,
    ndcg_at_k,
    rank_of_targets,
)

NUM_ITEMS = 20
VOCAB = NUM_ITEMS + 2
OOV = NUM_ITEMS + 1
MAX_LEN = 12
HIDDEN = 8


def make_model(**overrides):
    kwargs = dict(num_items=NUM_ITEMS, max_len=MAX_LEN, num_blocks=2, num_heads=2, hidden_dim=HIDDEN,
                  dropout=0.2, l2_emb=1e-3, seed=0)
    kwargs.update(overrides)
    keras.utils.set_random_seed(1234)
    return SASRec(**kwargs)


def right_padded(rows, length):
    out = np.zeros([len(rows), length], np.int64)
    for i, row in enumerate(rows):
        out[i, :len(row)] = row
    return out


# --- forward -------------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [1, 5, MAX_LEN])
def test_output_shapes_for_dynamic_lengths(length):
    model = make_model()
    ids = right_padded([[3, 4, 5][:length], list(range(1, length + 1)), []], length)
    out = model(ids)
    assert out.shape == (3, length, HIDDEN)
    query = model.last_item_embedding(out, ids)
    assert query.shape == (3, HIDDEN)
    assert model.item_scores(query).shape == (3, VOCAB)
    # Padded positions are zero.
    np.testing.assert_array_equal(out.numpy()[ids == 0], 0.0)


def test_longer_than_max_len_is_an_error():
    model = make_model()
    model(right_padded([[1, 2]], 2))
    with pytest.raises(tf.errors.InvalidArgumentError):
        model(np.ones([1, MAX_LEN + 1], np.int64))


def test_the_same_model_serves_several_lengths_in_one_traced_function():
    model = make_model()
    fn = tf.function(model.call, input_signature=[tf.TensorSpec([None, None], tf.int64)])
    assert fn(right_padded([[1, 2, 3]], 3)).shape == (1, 3, HIDDEN)
    assert fn(right_padded([[1, 2, 3]], 7)).shape == (1, 7, HIDDEN)


def test_causality_later_items_do_not_change_earlier_outputs():
    model = make_model()
    rng = np.random.default_rng(0)
    ids = rng.integers(1, NUM_ITEMS + 1, size=[4, MAX_LEN])
    ids[1, 7:] = 0  # one right-padded row too
    base = model(ids, training=False).numpy()
    for t in (0, 3, 6, MAX_LEN - 2):
        changed = ids.copy()
        changed[:, t + 1:] = rng.integers(1, NUM_ITEMS + 1, size=[4, MAX_LEN - t - 1])
        out = model(changed, training=False).numpy()
        np.testing.assert_allclose(out[:, :t + 1], base[:, :t + 1], atol=1e-5)
        # ...and the test is not vacuous: a later position does change.
        assert not np.allclose(out[:, t + 1:], base[:, t + 1:], atol=1e-5)


def test_last_item_embedding_reads_the_last_real_item_not_padding():
    model = make_model()
    ids = right_padded([[5, 6, 7], list(range(1, MAX_LEN + 1)), [], [9]], MAX_LEN)
    out = model(ids).numpy()
    query = model.last_item_embedding(out, ids).numpy()
    assert np.isfinite(out).all() and np.isfinite(query).all()

    np.testing.assert_allclose(query[0], out[0, 2])                # short history: position 2
    np.testing.assert_allclose(query[1], out[1, MAX_LEN - 1])      # full history: the last position
    np.testing.assert_array_equal(query[2], np.zeros(HIDDEN))      # no real item: zeros
    np.testing.assert_allclose(query[3], out[3, 0])
    # The seed's bug read the first padding position (3 for row 0); that is a zero vector here.
    assert np.abs(query[0]).sum() > 0 and np.abs(out[0, 3]).sum() == 0
    assert not np.allclose(query[0], out[0, 0])

    # Padding does not change the query: the unpadded history gives the same vector.
    alone = model(np.array([[5, 6, 7]]))
    np.testing.assert_allclose(query[0], model.last_item_embedding(alone, [[5, 6, 7]])[0], atol=1e-5)


def test_fully_padded_queries_do_not_produce_nan():
    block = TransformerBlock(hidden_dim=HIDDEN, num_heads=2, dropout=0.0)
    x = tf.random.normal([2, 5, HIDDEN])
    mask = tf.constant([[0, 0, 0, 0, 0], [1, 1, 0, 0, 0]]) > 0
    out = block(x, padding_mask=mask).numpy()
    assert np.isfinite(out).all()
    attention = TransformerBlock.attention_mask(mask).numpy()
    assert attention.any(axis=-1).all()  # every query can attend to at least itself
    np.testing.assert_array_equal(attention[1, 3], [True, True, False, True, False])


def test_item_scores_use_the_input_embedding_table():
    model = make_model()
    model(right_padded([[1]], 1))
    query = tf.random.normal([3, HIDDEN])
    np.testing.assert_allclose(
        model.item_scores(query).numpy(),
        query.numpy() @ model.item_embedding.embeddings.numpy().T, rtol=1e-5, atol=1e-5)


# --- loss ----------------------------------------------------------------------------------------


def fixed_negatives(history, shape):
    """A deterministic stand-in for SASRec.sample_negatives."""
    history = tf.convert_to_tensor(history)
    shape = tf.convert_to_tensor(shape, tf.int32)
    batch = tf.shape(history)[0]
    if shape.shape[0] == 1:
        negatives = tf.cast(tf.range(shape[0]) * 7 % NUM_ITEMS + 1, history.dtype)
        return negatives, tf.ones(tf.stack([batch, shape[0]]), tf.float32)
    rows = tf.range(shape[0])[:, tf.newaxis] * 3 + tf.range(shape[1])[tf.newaxis, :] * 5
    return tf.cast(rows % NUM_ITEMS + 1, history.dtype), tf.ones(shape, tf.float32)


@pytest.mark.parametrize("loss", ["bce", "sampled_softmax"])
def test_loss_ignores_padding_positions(loss, monkeypatch):
    model = make_model(loss=loss, num_negatives=6)
    monkeypatch.setattr(model, "sample_negatives", fixed_negatives)
    sequences = [[1, 2, 3, 4, 5], [7, 8, 9], list(range(3, 3 + MAX_LEN))]
    inputs = right_padded([s[:-1] for s in sequences], MAX_LEN - 1)
    targets = right_padded([s[1:] for s in sequences], MAX_LEN - 1)

    def loss_of(x, y):
        return float(model.compute_loss_from_batch(x, y, training=False))

    base = loss_of(inputs, targets)
    assert np.isfinite(base) and base > 0

    # Items in padded input positions (targets there stay 0).
    noisy_inputs = inputs.copy()
    noisy_inputs[0, 4:] = 11
    noisy_inputs[1, 2:] = np.arange(2, MAX_LEN - 1)
    assert loss_of(noisy_inputs, targets) == pytest.approx(base, rel=1e-6)

    # Targets at padded input positions.
    noisy_targets = targets.copy()
    noisy_targets[0, 4:] = 13
    noisy_targets[1, 2:] = OOV
    assert loss_of(inputs, noisy_targets) == pytest.approx(base, rel=1e-6)

    # Extra padding columns (the same batch padded further).
    assert loss_of(np.pad(inputs, [[0, 0], [0, 1]]), np.pad(targets, [[0, 0], [0, 1]])) == (
        pytest.approx(base, rel=1e-6))

    # Not vacuous: a real target does count.
    changed = targets.copy()
    changed[0, 1] = 17
    assert loss_of(inputs, changed) != pytest.approx(base, rel=1e-6)


def test_bce_loss_matches_a_hand_computation(monkeypatch):
    model = make_model(loss="bce")
    monkeypatch.setattr(model, "sample_negatives", fixed_negatives)
    inputs = right_padded([[1, 2, 3], [5]], 3)
    targets = right_padded([[2, 3, 4], [6]], 3)
    out = model(inputs, training=False).numpy()
    table = model.item_embedding.embeddings.numpy()
    negatives = fixed_negatives(inputs, [2, 3])[0].numpy()
    softplus = lambda z: np.log1p(np.exp(z))  # noqa: E731
    terms = [softplus(-out[b, t] @ table[targets[b, t]]) + softplus(out[b, t] @ table[negatives[b, t]])
             for b, t in [(0, 0), (0, 1), (0, 2), (1, 0)]]
    assert float(model.compute_loss_from_batch(inputs, targets)) == pytest.approx(np.mean(terms), rel=1e-5)


# --- negatives -----------------------------------------------------------------------------------


def test_per_row_negatives_avoid_pad_oov_and_history():
    model = make_model()
    history = right_padded([[1, 2, 3], list(range(1, NUM_ITEMS)), [], [20, 19, 18, 17]], 2 * MAX_LEN)
    history_sets = [set(row) - {0} for row in history]
    draws, masks = [], []
    for _ in range(50):
        negatives, mask = model.sample_negatives(history, [4, MAX_LEN])
        draws.append(negatives.numpy())
        masks.append(mask.numpy())
    draws, masks = np.stack(draws), np.stack(masks)
    assert draws.min() >= 1 and draws.max() <= NUM_ITEMS  # never pad, never OOV
    assert set(np.unique(draws)) == set(range(1, NUM_ITEMS + 1))  # all items reachable
    for b, items in enumerate(history_sets):
        collides = np.isin(draws[:, b], list(items)) if items else np.zeros_like(draws[:, b], bool)
        np.testing.assert_array_equal(masks[:, b], (~collides).astype(np.float32))
    # Resampling removes nearly every collision for ordinary rows...
    assert masks[:, [0, 2, 3]].mean() > 0.99
    # ...and for a row that covers 19 of the 20 items, remaining collisions are masked.
    assert 0.0 < masks[:, 1].mean() < 1.0
    assert (draws[:, 1][masks[:, 1] == 1] == 20).all()


def test_shared_negatives_come_with_a_per_row_mask():
    model = make_model()
    history = right_padded([[1, 2, 3], list(range(1, NUM_ITEMS)), []], MAX_LEN + 8)
    for _ in range(20):
        negatives, mask = model.sample_negatives(history, [30])
        negatives, mask = negatives.numpy(), mask.numpy()
        assert negatives.shape == (30,) and mask.shape == (3, 30)
        assert negatives.min() >= 1 and negatives.max() <= NUM_ITEMS
        for b, row in enumerate(history):
            expected = ~np.isin(negatives, [i for i in row if i])
            np.testing.assert_array_equal(mask[b], expected.astype(np.float32))


def test_negatives_are_fresh_on_every_call_also_in_a_traced_function():
    model = make_model()
    history = right_padded([[1, 2], [3]], 2)
    first = model.sample_negatives(history, [2, 50])[0].numpy()
    second = model.sample_negatives(history, [2, 50])[0].numpy()
    assert not np.array_equal(first, second)

    traced = tf.function(lambda h: model.sample_negatives(h, [64])[0])
    a, b = traced(tf.constant(history)).numpy(), traced(tf.constant(history)).numpy()
    assert not np.array_equal(a, b)

    # The seed makes the stream reproducible.
    x = make_model(seed=7).sample_negatives(history, [2, 50])[0].numpy()
    y = make_model(seed=7).sample_negatives(history, [2, 50])[0].numpy()
    np.testing.assert_array_equal(x, y)


# --- a tiny fit ----------------------------------------------------------------------------------


def successor(item):
    return item % NUM_ITEMS + 1


def toy_dataset(batch_size=32):
    """Item i is always followed by item i + 1 (20 wraps to 1); every batch trimmed to its longest row."""
    sequences = []
    for start in range(1, NUM_ITEMS + 1):
        for length in range(3, MAX_LEN + 2):
            seq = [start]
            while len(seq) < length:
                seq.append(successor(seq[-1]))
            sequences.append(seq)
    inputs = right_padded([s[:-1] for s in sequences], MAX_LEN)
    targets = right_padded([s[1:] for s in sequences], MAX_LEN)

    def trim(batch):
        length = tf.reduce_max(tf.math.count_nonzero(batch["input_ids"], axis=1, dtype=tf.int32))
        return {key: value[:, :length] for key, value in batch.items()}

    return (tf.data.Dataset.from_tensor_slices({"input_ids": inputs, "target_ids": targets})
            .shuffle(len(sequences), seed=0).batch(batch_size).map(trim))


@pytest.mark.parametrize("loss", ["bce", "sampled_softmax"])
def test_tiny_fit_learns_the_successor(loss):
    model = make_model(loss=loss, num_negatives=10, dropout=0.1, l2_emb=1e-4, num_heads=1)
    model.compile(optimizer=keras.optimizers.Adam(0.01))
    history = model.fit(toy_dataset(), epochs=12, verbose=0).history["loss"]
    assert history[-1] < 0.5 * history[0], history

    rng = np.random.default_rng(0)
    rows = []
    for _ in range(64):
        start, length = int(rng.integers(1, NUM_ITEMS + 1)), int(rng.integers(1, MAX_LEN + 1))
        row = [start]
        while len(row) < length:
            row.append(successor(row[-1]))
        rows.append(row)
    ids = right_padded(rows, MAX_LEN)
    targets = np.array([successor(r[-1]) for r in rows])
    query = model.last_item_embedding(model(ids), ids)
    ranks = rank_of_targets(model.item_scores(query), targets, exclusion_mask(ids, VOCAB)).numpy()
    # Typically 0.85-1.0 and 0.98-1.0 (checked over several seeds); the bounds leave a margin.
    assert hit_rate_at_k(ranks, 1).numpy().mean() >= 0.7, ranks
    assert hit_rate_at_k(ranks, 3).numpy().mean() >= 0.9, ranks


# --- ranking helpers -----------------------------------------------------------------------------


def test_exclusion_mask_by_hand():
    history = np.array([[2, 0, 0], [0, 0, 0], [2, 3, 2], [9, 1, 0]])
    expected = np.array([
        [1, 0, 1, 0, 1],
        [1, 0, 0, 0, 1],
        [1, 0, 1, 1, 1],
        [1, 1, 0, 0, 1],  # 9 is out of range: clipped onto OOV
    ], bool)
    np.testing.assert_array_equal(exclusion_mask(history, 5).numpy(), expected)


def test_rank_ndcg_and_hit_by_hand():
    # V = 5: 0 pad, 1..3 items, 4 OOV.
    scores = np.array([
        [0.0, 0.5, 0.3, 0.5, 0.9],  # target 3 ties with item 1 (tie favours the target); 4 is OOV
        [9.0, 0.2, 0.8, 0.4, 0.1],  # target 1: items 2 and 3 score higher; pad's 9.0 is excluded
        [0.0, 0.1, 0.9, 0.2, 0.0],  # target 2 is in the history: a miss
        [0.0, 0.1, 0.2, 0.3, 0.0],  # target 0 (pad): a miss
        [0.0, 0.1, 0.2, 0.3, 5.0],  # target 4 (OOV): a miss
        [0.0, 0.7, 0.2, 0.9, 0.0],  # target 2, item 3 in history is excluded: rank 2 (item 1 above)
    ], np.float32)
    targets = np.array([3, 1, 2, 0, 4, 2])
    history = np.array([[2, 0], [0, 0], [2, 0], [0, 0], [0, 0], [3, 0]])
    exclude = exclusion_mask(history, 5)
    ranks = rank_of_targets(scores, targets, exclude).numpy()
    np.testing.assert_array_equal(ranks, [1, 3, 6, 6, 6, 2])

    # In a traced function with unknown shapes too.
    traced = tf.function(rank_of_targets, input_signature=[
        tf.TensorSpec([None, None], tf.float32), tf.TensorSpec([None], tf.int64),
        tf.TensorSpec([None, None], tf.bool)])
    np.testing.assert_array_equal(traced(scores, targets, exclude).numpy(), ranks)

    np.testing.assert_allclose(ndcg_at_k(ranks, 2).numpy(), [1, 0, 0, 0, 0, 1 / math.log2(3)], rtol=1e-6)
    np.testing.assert_allclose(ndcg_at_k(ranks, 5).numpy(),
                               [1, 0.5, 0, 0, 0, 1 / math.log2(3)], rtol=1e-6)
    np.testing.assert_array_equal(hit_rate_at_k(ranks, 1).numpy(), [1, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(hit_rate_at_k(ranks, 3).numpy(), [1, 1, 0, 0, 0, 1])
    # A miss (V + 1) is a miss at every cut-off, even k = V.
    assert hit_rate_at_k(ranks, 5).numpy()[2:5].sum() == 0


# --- config --------------------------------------------------------------------------------------


def test_get_config_round_trip_and_weights():
    model = make_model(loss="sampled_softmax", num_negatives=7, dropout=0.1, seed=3)
    config = model.get_config()
    clone = SASRec.from_config(config)
    assert clone.get_config() == config
    assert (clone.num_items, clone.loss_name, clone.num_negatives, clone.seed) == (
        NUM_ITEMS, "sampled_softmax", 7, 3)

    ids = right_padded([[1, 2, 3], [4]], 3)
    model(ids)
    clone(ids)
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone(ids).numpy(), model(ids).numpy(), atol=1e-6)

    for layer in (PositionEmbedding(max_length=9, name="p"),
                  TransformerBlock(hidden_dim=8, num_heads=2, dropout=0.3, name="t")):
        assert type(layer).from_config(layer.get_config()).get_config() == layer.get_config()


@pytest.mark.parametrize("kwargs", [
    dict(num_items=0),
    dict(hidden_dim=10, num_heads=3),
    dict(dropout=1.0),
    dict(loss="softmax"),
    dict(num_negatives=0),
    dict(l2_emb=-1.0),
    dict(max_len=0),
])
def test_constructor_validates_arguments(kwargs):
    with pytest.raises(ValueError):
        make_model(**kwargs)


def test_evaluate_reports_ranking_of_each_rows_last_target():
    model = make_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    rows = [[3, 4, 5], [7, 8], [9, 10, 11, 12], [2]]
    ids = right_padded(rows, MAX_LEN)
    last_targets = [6, 9, 3, 2]  # the last row's target is in its history: a miss
    targets = ids.copy()
    for r, (row, target) in enumerate(zip(rows, last_targets)):
        targets[r, :len(row)] = row[1:] + [target]
    metrics = model.evaluate(tf.data.Dataset.from_tensors({"input_ids": ids, "target_ids": targets}),
                             return_dict=True, verbose=0)

    scores = model.item_scores(model.last_item_embedding(model(ids), ids)).numpy()
    ranks = []
    for r, (row, target) in enumerate(zip(rows, last_targets)):
        allowed = np.ones(VOCAB, bool)
        allowed[[0, VOCAB - 1, *row]] = False
        ranks.append(1 + np.sum(allowed & (scores[r] > scores[r, target])) if allowed[target] else np.inf)
    ranks = np.array(ranks)
    for k in (1, 5, 10, 20):
        assert metrics[f"hr@{k}"] == pytest.approx(np.mean(ranks <= k))
        assert metrics[f"ndcg@{k}"] == pytest.approx(np.mean(np.where(ranks <= k, 1 / np.log2(ranks + 1), 0.0)))
    assert np.isfinite(metrics["loss"])


@pytest.mark.parametrize("num_blocks", [1, 3])
def test_last_item_query_equals_the_full_forward_pass_at_the_last_item(num_blocks):
    model = make_model(num_blocks=num_blocks)
    rows = [[3, 4, 5], [7], [9, 10, 11, 12, 13, 14], [], [2, 2, 2, 2]]
    ids = right_padded(rows, 8)
    full = model.last_item_embedding(model(ids, training=False), ids).numpy()
    np.testing.assert_allclose(model.last_item_query(ids).numpy(), full, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(full[3], 0.0)  # an empty row: zeros
