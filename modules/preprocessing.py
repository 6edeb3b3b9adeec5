"""tf.Transform user code: the item vocabulary and the shifted model inputs and targets.

Item indices: 0 is padding, 1..N the vocabulary (most frequent first, learned on the train split
only), N + 1 the out-of-vocabulary bucket. The transform graph is part of the exported model, so
serving maps raw IDs exactly as training did.
"""
import sasrec  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

import tensorflow as tf
import tensorflow_transform as tft

ITEM_VOCABULARY = "item_ids"
PAD_TOKEN = "[PAD]"

# Transformed feature names.
HISTORY = "history"        # the whole sequence as indices
INPUTS = "input_ids"       # the sequence without its last item: what the model reads
TARGETS = "target_ids"     # the sequence without its first item: the next item at each input position
SEQUENCE_LENGTH = "sequence_length"


def _ragged(values: tf.Tensor) -> tf.RaggedTensor:
    if isinstance(values, tf.SparseTensor):
        return tf.RaggedTensor.from_sparse(values)
    return values


def preprocessing_fn(inputs):
    """Maps raw `item_ids` (ragged strings) to indices and shifts them into inputs and targets."""
    items = _ragged(inputs["item_ids"])
    history = tft.compute_and_apply_vocabulary(
        items, reserved_tokens=[PAD_TOKEN], num_oov_buckets=1, vocab_filename=ITEM_VOCABULARY)
    outputs = {
        HISTORY: history,
        INPUTS: history[:, :-1],
        TARGETS: history[:, 1:],
    }
    if SEQUENCE_LENGTH in inputs:  # absent at serving, where only the history is fed
        outputs[SEQUENCE_LENGTH] = tf.reshape(inputs[SEQUENCE_LENGTH], [-1])
    return outputs
