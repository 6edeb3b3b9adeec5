"""Property-based tests of the pushed SavedModel's signatures (modules/export.py) on bad and odd input.

Histories: empty, only unknown IDs, duplicates, length 1 and 10,000, unicode and non-UTF-8 IDs, the
padding token, and "" at any position; candidate lists: empty, unknown, repeated. Several histories go in
one call as a dense [batch, length] string tensor padded with "". The contracts (module docstring of
modules/export.py and the README's signature table):

* `serving_default(history)`: `item_ids` string [batch, k] and `scores` float32 [batch, k], finite, best
  first, never an item of the history, "" or the padding token; "" and the lowest finite float32 fill
  only the slots left when fewer than k items remain. Unknown IDs and "" are ignored, and a history with
  no known item gets the most popular items (vocabulary order).
* `score_items(history, candidates)`: `scores` [batch, n], finite; the lowest finite float32 for unknown
  candidates and "", the scores `serving_default` gives for known ones.
* `serving_examples(examples)`: as `serving_default` on the same histories.

Uses the shared pipeline run of tests/conftest.py (slow).
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import E2E_NUM_ITEMS

pytestmark = pytest.mark.slow

TOP_K = 10            # conftest's E2E_TRAIN_ARGS: --top-k 10
MAX_LEN = 50          # and --max-len 50
LOWEST = np.finfo(np.float32).min
PAD_TOKEN = "[PAD]"   # modules/preprocessing.py: vocabulary index 0
SETTINGS = settings(max_examples=50, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def tf():
    import tensorflow

    return tensorflow


@pytest.fixture(scope="module")
def catalogue(vocabulary):
    assert len(vocabulary) == E2E_NUM_ITEMS and len(set(vocabulary)) == E2E_NUM_ITEMS
    return [item.encode() for item in vocabulary]


# --- strategies ---------------------------------------------------------------------------------------


def unknown_ids(known):
    """IDs outside the vocabulary: unicode text, raw bytes (not UTF-8 too), look-alikes, the padding token."""
    return st.one_of(
        st.text(min_size=1, max_size=8).map(str.encode),
        st.binary(min_size=1, max_size=8),
        st.sampled_from([b"[PAD]", b" 1", b"1 ", b"01", b"-1", b"1.0", "é".encode(), "\U0001F600".encode(),
                         b"\xff\xfe", b"\x00", b"no-such-item"]),
    ).filter(lambda i: i not in known)


def histories(catalogue, max_size=60):
    known = set(catalogue)
    item = st.one_of(st.sampled_from(catalogue), st.sampled_from(catalogue), unknown_ids(known), st.just(b""))
    return st.one_of(
        st.lists(item, max_size=max_size),                                  # a mix, duplicates included
        st.lists(st.sampled_from(catalogue), min_size=1, max_size=1),       # length 1
        st.lists(unknown_ids(known) | st.just(b""), max_size=8),            # nothing known
        st.lists(st.sampled_from(catalogue[:5]), min_size=2, max_size=40),  # many duplicates
    )


def dense(rows, width=None):
    """[batch, width] rows padded with "" (width: the longest row, at least `width`)."""
    width = max([len(r) for r in rows] + [width or 0])
    return [list(r) + [b""] * (width - len(r)) for r in rows]


# --- checks -------------------------------------------------------------------------------------------


def recommend(signatures, tf, rows, width=None):
    out = signatures["serving_default"](history=tf.constant(dense(rows, width), dtype=tf.string, shape=(
        len(rows), max([len(r) for r in rows] + [width or 0]))))
    return out["item_ids"].numpy(), out["scores"].numpy()


def check_recommendations(history, items, scores, catalogue, vocabulary_order):
    """The contract of one row of serving_default's output."""
    known = set(catalogue)
    seen = {i for i in history if i in known}
    k = min(TOP_K, len(catalogue))
    assert items.shape == (k,) and scores.shape == (k,)
    assert scores.dtype == np.float32 and np.isfinite(scores).all()
    available = min(k, len(catalogue) - len(seen))
    real = list(items[:available])
    assert all(i in known for i in real), real                  # no "", no padding token, no unknown ID
    assert not set(real) & seen                                  # never an item of the history
    assert len(set(real)) == len(real)                           # no item twice
    assert list(items[available:]) == [b""] * (k - available)    # fill only when too few items remain
    assert (scores[available:] == LOWEST).all() and (scores[:available] > LOWEST).all()
    assert (np.diff(scores) <= 0).all()                          # best first
    if not seen:                                                 # nothing known: the most popular items
        assert real == vocabulary_order[:k]


# --- serving_default ----------------------------------------------------------------------------------------


@SETTINGS
@given(data=st.data())
def test_serving_default_on_any_batch_of_histories(signatures, tf, catalogue, data):
    rows = data.draw(st.lists(histories(catalogue), min_size=1, max_size=6), label="histories")
    extra_width = data.draw(st.integers(0, 3), label="extra padding columns")
    items, scores = recommend(signatures, tf, rows, width=max(len(r) for r in rows) + extra_width)
    assert items.shape == scores.shape == (len(rows), TOP_K)
    for row, history in enumerate(rows):
        check_recommendations(history, items[row], scores[row], catalogue, catalogue)


@SETTINGS
@given(data=st.data())
def test_unknown_ids_and_padding_anywhere_change_nothing(signatures, tf, catalogue, data):
    """A history and the same history with unknown IDs and "" inserted anywhere: the same answer."""
    history = data.draw(st.lists(st.sampled_from(catalogue), max_size=MAX_LEN), label="known history")
    noisy = list(history)
    for position, noise in data.draw(st.lists(st.tuples(st.integers(0, 200), unknown_ids(set(catalogue))
                                                         | st.just(b"")), max_size=20), label="insertions"):
        noisy.insert(position % (len(noisy) + 1), noise)
    items, scores = recommend(signatures, tf, [history, noisy])
    assert list(items[0]) == list(items[1])
    np.testing.assert_allclose(scores[0], scores[1], rtol=1e-5, atol=1e-5)


@SETTINGS
@given(data=st.data())
def test_a_row_answers_the_same_alone_and_in_a_batch(signatures, tf, catalogue, data):
    """Batching (and the padding the other rows force on a row) does not change a row's answer."""
    rows = data.draw(st.lists(histories(catalogue), min_size=2, max_size=5), label="histories")
    batch_items, batch_scores = recommend(signatures, tf, rows)
    for row, history in enumerate(rows):
        items, scores = recommend(signatures, tf, [history])
        np.testing.assert_allclose(batch_scores[row], scores[0], rtol=1e-4, atol=1e-4)
        # Items agree except where two scores tie within the tolerance.
        for position in range(TOP_K):
            close = np.abs(scores[0] - scores[0][position]) <= 1e-4
            assert batch_items[row][position] in set(items[0][close]), (row, position)


@settings(max_examples=25, deadline=None)
@given(missing=st.integers(0, TOP_K + 2), seed=st.integers(0, 2**32 - 1), extra=st.integers(0, 3))
def test_fewer_items_left_than_k(signatures, tf, catalogue, missing, seed, extra):
    """A history holding all but `missing` items of the catalogue: exactly those come back, then ""."""
    rng = np.random.default_rng(seed)
    order = list(rng.permutation(len(catalogue)))
    left = {catalogue[i] for i in order[:missing]}
    history = [catalogue[i] for i in order[missing:]] + [catalogue[i] for i in order[missing:missing + extra]]
    rng.shuffle(history)
    items, scores = recommend(signatures, tf, [history])
    check_recommendations(history, items[0], scores[0], catalogue, catalogue)
    if missing <= TOP_K:
        assert set(items[0][:missing]) == left


@pytest.mark.parametrize("case", ["10,000 known", "10,000 of one item", "10,000 unknown", "10,000 padding",
                                  "10,000 mixed"])
def test_histories_of_10000_ids(signatures, tf, catalogue, case):
    rng = np.random.default_rng(7)
    history = {
        "10,000 known": [catalogue[i] for i in rng.integers(0, 20, 10_000)],
        "10,000 of one item": [catalogue[3]] * 10_000,
        "10,000 unknown": [f"unknown-{i}".encode() for i in range(10_000)],
        "10,000 padding": [b""] * 10_000,
        "10,000 mixed": [[catalogue[i % 30], b"", "ü".encode(), b"\xff"][i % 4] for i in range(10_000)],
    }[case]
    items, scores = recommend(signatures, tf, [history, [], [catalogue[0]]])
    for row, h in enumerate([history, [], [catalogue[0]]]):
        check_recommendations(h, items[row], scores[row], catalogue, catalogue)


@pytest.mark.parametrize("shape", [(0, 0), (0, 5), (3, 0), (1, 0)])
def test_empty_batches_and_zero_width_histories(signatures, tf, catalogue, shape):
    history = tf.zeros(shape, dtype=tf.string)
    out = signatures["serving_default"](history=history)
    assert out["item_ids"].shape == (shape[0], TOP_K) and out["scores"].shape == (shape[0], TOP_K)
    for row in range(shape[0]):
        check_recommendations([], out["item_ids"].numpy()[row], out["scores"].numpy()[row], catalogue, catalogue)
    scored = signatures["score_items"](history=history, candidates=tf.constant(
        [[catalogue[0], b"nope"]] * shape[0], shape=(shape[0], 2), dtype=tf.string))
    assert scored["scores"].shape == (shape[0], 2)


# --- score_items ------------------------------------------------------------------------------------------------


def candidate_lists(catalogue):
    known = set(catalogue)
    candidate = st.one_of(st.sampled_from(catalogue), unknown_ids(known), st.just(b""))
    return st.one_of(st.lists(candidate, max_size=15),
                     st.lists(st.sampled_from(catalogue[:3]), min_size=2, max_size=8))   # repeats


@SETTINGS
@given(data=st.data())
def test_score_items_on_any_candidates(signatures, tf, catalogue, data):
    rows = data.draw(st.lists(histories(catalogue), min_size=1, max_size=5), label="histories")
    width = data.draw(st.integers(0, 15), label="candidates per row")
    candidates = [data.draw(candidate_lists(catalogue), label="candidates")[:width] for _ in rows]
    candidates = [c + [b""] * (width - len(c)) for c in candidates]
    out = signatures["score_items"](history=tf.constant(dense(rows), dtype=tf.string,
                                                        shape=(len(rows), max(len(r) for r in rows))),
                                    candidates=tf.constant(candidates, dtype=tf.string, shape=(len(rows), width)))
    scores = out["scores"].numpy()
    assert scores.shape == (len(rows), width) and scores.dtype == np.float32 and np.isfinite(scores).all()
    known = set(catalogue)
    for row, row_candidates in enumerate(candidates):
        by_id = {}
        for candidate, score in zip(row_candidates, scores[row]):
            if candidate in known:
                assert score > LOWEST, candidate
            else:
                assert score == LOWEST, candidate                 # unknown, "" and the padding token
            by_id.setdefault(candidate, score)
            assert score == by_id[candidate]                      # a repeated candidate: the same score


@SETTINGS
@given(data=st.data())
def test_score_items_agrees_with_serving_default(signatures, tf, catalogue, data):
    rows = data.draw(st.lists(histories(catalogue), min_size=1, max_size=4), label="histories")
    items, scores = recommend(signatures, tf, rows)
    width = max(len(r) for r in rows)
    scored = signatures["score_items"](history=tf.constant(dense(rows), dtype=tf.string, shape=(len(rows), width)),
                                       candidates=tf.constant(items))["scores"].numpy()
    np.testing.assert_allclose(scored, scores, rtol=1e-5, atol=1e-5)   # also LOWEST for the "" fill


# --- serving_examples ----------------------------------------------------------------------------------------------


def example(tf, history):
    feature = {} if history is None else {"item_ids": tf.train.Feature(bytes_list=tf.train.BytesList(value=history))}
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


@SETTINGS
@given(data=st.data())
def test_serving_examples_answers_as_serving_default(signatures, tf, catalogue, data):
    rows = data.draw(st.lists(histories(catalogue), min_size=1, max_size=5), label="histories")
    without_feature = data.draw(st.booleans(), label="add an example without item_ids")
    examples = [example(tf, r) for r in rows] + ([example(tf, None)] if without_feature else [])
    out = signatures["serving_examples"](examples=tf.constant(examples))
    expected_items, expected_scores = recommend(signatures, tf, rows + ([[]] if without_feature else []))
    assert out["item_ids"].shape == out["scores"].shape == (len(examples), TOP_K)
    assert [list(r) for r in out["item_ids"].numpy()] == [list(r) for r in expected_items]
    np.testing.assert_allclose(out["scores"].numpy(), expected_scores, rtol=1e-4, atol=1e-4)


def test_serving_examples_with_no_examples(signatures, tf):
    out = signatures["serving_examples"](examples=tf.constant([], dtype=tf.string))
    assert out["item_ids"].shape == (0, TOP_K)


def test_serving_examples_refuses_malformed_examples_with_a_clear_error(signatures, tf):
    """Bytes that are no tf.Example: TensorFlow's InvalidArgumentError (what TF Serving answers as a 400).
    (Non-ASCII garbage makes TensorFlow's Python layer fail to decode its own error message instead.)"""
    with pytest.raises(tf.errors.InvalidArgumentError, match="Could not parse example input"):
        signatures["serving_examples"](examples=tf.constant([b"not a tf.Example"]))
