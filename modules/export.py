"""The exported SavedModel: raw item IDs in, top-k raw item IDs out, the transform graph inside.

Signatures (clients and the evaluation depend on these names):
- `serving_default(history)`: `history` tf.string [batch, None], raw item IDs oldest first, padded
  with "" (anywhere). Returns `item_ids` tf.string [batch, k] and `scores` tf.float32 [batch, k],
  best first, never an item of the history. Unknown IDs are ignored; only the most recent `max_len`
  known items are read; an empty history gets the most popular items (popularity = the item
  vocabulary's frequency order on the train split). When fewer than k items are left to
  recommend, the remaining slots hold item "" with score LOWEST_SCORE.
- `score_items(history, candidates)`: `candidates` tf.string [batch, n] -> `scores` [batch, n].
  Candidates of shape [1, n] are shared by every row (e.g. the whole catalogue, looked up once).
  An unknown candidate (or "") gets LOWEST_SCORE, the lowest finite float32.
- `serving_examples(examples)`: serialized tf.Examples [batch] with a bytes list feature
  `item_ids` (the format of the sequence splits), answered as `serving_default`.
"""
import sasrec  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

import json
import os
from typing import Any, Dict

import tensorflow as tf
import tensorflow_transform as tft

from modules import preprocessing
from sasrec.config import SASRecConfig
from sasrec.model import SASRec

LOWEST_SCORE = float(tf.float32.min)
ITEM_IDS = "item_ids"
TRAINING_RECORD = os.path.join("assets.extra", "training_record.json")


def num_items(tf_transform_output: tft.TFTransformOutput) -> int:
    """Items in the vocabulary, not counting the padding token."""
    return tf_transform_output.vocabulary_size_by_name(preprocessing.ITEM_VOCABULARY) - 1


def _item_id_table(tf_transform_output: tft.TFTransformOutput) -> tf.Tensor:
    """Raw ID of every index: "" for padding and for the out-of-vocabulary index."""
    vocabulary = tf_transform_output.vocabulary_by_name(preprocessing.ITEM_VOCABULARY)
    ids = [b""] + list(vocabulary[1:]) + [b""]
    return tf.constant(ids, dtype=tf.string)


class ServingModule(tf.Module):
    """Wraps the trained model, the transform layer and the index -> raw ID table."""

    def __init__(self, model: SASRec, tf_transform_output: tft.TFTransformOutput, config: SASRecConfig):
        super().__init__()
        self.model = model
        self.transform_layer = tf_transform_output.transform_features_layer()
        self.item_ids = _item_id_table(tf_transform_output)
        self.num_items = model.num_items
        self.max_len = config.max_len
        self.k = min(config.top_k, self.num_items)
        # Vocabulary order is train-split frequency order: a lower index is a more popular item.
        self.popularity = -tf.math.log(tf.range(1, self.num_items + 3, dtype=tf.float32))

    def _indices(self, raw_ids: tf.Tensor) -> tf.RaggedTensor:
        """Known item indices of each row, "" and unknown IDs dropped, order kept."""
        ragged = tf.RaggedTensor.from_tensor(raw_ids, padding="")
        ragged = tf.ragged.boolean_mask(ragged, tf.not_equal(ragged, ""))
        indices = self._transform(ragged)
        return tf.ragged.boolean_mask(indices, (indices > 0) & (indices <= self.num_items))

    def _transform(self, raw_ids: tf.RaggedTensor) -> tf.RaggedTensor:
        """Raw IDs -> vocabulary indices through the Transform graph (its input is a VarLen feature)."""
        transformed = self.transform_layer({"item_ids": raw_ids.to_sparse()})[preprocessing.HISTORY]
        return tf.cast(transformed, tf.int32)

    def _history_tensor(self, indices: tf.RaggedTensor) -> tf.Tensor:
        """[batch, L] right-padded indices of the most recent max_len known items (L >= 1)."""
        dense = indices[:, -self.max_len:].to_tensor(default_value=0)
        return tf.pad(dense, [[0, 0], [0, tf.maximum(1 - tf.shape(dense)[1], 0)]])

    def _scores(self, item_history: tf.Tensor) -> tf.Tensor:
        """[batch, vocab] scores of every index; popularity for rows with an empty history."""
        query = self.model.last_item_query(item_history)
        scores = self.model.item_scores(query)
        empty = tf.reduce_all(item_history == 0, axis=1, keepdims=True)
        return tf.where(empty, self.popularity[tf.newaxis, :], scores)

    def recommend(self, history: tf.Tensor):
        indices = self._indices(history)
        scores = self._scores(self._history_tensor(indices))
        vocab_size = tf.shape(scores)[1]
        # Every item of the history is excluded, also those older than the max_len the model reads.
        seen = tf.scatter_nd(tf.stack([indices.value_rowids(), tf.cast(indices.values, tf.int64)], axis=1),
                             tf.ones_like(indices.values), tf.cast(tf.shape(scores), tf.int64)) > 0
        special = (tf.range(vocab_size) == 0) | (tf.range(vocab_size) == vocab_size - 1)
        blocked = seen | special[tf.newaxis]
        scores, indices = tf.math.top_k(tf.where(blocked, -float("inf"), scores), k=self.k)
        available = tf.math.is_finite(scores)
        return {
            "item_ids": tf.where(available, tf.gather(self.item_ids, indices), ""),
            "scores": tf.where(available, scores, LOWEST_SCORE),
        }

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.string, name="history")])
    def serving_default(self, history):
        return self.recommend(history)

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.string, name="history"),
                                  tf.TensorSpec([None, None], tf.string, name="candidates")])
    def score_items(self, history, candidates):
        scores = self._scores(self._history_tensor(self._indices(history)))
        ragged = tf.RaggedTensor.from_tensor(candidates)  # keeps positions: one score per candidate
        indices = self._transform(ragged).to_tensor(default_value=0, shape=tf.shape(candidates))
        indices = tf.where(tf.not_equal(candidates, ""), indices, 0)
        # [1, n] candidates broadcast to every row; [batch, n] ones stay as they are.
        indices = tf.broadcast_to(indices, tf.stack([tf.shape(scores)[0], tf.shape(candidates)[1]]))
        known = (indices > 0) & (indices <= self.num_items)
        return {"scores": tf.where(known, tf.gather(scores, indices, batch_dims=1), LOWEST_SCORE)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serving_examples(self, examples):
        parsed = tf.io.parse_example(examples, {ITEM_IDS: tf.io.RaggedFeature(tf.string)})
        return self.recommend(parsed[ITEM_IDS].to_tensor(default_value=""))


def save_serving_model(model: SASRec, tf_transform_output: tft.TFTransformOutput, config: SASRecConfig,
                       export_dir: str, training_record: Dict[str, Any]) -> None:
    """Saves the SavedModel, with `training_record` (config, package versions, inputs) in
    `assets.extra/` so that a pushed model says what made it; TF Serving ignores that folder."""
    module = ServingModule(model, tf_transform_output, config)
    tf.saved_model.save(module, export_dir, signatures={
        "serving_default": module.serving_default,
        "score_items": module.score_items,
        "serving_examples": module.serving_examples,
    })
    tf.io.gfile.makedirs(os.path.join(export_dir, "assets.extra"))
    with tf.io.gfile.GFile(os.path.join(export_dir, TRAINING_RECORD), "w") as f:
        json.dump(training_record, f, indent=2)
