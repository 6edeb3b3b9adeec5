"""TFX Trainer user code: fits SASRec on the transformed train split and exports the serving model.

The eval split drives model selection (the epoch with the best full-ranking NDCG@10 is kept); the
test split never reaches this module.
"""
import sasrec  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

import json
import os
import time
from typing import Dict, List

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras
from tfx.components.trainer.fn_args_utils import FnArgs

from modules import export, preprocessing
from sasrec import provenance
from sasrec.config import SASRecConfig
from sasrec.model import SASRec, exclusion_mask, hit_rate_at_k, ndcg_at_k, rank_of_targets

TRAINING_HISTORY_FILE = "training_history.json"
SELECTION_METRIC = "eval_ndcg@10"


def _dataset(file_patterns: List[str], tf_transform_output: tft.TFTransformOutput,
             max_len: int) -> tf.data.Dataset:
    """Unbatched (input_ids, target_ids) of every sequence with at least one input position."""
    spec = {name: tf_transform_output.transformed_feature_spec()[name]
            for name in (preprocessing.INPUTS, preprocessing.TARGETS)}
    files = [path for pattern in file_patterns for path in tf.io.gfile.glob(pattern)]

    def parse(serialized):
        features = tf.io.parse_single_example(serialized, spec)
        # Sequences are at most max_len + 1 long (UserSequences truncates); the slice guards the
        # invariant the position embeddings rely on, keeping the most recent items.
        return {name: tf.cast(features[name][-max_len:], tf.int32) for name in spec}

    return (tf.data.TFRecordDataset(sorted(files), compression_type="GZIP")
            .map(parse, num_parallel_calls=tf.data.AUTOTUNE)
            .filter(lambda x: tf.size(x[preprocessing.INPUTS]) > 0))


def _length(sequence: Dict[str, tf.Tensor]) -> tf.Tensor:
    return tf.size(sequence[preprocessing.INPUTS])


def bucket_boundaries(lengths: np.ndarray, batch_size: int, max_buckets: int = 8) -> List[int]:
    """Length buckets of about equal size (about a batch or more each), as `bucket_by_sequence_length`
    boundaries: bucket i holds lengths in [boundaries[i-1], boundaries[i])."""
    num_buckets = max(1, min(max_buckets, len(lengths) // max(batch_size, 1)))
    quantiles = np.quantile(lengths, np.linspace(0.0, 1.0, num_buckets + 1)[1:-1], method="higher") \
        if len(lengths) else []
    return sorted({int(q) + 1 for q in quantiles})


def _batched(dataset: tf.data.Dataset, batch_size: int, boundaries: List[int],
             drop_remainder: bool = False) -> tf.data.Dataset:
    # Batches group histories of similar length and are padded only to their own longest row
    # (right padding with index 0): far less padding than padding every history to max_len.
    return dataset.bucket_by_sequence_length(
        _length, bucket_boundaries=boundaries, bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)


def evaluate_ranking(model: SASRec, dataset: tf.data.Dataset, ks=(1, 5, 10, 20)) -> Dict[str, float]:
    """Full-ranking HR@K / NDCG@K of each sequence's last target, the history excluded."""
    totals, count = {}, 0
    for batch in dataset:
        ranks = _ranks(model, batch[preprocessing.INPUTS], batch[preprocessing.TARGETS])
        for k in ks:
            for name, fn in (("hr", hit_rate_at_k), ("ndcg", ndcg_at_k)):
                key = f"{name}@{k}"
                totals[key] = totals.get(key, 0.0) + float(tf.reduce_sum(fn(ranks, k)))
        count += int(tf.shape(ranks)[0])
    return {key: value / max(count, 1) for key, value in totals.items()}


@tf.function(reduce_retracing=True)
def _ranks(model, input_ids, target_ids):
    lengths = tf.reduce_sum(tf.cast(input_ids > 0, tf.int32), axis=1)
    targets = tf.gather(target_ids, lengths - 1, batch_dims=1)
    query = model.last_item_embedding(model(input_ids, training=False), input_ids)
    scores = model.item_scores(query)
    return rank_of_targets(scores, targets, exclusion_mask(input_ids, model.num_items + 2))


class BestEpochByRanking(keras.callbacks.Callback):
    """Logs eval ranking metrics each epoch and restores the weights of the best epoch at the end."""

    def __init__(self, eval_dataset: tf.data.Dataset):
        super().__init__()
        self._eval_dataset = eval_dataset
        self.best_value, self.best_epoch, self._best_weights = -1.0, None, None

    def on_epoch_end(self, epoch, logs=None):
        metrics = evaluate_ranking(self.model, self._eval_dataset)
        for key, value in metrics.items():
            logs[f"eval_{key}"] = value
        if logs[SELECTION_METRIC] > self.best_value:
            self.best_value, self.best_epoch = logs[SELECTION_METRIC], epoch
            self._best_weights = self.model.get_weights()
        print(f"epoch {epoch + 1}: eval HR@10 {metrics['hr@10']:.4f} NDCG@10 {metrics['ndcg@10']:.4f}")

    def on_train_end(self, logs=None):
        if self._best_weights is not None:
            self.model.set_weights(self._best_weights)


class EpochTimer(keras.callbacks.Callback):
    """Logs each epoch's wall seconds: `train_seconds` (the fit steps) and `epoch_seconds` (all of it)."""

    def on_epoch_begin(self, epoch, logs=None):
        self._started = self._train_ended = time.perf_counter()

    def on_test_begin(self, logs=None):
        self._train_ended = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        ended = time.perf_counter()
        logs["train_seconds"] = (self._train_ended if self._train_ended > self._started else ended) - self._started
        logs["epoch_seconds"] = ended - self._started


def distribution_strategy(name: str) -> tf.distribute.Strategy:
    """The tf.distribute strategy a config names; "none" is TensorFlow's default (one device)."""
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker_mirrored":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def run_fn(fn_args: FnArgs) -> None:
    """Entry point the TFX Trainer calls."""
    config = SASRecConfig.from_dict(fn_args.custom_config["sasrec"])
    keras.utils.set_random_seed(config.seed)
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    num_items = export.num_items(tf_transform_output)

    strategy = distribution_strategy(config.distribution)
    train = _dataset(fn_args.train_files, tf_transform_output, config.max_len).cache()
    lengths = np.fromiter(train.map(_length).as_numpy_iterator(), dtype=np.int64)
    train_size = len(lengths)
    boundaries = bucket_boundaries(lengths, config.batch_size)
    # Replicas fail on a ragged last batch; with several, each epoch trains on whole batches (the
    # shuffled remainder differs from epoch to epoch).
    print(f"Training with {type(strategy).__name__} over {strategy.num_replicas_in_sync} replica(s)")
    whole_batches = strategy.num_replicas_in_sync > 1
    train_batches = _batched(train.shuffle(max(train_size, 1), seed=config.seed, reshuffle_each_iteration=True),
                             config.batch_size, boundaries, drop_remainder=whole_batches)
    eval_sequences = _dataset(fn_args.eval_files, tf_transform_output, config.max_len).cache()
    # Ranking metrics (model selection) always see every eval sequence; the eval loss, computed
    # by the replicas, uses whole batches when there are several.
    eval_batches = _batched(eval_sequences, config.batch_size, boundaries)
    eval_loss_batches = _batched(eval_sequences, config.batch_size, boundaries, drop_remainder=whole_batches)

    with strategy.scope():
        model = SASRec(num_items=num_items, max_len=config.max_len, num_blocks=config.num_blocks,
                       num_heads=config.num_heads, hidden_dim=config.hidden_dim, dropout=config.dropout,
                       l2_emb=config.l2_emb, loss=config.loss, num_negatives=config.num_negatives,
                       seed=config.seed)
        model.compile(optimizer=keras.optimizers.Adam(
            learning_rate=config.learning_rate, beta_1=config.beta_1, beta_2=config.beta_2))
    selection = BestEpochByRanking(eval_batches)
    history = model.fit(
        train_batches, validation_data=eval_loss_batches, epochs=config.epochs, verbose=2,
        # The timer comes last so that an epoch's time includes the ranking evaluation.
        callbacks=[selection, keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir, update_freq="epoch"),
                   EpochTimer()])

    record = {"config": config.to_dict(), "packages": provenance.package_versions(),
              "transform_graph": fn_args.transform_output, "train_files": fn_args.train_files,
              "num_items": num_items, "train_sequences": train_size, "replicas": strategy.num_replicas_in_sync,
              "best_epoch": None if selection.best_epoch is None else selection.best_epoch + 1,
              "history": {key: [float(v) for v in values] for key, values in history.history.items()}}
    tf.io.gfile.makedirs(fn_args.model_run_dir)
    with tf.io.gfile.GFile(os.path.join(fn_args.model_run_dir, TRAINING_HISTORY_FILE), "w") as f:
        json.dump(record, f, indent=2)
    export.save_serving_model(model, tf_transform_output, config, fn_args.serving_model_dir, record)
