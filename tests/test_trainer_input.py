"""The Trainer's input pipeline: length buckets and per-batch padding."""
import numpy as np
import tensorflow as tf

from modules import preprocessing, trainer


def test_bucket_boundaries_split_lengths_into_similar_sized_buckets():
    lengths = np.arange(1, 1001)
    boundaries = trainer.bucket_boundaries(lengths, batch_size=100, max_buckets=4)
    assert boundaries == [252, 502, 752]  # bucket i: lengths in [boundaries[i-1], boundaries[i])
    counts = np.histogram(lengths, bins=[0, *boundaries, 10 ** 6])[0]
    assert counts.tolist() == [251, 250, 250, 249]


def test_bucket_boundaries_degrade_to_one_bucket_for_small_or_uniform_data():
    assert trainer.bucket_boundaries(np.arange(1, 50), batch_size=128) == []
    assert trainer.bucket_boundaries(np.full(5000, 200), batch_size=128) == [201]
    assert trainer.bucket_boundaries(np.array([], dtype=np.int64), batch_size=128) == []


def test_batches_keep_every_sequence_once_and_pad_only_to_their_longest_row():
    rng = np.random.default_rng(0)
    sequences = [rng.integers(1, 50, size=n) for n in rng.integers(1, 60, size=300)]
    dataset = tf.data.Dataset.from_generator(
        lambda: ({preprocessing.INPUTS: s, preprocessing.TARGETS: s + 1} for s in sequences),
        output_signature={name: tf.TensorSpec([None], tf.int64)
                          for name in (preprocessing.INPUTS, preprocessing.TARGETS)})
    boundaries = trainer.bucket_boundaries(np.array([len(s) for s in sequences]), batch_size=32)
    assert len(boundaries) == 7

    seen, padded_cells = [], 0
    for batch in trainer._batched(dataset, 32, boundaries):
        inputs = batch[preprocessing.INPUTS].numpy()
        lengths = (inputs > 0).sum(axis=1)
        assert lengths.max() == inputs.shape[1]  # padded to the batch's own longest row
        assert np.searchsorted(boundaries, lengths, side="right").tolist() == \
            [np.searchsorted(boundaries, lengths[0], side="right")] * len(lengths)  # one bucket
        np.testing.assert_array_equal(batch[preprocessing.TARGETS].numpy()[inputs > 0], inputs[inputs > 0] + 1)
        seen += [tuple(row[:n]) for row, n in zip(inputs, lengths)]
        padded_cells += inputs.size
    assert sorted(seen) == sorted(tuple(s) for s in sequences)
    assert padded_cells < 1.3 * sum(len(s) for s in sequences)
