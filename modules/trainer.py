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
from sasrec.model import SASRec

TRAINING_HISTORY_FILE = "training_history.json"
SELECTION_METRIC = "val_ndcg@10"  # the eval split's full-ranking NDCG@10 (SASRec.test_step)


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


class BestEpochByRanking(keras.callbacks.Callback):
    """Keeps the weights of the epoch with the best validation NDCG@10 and restores them at the end."""

    def __init__(self):
        super().__init__()
        self.best_value, self.best_epoch, self._best_weights = -1.0, None, None

    def on_epoch_end(self, epoch, logs=None):
        if logs[SELECTION_METRIC] > self.best_value:
            self.best_value, self.best_epoch = logs[SELECTION_METRIC], epoch
            self._best_weights = self.model.get_weights()

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
    # shuffled remainder differs from epoch to epoch) and validates on the whole batches of the eval
    # split (the RankingEvaluator, which decides the push, always ranks every user).
    print(f"Training with {type(strategy).__name__} over {strategy.num_replicas_in_sync} replica(s)")
    whole_batches = strategy.num_replicas_in_sync > 1
    train_batches = _batched(train.shuffle(max(train_size, 1), seed=config.seed, reshuffle_each_iteration=True),
                             config.batch_size, boundaries, drop_remainder=whole_batches)
    eval_batches = _batched(_dataset(fn_args.eval_files, tf_transform_output, config.max_len).cache(),
                            config.batch_size, boundaries, drop_remainder=whole_batches)

    with strategy.scope():
        model = SASRec(num_items=num_items, max_len=config.max_len, num_blocks=config.num_blocks,
                       num_heads=config.num_heads, hidden_dim=config.hidden_dim, dropout=config.dropout,
                       l2_emb=config.l2_emb, loss=config.loss, num_negatives=config.num_negatives,
                       seed=config.seed)
        model.compile(optimizer=keras.optimizers.Adam(
            learning_rate=config.learning_rate, beta_1=config.beta_1, beta_2=config.beta_2))
    # The validation pass gives the loss and the eval split's ranking metrics (val_ndcg@10, ...).
    selection = BestEpochByRanking()
    history = model.fit(
        train_batches, validation_data=eval_batches, epochs=config.epochs, verbose=2,
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
