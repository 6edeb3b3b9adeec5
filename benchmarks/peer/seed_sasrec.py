"""The seed's Keras-RS SASRec, reproduced as a benchmark peer.

Source: the keras.io example "Retrieval using a Transformer-based sequential model [SasRec]"
(Abheesht Sharma, Fabien Hertschuh; shared/seed/keras_rs_sasrec_example.md): Keras 3 on the JAX
backend, keras-hub layers, keras-rs retrieval, tensorflow only for tf.data. The data preparation
(`read_data`, `get_movie_sequence_per_user`, `format_data`, `_preprocess`), the `SasRec` model
class, `compile` and `fit` are the notebook's code, kept as it is, with its quirks:

- negatives are drawn ONCE, with np.random, before training, and the same ones are reused every
  epoch;
- `_preprocess` pads every batch to MAX_CONTEXT_LENGTH + 1 with `to_tensor(shape=...)`, which
  also truncates a history longer than that to its OLDEST items;
- the dataset is not shuffled; the validation set is the training set's users again, with the loss
  on the last position only (cut off for sequences longer than MAX_CONTEXT_LENGTH + 1), and it runs
  inside `fit` every epoch, so it is part of the seed's epoch time;
- `_get_last_non_padding_token` counts the padding positions instead of the real ones, so the
  model's own `predictions` (used only in the validation pass here) read a padding position;
- MIN_SEQUENCE_LENGTH is defined in the seed but never applied (see the adaptations).
- the item embeddings declare an L2 regulariser (1e-3), but the model's `compute_loss` override
  returns the BCE alone, so Keras never adds the regularisation loss: the seed trains without it.

Hyper-parameters are the seed's (max length 200, min rating 2, batch 128, 10 epochs, Adam lr 1e-3
beta_2 0.98, 2 layers, 1 head, hidden 50, dropout 0.2); each can be overridden by a flag.

Adaptations (all needed to run it as a benchmark on our data; nothing else is changed):

1. Input. `--ratings PATH --format {ml-1m,ml-latest}` instead of downloading ML-1M: ml-1m is the
   seed's `UserID::MovieID::Rating::Timestamp` file read with the seed's pandas call; ml-latest is
   a `userId,movieId,rating,timestamp` CSV with a header. The seed's min-rating filter is applied
   first, as in the seed.
2. Item IDs. The seed sizes its embedding by the max MovieID in movies.dat and uses raw MovieIDs as
   indices. Without a movies file, and to avoid a 193k-row table for ml-latest (max movieId
   193609), item IDs are remapped to dense indices 1..N (0 = padding) in the sorted order of the raw
   IDs of the items left after the filters; `vocabulary_size = N + 1` as in the seed
   (`movies_count + 1`). Negatives are drawn from 1..N, as the seed draws from 1..movies_count.
3. Users with fewer than MIN_SEQUENCE_LENGTH = 3 items after the rating filter are dropped (the
   seed defines the constant but never applies it; our pipeline applies it, so both train on the
   same users).
4. Held-out ranking metric (not in the seed, which has no metric). The seed trains on
   `sequence[:-1]`, so each user's LAST item is never a training target: it is the held-out item.
   History = the most recent MAX_CONTEXT_LENGTH items before it (not the seed's oldest-items
   truncation, which would put the wrong item next), left-aligned and padded like the seed's
   batches. The trained encoder (the model's own layers, training=False) is read at the last REAL
   position (the seed's `_get_last_non_padding_token` reads a padding position, see above; the
   model's `predictions` are not used), every item 1..N is scored by dot product with the item
   embedding table, the history's items and the padding index are set to -inf, and the rank of
   the held-out item is the number of items scoring >= it (pessimistic ties, rank 1 = best; a
   held-out item already in the history is a miss). HR@10 = mean(rank <= 10),
   NDCG@10 = mean(1/log2(rank + 1) if rank <= 10 else 0). Batched numpy.
5. Measurement. A callback records each epoch's wall seconds (on_epoch_begin -> on_epoch_end,
   including the seed's validation pass) and, separately, the training part (on_epoch_begin ->
   on_test_begin, after blocking on the parameters so JAX's asynchronous dispatch cannot hide
   work). Results go to a JSON file (`--output`, written atomically). Seeds are fixed from
   `--seed` (np.random.seed and keras.utils.set_random_seed). `fit` prints one line per epoch
   (`--verbose 2`) instead of the notebook's progress bar (`--verbose 1` gives the bar).

Run: benchmarks/peer/.venv/bin/python benchmarks/peer/seed_sasrec.py \
         --ratings ratings.dat --format ml-1m --output result.json
"""
import os

os.environ["KERAS_BACKEND"] = "jax"  # `"tensorflow"`/`"torch"`  (as in the seed)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # quieter tensorflow (used for tf.data only)

import argparse
import collections
import json
import platform
import resource
import sys
import tempfile
import time

import keras
import keras_hub
import numpy as np
import pandas as pd
import tensorflow as tf  # Needed only for the dataset
from keras import ops

import keras_rs

# Data processing args (the seed's values; main() applies the command-line overrides).
MAX_CONTEXT_LENGTH = 200
MIN_SEQUENCE_LENGTH = 3
PAD_ITEM_ID = 0

RATINGS_DATA_COLUMNS = ["UserID", "MovieID", "Rating", "Timestamp"]
MIN_RATING = 2

# Training/model args picked from SASRec paper
BATCH_SIZE = 128
NUM_EPOCHS = 10
LEARNING_RATE = 0.001
BETA_2 = 0.98

NUM_LAYERS = 2
NUM_HEADS = 1
HIDDEN_DIM = 50
DROPOUT = 0.2

# Set by main() from the data: the number of items (the seed: max MovieID in movies.dat).
movies_count = None

# ---------------------------------------------------------------------------------------------
# Dataset (the seed's code; `read_data` adapted to a ratings path and format, see the docstring)
# ---------------------------------------------------------------------------------------------


def read_data(ratings_path, data_format, min_rating=None):
    """Read a ratings file into the seed's dataframe (UserID, MovieID, Rating, Timestamp)."""
    if data_format == "ml-1m":
        # The seed's call (engine="python" is what pandas falls back to for "::" anyway).
        ratings_df = pd.read_csv(
            ratings_path,
            sep="::",
            names=RATINGS_DATA_COLUMNS,
            encoding="unicode_escape",
            engine="python",
        )
    elif data_format == "ml-latest":
        ratings_df = pd.read_csv(ratings_path)
        ratings_df = ratings_df.rename(
            columns={"userId": "UserID", "movieId": "MovieID", "rating": "Rating", "timestamp": "Timestamp"}
        )[RATINGS_DATA_COLUMNS]
    else:
        raise ValueError(f"unknown format {data_format!r}")
    ratings_df["Timestamp"] = ratings_df["Timestamp"].apply(int)

    # Remove movies with `rating < min_rating`.
    if min_rating is not None:
        ratings_df = ratings_df[ratings_df["Rating"] >= min_rating]

    return ratings_df


def drop_short_users_and_remap_items(ratings_df, min_sequence_length):
    """Adaptations 2 and 3: drop users with < min_sequence_length items; items -> 1..N."""
    counts = ratings_df.groupby("UserID")["MovieID"].transform("size")
    ratings_df = ratings_df[counts >= min_sequence_length].copy()
    raw_ids = np.sort(ratings_df["MovieID"].unique())
    ratings_df["MovieID"] = np.searchsorted(raw_ids, ratings_df["MovieID"].to_numpy()) + 1
    return ratings_df, len(raw_ids)


def get_movie_sequence_per_user(ratings_df):
    """Get movieID sequences for every user."""
    sequences = collections.defaultdict(list)

    for user_id, movie_id, rating, timestamp in ratings_df.values:
        sequences[user_id].append(
            {
                "movie_id": movie_id,
                "timestamp": timestamp,
                "rating": rating,
            }
        )

    # Sort movie sequences by timestamp for every user.
    for user_id, context in sequences.items():
        context.sort(key=lambda x: x["timestamp"])
        sequences[user_id] = context

    return sequences


def format_data(sequences):
    examples = {
        "sequence": [],
        "negative_sequence": [],
    }

    for user_id in sequences:
        sequence = [int(d["movie_id"]) for d in sequences[user_id]]

        # Get negative sequence.
        def random_negative_item_id(low, high, positive_lst):
            sampled = np.random.randint(low=low, high=high)
            while sampled in positive_lst:
                sampled = np.random.randint(low=low, high=high)
            return sampled

        negative_sequence = [
            random_negative_item_id(1, movies_count + 1, sequence)
            for _ in range(len(sequence))
        ]

        examples["sequence"].append(np.array(sequence))
        examples["negative_sequence"].append(np.array(negative_sequence))

    examples["sequence"] = tf.ragged.constant(examples["sequence"])
    examples["negative_sequence"] = tf.ragged.constant(examples["negative_sequence"])

    return examples


def _preprocess(example, train=False):
    sequence = example["sequence"]
    negative_sequence = example["negative_sequence"]

    if train:
        sequence = example["sequence"][..., :-1]
        negative_sequence = example["negative_sequence"][..., :-1]

    batch_size = tf.shape(sequence)[0]

    if not train:
        # Loss computed only on last token.
        sample_weight = tf.zeros_like(sequence, dtype="float32")[..., :-1]
        sample_weight = tf.concat(
            [sample_weight, tf.ones((batch_size, 1), dtype="float32")], axis=1
        )

    # Truncate/pad sequence. +1 to account for truncation later.
    sequence = sequence.to_tensor(
        shape=[batch_size, MAX_CONTEXT_LENGTH + 1], default_value=PAD_ITEM_ID
    )
    negative_sequence = negative_sequence.to_tensor(
        shape=[batch_size, MAX_CONTEXT_LENGTH + 1], default_value=PAD_ITEM_ID
    )
    if train:
        sample_weight = tf.cast(sequence != PAD_ITEM_ID, dtype="float32")
    else:
        sample_weight = sample_weight.to_tensor(
            shape=[batch_size, MAX_CONTEXT_LENGTH + 1], default_value=0
        )

    example = (
        {
            # last token does not have a next token
            "item_ids": sequence[..., :-1],
            # padding mask for controlling attention mask
            "padding_mask": (sequence != PAD_ITEM_ID)[..., :-1],
        },
        {
            "positive_sequence": sequence[
                ..., 1:
            ],  # 0th token's label will be 1st token, and so on
            "negative_sequence": negative_sequence[..., 1:],
        },
        sample_weight[..., 1:],  # loss will not be computed on pad tokens
    )
    return example


def preprocess_train(examples):
    return _preprocess(examples, train=True)


def preprocess_val(examples):
    return _preprocess(examples, train=False)


# ---------------------------------------------------------------------------------------------
# Model (the seed's class, verbatim)
# ---------------------------------------------------------------------------------------------


class SasRec(keras.Model):
    def __init__(
        self,
        vocabulary_size,
        num_layers,
        num_heads,
        hidden_dim,
        dropout=0.0,
        max_sequence_length=100,
        dtype=None,
        **kwargs,
    ):
        super().__init__(dtype=dtype, **kwargs)

        # ======== Layers ========

        # === Embeddings ===
        self.item_embedding = keras_hub.layers.ReversibleEmbedding(
            input_dim=vocabulary_size,
            output_dim=hidden_dim,
            embeddings_initializer="glorot_uniform",
            embeddings_regularizer=keras.regularizers.l2(0.001),
            dtype=dtype,
            name="item_embedding",
        )
        self.position_embedding = keras_hub.layers.PositionEmbedding(
            initializer="glorot_uniform",
            sequence_length=max_sequence_length,
            dtype=dtype,
            name="position_embedding",
        )
        self.embeddings_add = keras.layers.Add(
            dtype=dtype,
            name="embeddings_add",
        )
        self.embeddings_dropout = keras.layers.Dropout(
            dropout,
            dtype=dtype,
            name="embeddings_dropout",
        )

        # === Decoder layers ===
        self.transformer_layers = []
        for i in range(num_layers):
            self.transformer_layers.append(
                keras_hub.layers.TransformerDecoder(
                    intermediate_dim=hidden_dim,
                    num_heads=num_heads,
                    dropout=dropout,
                    layer_norm_epsilon=1e-05,
                    # SASRec uses ReLU, although GeLU might be a better option
                    activation="relu",
                    kernel_initializer="glorot_uniform",
                    normalize_first=True,
                    dtype=dtype,
                    name=f"transformer_layer_{i}",
                )
            )

        # === Final layer norm ===
        self.layer_norm = keras.layers.LayerNormalization(
            axis=-1,
            epsilon=1e-8,
            dtype=dtype,
            name="layer_norm",
        )

        # === Retrieval ===
        # The layer that performs the retrieval.
        self.retrieval = keras_rs.layers.BruteForceRetrieval(k=10, return_scores=False)

        # === Loss ===
        self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True, reduction=None)

        # === Attributes ===
        self.vocabulary_size = vocabulary_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.dropout = dropout
        self.max_sequence_length = max_sequence_length

    def _get_last_non_padding_token(self, tensor, padding_mask):
        valid_token_mask = ops.logical_not(padding_mask)
        seq_lengths = ops.sum(ops.cast(valid_token_mask, "int32"), axis=1)
        last_token_indices = ops.maximum(seq_lengths - 1, 0)

        indices = ops.expand_dims(last_token_indices, axis=(-2, -1))
        gathered_tokens = ops.take_along_axis(tensor, indices, axis=1)
        last_token_embedding = ops.squeeze(gathered_tokens, axis=1)

        return last_token_embedding

    def build(self, input_shape):
        embedding_shape = list(input_shape) + [self.hidden_dim]

        # Model
        self.item_embedding.build(input_shape)
        self.position_embedding.build(embedding_shape)

        self.embeddings_add.build((embedding_shape, embedding_shape))
        self.embeddings_dropout.build(embedding_shape)

        for transformer_layer in self.transformer_layers:
            transformer_layer.build(decoder_sequence_shape=embedding_shape)

        self.layer_norm.build(embedding_shape)

        # Retrieval
        self.retrieval.candidate_embeddings = self.item_embedding.embeddings
        self.retrieval.build(input_shape)

        # Chain to super
        super().build(input_shape)

    def call(self, inputs, training=False):
        item_ids, padding_mask = inputs["item_ids"], inputs["padding_mask"]

        x = self.item_embedding(item_ids)
        position_embedding = self.position_embedding(x)
        x = self.embeddings_add((x, position_embedding))
        x = self.embeddings_dropout(x)

        for transformer_layer in self.transformer_layers:
            x = transformer_layer(x, decoder_padding_mask=padding_mask)

        item_sequence_embedding = self.layer_norm(x)
        result = {"item_sequence_embedding": item_sequence_embedding}

        # At inference, perform top-k retrieval.
        if not training:
            # need to extract last non-padding token.
            last_item_embedding = self._get_last_non_padding_token(
                item_sequence_embedding, padding_mask
            )
            result["predictions"] = self.retrieval(last_item_embedding)

        return result

    def compute_loss(self, x, y, y_pred, sample_weight, training=False):
        item_sequence_embedding = y_pred["item_sequence_embedding"]
        y_positive_sequence = y["positive_sequence"]
        y_negative_sequence = y["negative_sequence"]

        # Embed positive, negative sequences.
        positive_sequence_embedding = self.item_embedding(y_positive_sequence)
        negative_sequence_embedding = self.item_embedding(y_negative_sequence)

        # Logits
        positive_logits = ops.sum(
            ops.multiply(positive_sequence_embedding, item_sequence_embedding),
            axis=-1,
        )
        negative_logits = ops.sum(
            ops.multiply(negative_sequence_embedding, item_sequence_embedding),
            axis=-1,
        )
        logits = ops.concatenate([positive_logits, negative_logits], axis=1)

        # Labels
        labels = ops.concatenate(
            [
                ops.ones_like(positive_logits),
                ops.zeros_like(negative_logits),
            ],
            axis=1,
        )

        # sample weights
        sample_weight = ops.concatenate(
            [sample_weight, sample_weight],
            axis=1,
        )

        loss = self.loss_fn(
            y_true=ops.expand_dims(labels, axis=-1),
            y_pred=ops.expand_dims(logits, axis=-1),
            sample_weight=sample_weight,
        )
        loss = ops.divide_no_nan(ops.sum(loss), ops.sum(sample_weight))

        return loss

    def compute_output_shape(self, inputs_shape):
        return list(inputs_shape) + [self.hidden_dim]


# ---------------------------------------------------------------------------------------------
# Measurement (adaptations 4 and 5)
# ---------------------------------------------------------------------------------------------


def _block_on_parameters(model):
    """Waits until every parameter update JAX has queued is done (async dispatch)."""
    import jax

    jax.block_until_ready([v.value for v in model.trainable_variables])


class EpochTimer(keras.callbacks.Callback):
    """Wall seconds per epoch (whole epoch, and its training part before the validation pass)."""

    def __init__(self):
        super().__init__()
        self.epoch_seconds = []
        self.train_seconds = []
        self.history = []
        self._begin = None
        self._train_end = None

    def on_epoch_begin(self, epoch, logs=None):
        self._train_end = None
        self._begin = time.perf_counter()

    def on_test_begin(self, logs=None):
        if self._begin is not None and self._train_end is None:  # the validation pass inside fit
            _block_on_parameters(self.model)
            self._train_end = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = {name: float(value) for name, value in (logs or {}).items()}  # blocks on results
        _block_on_parameters(self.model)
        end = time.perf_counter()
        self.epoch_seconds.append(end - self._begin)
        self.train_seconds.append((self._train_end or end) - self._begin)
        self.history.append(logs)
        self._begin = None


def held_out_histories(sequences, max_len):
    """[users, max_len] left-aligned recent histories (0-padded), their lengths, the held-out items."""
    users = list(sequences)
    histories = np.zeros((len(users), max_len), dtype=np.int32)
    lengths = np.zeros(len(users), dtype=np.int64)
    targets = np.zeros(len(users), dtype=np.int64)
    for row, user_id in enumerate(users):
        sequence = [int(d["movie_id"]) for d in sequences[user_id]]
        history = sequence[:-1][-max_len:]
        histories[row, : len(history)] = history
        lengths[row] = len(history)
        targets[row] = sequence[-1]
    return histories, lengths, targets


def held_out_ranks(model, histories, lengths, targets, batch_size=256):
    """1-based pessimistic ranks of each held-out item among all items, the history excluded."""
    item_table = ops.convert_to_numpy(model.item_embedding.embeddings).astype(np.float32)  # [N+1, H]
    ranks = np.empty(len(targets), dtype=np.float64)
    for start in range(0, len(targets), batch_size):
        ids = histories[start : start + batch_size]
        rows = np.arange(len(ids))
        out = model({"item_ids": ids, "padding_mask": ids != PAD_ITEM_ID}, training=False)
        sequence_embedding = ops.convert_to_numpy(out["item_sequence_embedding"])  # [b, L, H]
        last = sequence_embedding[rows, lengths[start : start + batch_size] - 1]  # last REAL position
        scores = last @ item_table.T  # [b, N+1]
        scores[:, PAD_ITEM_ID] = -np.inf
        np.put_along_axis(scores, ids.astype(np.int64), -np.inf, axis=1)  # history (and padding 0)
        target = targets[start : start + batch_size]
        target_scores = scores[rows, target]
        rank = (scores >= target_scores[:, None]).sum(axis=1).astype(np.float64)
        ranks[start : start + len(ids)] = np.where(np.isneginf(target_scores), np.inf, rank)
    return ranks


def ranking_metrics(ranks, k=10):
    hit = ranks <= k
    return {
        f"hr_at_{k}": float(hit.mean()),
        f"ndcg_at_{k}": float(np.where(hit, 1.0 / np.log2(np.minimum(ranks, 1e12) + 1.0), 0.0).mean()),
    }


def versions():
    import jax
    import jaxlib

    return {
        "python": platform.python_version(),
        "keras": keras.__version__,
        "keras_hub": keras_hub.__version__,
        "keras_rs": keras_rs.__version__,
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "tensorflow": tf.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "backend": keras.backend.backend(),
    }


def write_json_atomically(path, payload):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(payload, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--ratings", required=True, help="ratings file")
    p.add_argument("--format", choices=["ml-1m", "ml-latest"], default="ml-1m",
                   help="ml-1m: UserID::MovieID::Rating::Timestamp; ml-latest: userId,movieId,rating,timestamp CSV")
    p.add_argument("--output", help="JSON results file (written atomically)")
    p.add_argument("--epochs", type=int, default=NUM_EPOCHS)
    p.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    p.add_argument("--max-len", type=int, default=MAX_CONTEXT_LENGTH, help="MAX_CONTEXT_LENGTH")
    p.add_argument("--min-rating", type=float, default=MIN_RATING)
    p.add_argument("--min-sequence-length", type=int, default=MIN_SEQUENCE_LENGTH)
    p.add_argument("--learning-rate", "--lr", type=float, default=LEARNING_RATE)
    p.add_argument("--beta-2", type=float, default=BETA_2)
    p.add_argument("--num-layers", type=int, default=NUM_LAYERS)
    p.add_argument("--num-heads", type=int, default=NUM_HEADS)
    p.add_argument("--hidden-dim", type=int, default=HIDDEN_DIM)
    p.add_argument("--dropout", type=float, default=DROPOUT)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--eval-batch-size", type=int, default=256)
    p.add_argument("--verbose", type=int, default=2, choices=[0, 1, 2], help="model.fit verbosity")
    return p.parse_args(argv)


def main(argv=None):
    global MAX_CONTEXT_LENGTH, movies_count
    args = parse_args(argv)
    t_start = time.perf_counter()
    MAX_CONTEXT_LENGTH = args.max_len

    np.random.seed(args.seed)
    keras.utils.set_random_seed(args.seed)

    # ---- Data (the seed's pipeline) ----
    t0 = time.perf_counter()
    ratings_df = read_data(args.ratings, args.format, min_rating=args.min_rating)
    ratings_df, movies_count = drop_short_users_and_remap_items(ratings_df, args.min_sequence_length)
    sequences = get_movie_sequence_per_user(ratings_df)
    examples = format_data(sequences)
    ds = tf.data.Dataset.from_tensor_slices(examples).batch(args.batch_size)
    train_ds = ds.map(preprocess_train)
    val_ds = ds.map(preprocess_val)
    preprocess_seconds = time.perf_counter() - t0
    num_users = len(sequences)
    print(f"data: {len(ratings_df)} ratings, {num_users} users, {movies_count} items "
          f"({preprocess_seconds:.1f}s)", flush=True)

    # ---- Model (the seed's construction, sanity calls, compile and fit) ----
    model = SasRec(
        vocabulary_size=movies_count + 1,
        num_layers=args.num_layers,
        num_heads=args.num_heads,
        hidden_dim=args.hidden_dim,
        dropout=args.dropout,
        max_sequence_length=MAX_CONTEXT_LENGTH,
    )
    # Training
    output = model(
        inputs={
            "item_ids": ops.ones((2, MAX_CONTEXT_LENGTH), dtype="int32"),
            "padding_mask": ops.ones((2, MAX_CONTEXT_LENGTH), dtype="bool"),
        },
        training=True,
    )
    print(output["item_sequence_embedding"].shape)
    # Inference
    output = model(
        inputs={
            "item_ids": ops.ones((2, MAX_CONTEXT_LENGTH), dtype="int32"),
            "padding_mask": ops.ones((2, MAX_CONTEXT_LENGTH), dtype="bool"),
        },
        training=False,
    )
    print(output["predictions"].shape)

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=args.learning_rate, beta_2=args.beta_2),
    )
    timer = EpochTimer()
    t0 = time.perf_counter()
    model.fit(
        x=train_ds,
        validation_data=val_ds,
        epochs=args.epochs,
        callbacks=[timer],
        verbose=args.verbose,
    )
    fit_seconds = time.perf_counter() - t0

    # ---- Held-out last item (adaptation 4) ----
    t0 = time.perf_counter()
    histories, lengths, targets = held_out_histories(sequences, MAX_CONTEXT_LENGTH)
    ranks = held_out_ranks(model, histories, lengths, targets, batch_size=args.eval_batch_size)
    metrics = ranking_metrics(ranks, k=10)
    eval_seconds = time.perf_counter() - t0

    epoch_seconds = timer.epoch_seconds
    steady = epoch_seconds[1:] if len(epoch_seconds) > 1 else epoch_seconds
    steady_train = timer.train_seconds[1:] if len(timer.train_seconds) > 1 else timer.train_seconds
    median_epoch = float(np.median(steady)) if steady else float("nan")
    median_train = float(np.median(steady_train)) if steady_train else float("nan")
    result = {
        "peer": "keras-rs SASRec (keras.io example), seed_sasrec.py",
        "dataset": os.path.abspath(args.ratings),
        "format": args.format,
        "num_ratings": int(len(ratings_df)),
        "num_users": int(num_users),
        "num_items": int(movies_count),
        "num_train_sequences": int(num_users),
        "epochs": int(args.epochs),
        "epoch_seconds": [round(s, 4) for s in epoch_seconds],
        "epoch_train_seconds": [round(s, 4) for s in timer.train_seconds],
        "median_epoch_seconds": median_epoch,
        "median_epoch_train_seconds": median_train,
        "median_excludes_first_epoch": len(epoch_seconds) > 1,
        "sequences_per_second": num_users / median_epoch if median_epoch > 0 else None,
        "train_sequences_per_second": num_users / median_train if median_train > 0 else None,
        "preprocess_seconds": preprocess_seconds,
        "fit_seconds": fit_seconds,
        "eval_seconds": eval_seconds,
        "eval_users": int(len(ranks)),
        "hr_at_10": metrics["hr_at_10"],
        "ndcg_at_10": metrics["ndcg_at_10"],
        "random_hr_at_10": 10.0 / movies_count,
        "loss_history": timer.history,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "total_seconds": time.perf_counter() - t_start,
        "versions": versions(),
        "seed": args.seed,
        "config": {
            "max_context_length": MAX_CONTEXT_LENGTH,
            "min_rating": args.min_rating,
            "min_sequence_length": args.min_sequence_length,
            "batch_size": args.batch_size,
            "epochs": args.epochs,
            "learning_rate": args.learning_rate,
            "beta_2": args.beta_2,
            "num_layers": args.num_layers,
            "num_heads": args.num_heads,
            "hidden_dim": args.hidden_dim,
            "dropout": args.dropout,
            "seed": args.seed,
        },
    }
    summary = {k: result[k] for k in ("num_users", "num_items", "median_epoch_seconds", "sequences_per_second",
                                      "hr_at_10", "ndcg_at_10", "random_hr_at_10", "peak_rss_mb",
                                      "total_seconds")}
    print(json.dumps(summary), flush=True)
    if args.output:
        write_json_atomically(args.output, result)
        print(f"wrote {args.output}", flush=True)
    return result


if __name__ == "__main__":
    main()
    sys.exit(0)
