"""SASRec (Kang & McAuley, 2018) in tf-keras, plus the in-graph ranking helpers used to evaluate it.

The architecture follows the Keras-RS SASRec example (item embedding + learned position embedding,
pre-LayerNorm causal transformer blocks, a final LayerNorm, scores against the shared item table),
rewritten for Keras 2 (`tf_keras`) and with two of that example's bugs fixed:

* the sequence embedding used for retrieval is read at each row's *last real item* (the example
  inverted the padding mask and read a padding position);
* negatives are drawn in-graph for every batch (the example drew them once, before training, and
  reused them in every epoch).

Index layout (fixed by the Transform step): 0 is padding, 1..num_items are real items and
num_items + 1 is the out-of-vocabulary (OOV) bucket, so the item table has `num_items + 2` rows.
Histories are right-padded with 0 (oldest item first, padding last) and a batch is padded only to its
own longest row, so every layer here works with a dynamic length `L <= max_len`.
"""
from __future__ import annotations

import math
import numbers
import random
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import sasrec  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

import tensorflow as tf
import tf_keras as keras

from sasrec.config import LOSSES  # ("bce", "sampled_softmax")

_MAX_REPLICAS = 1 << 16  # replica IDs below this keep the stateless sampler's keys distinct

PAD_ID = 0
RANKING_CUTOFFS = (1, 5, 10, 20)  # the K of the HR@K / NDCG@K that `evaluate` reports

# Logit given to a negative that must not count (it is in the row's history).
_MASKED_LOGIT = -1e9


def _no_autograph(fn: Any) -> Any:
    """Keeps AutoGraph out of `fn` and of the Keras layers it calls.

    tf_keras is not on AutoGraph's do-not-convert list (`keras` is), so a traced function reaching
    Keras code through ours would convert all of tf_keras' internals: seconds per trace (`fit`'s
    train function, serving signatures). Nothing here branches on tensor values, so opting out is
    safe. `make_decorator` keeps `fn`'s signature visible to Keras, which inspects `call`.
    """
    return tf.__internal__.decorator.make_decorator(fn, tf.autograph.experimental.do_not_convert(fn))


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value!r}")


def _check_rate(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value < 1.0:
        raise ValueError(f"`{name}` must be a number in [0, 1), got {value!r}")


# ---------------------------------------------------------------------------------------------------
# Layers
# ---------------------------------------------------------------------------------------------------


@keras.utils.register_keras_serializable(package="sasrec")
class PositionEmbedding(keras.layers.Layer):
    """Learned absolute position embeddings for positions `0..L-1`, `L <= max_length`.

    Like `keras_hub.layers.PositionEmbedding`, the layer returns the position embeddings (broadcast
    to the input's shape), not their sum with the input; the caller adds them. The sequence length
    is read from the input at call time, so a batch padded to its own longest row is fine; a length
    above `max_length` is an error.

    Args:
        max_length: the longest sequence the layer accepts (rows of the table).
        initializer: initializer of the `[max_length, hidden_dim]` table.
        **kwargs: standard layer arguments (`name`, `dtype`, ...).

    Example:
    >>> layer = PositionEmbedding(max_length=10)
    >>> x = tf.zeros([2, 4, 8])
    >>> (x + layer(x)).shape
    TensorShape([2, 4, 8])
    """

    def __init__(self, max_length: int, initializer: Any = "glorot_uniform", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _check_int("max_length", max_length, 1)
        self.max_length = max_length
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape: Any) -> None:
        input_shape = tf.TensorShape(input_shape)
        if input_shape.rank is None or input_shape.rank < 2 or input_shape[-1] is None:
            raise ValueError(
                f"PositionEmbedding expects inputs [batch, length, hidden] with a known hidden size, "
                f"got shape {input_shape}")
        if input_shape[-2] is not None and input_shape[-2] > self.max_length:
            raise ValueError(f"sequence length {input_shape[-2]} exceeds max_length {self.max_length}")
        self.position_embeddings = self.add_weight(
            name="embeddings",
            shape=[self.max_length, int(input_shape[-1])],
            initializer=self.initializer,
            trainable=True,
        )
        super().build(input_shape)

    @_no_autograph
    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        length = tf.shape(inputs)[-2]
        check = tf.debugging.assert_less_equal(
            length, self.max_length, message="sequence length exceeds PositionEmbedding.max_length")
        with tf.control_dependencies([check]):
            positions = self.position_embeddings[:length]
        return tf.broadcast_to(tf.cast(positions, self.compute_dtype), tf.shape(inputs))

    def compute_output_shape(self, input_shape: Any) -> tf.TensorShape:
        return tf.TensorShape(input_shape)

    def get_config(self) -> Dict[str, Any]:
        config = super().get_config()
        config.update({
            "max_length": self.max_length,
            "initializer": keras.initializers.serialize(self.initializer),
        })
        return config


@keras.utils.register_keras_serializable(package="sasrec")
class TransformerBlock(keras.layers.Layer):
    """A pre-LayerNorm causal self-attention block, as in SASRec.

    `x = x + Dropout(MHA(LN(x)))` with a causal, key-padding attention mask, then
    `x = x + Dropout(Dense(Dropout(Dense_relu(LN(x)))))` (SASRec's point-wise feed-forward, both
    layers of width `hidden_dim`). The attention mask is `causal AND key-is-not-padding`, OR the
    diagonal: every query may attend to itself, so a padded query (whose keys are all masked, e.g.
    in an all-padding row) still has a well-defined softmax instead of a NaN or a meaningless
    uniform average. Outputs at padded positions are therefore finite but meaningless; the model
    zeroes them.

    Args:
        hidden_dim: width of the input, the attention output and the feed-forward layers.
        num_heads: attention heads; `hidden_dim` must be divisible by it.
        dropout: dropout rate of the attention probabilities, the attention output and the
            feed-forward layers.
        layer_norm_epsilon: epsilon of the two LayerNormalizations.
        kernel_initializer: initializer of the attention and feed-forward kernels.
        **kwargs: standard layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: float `[batch, length, hidden_dim]`.
        padding_mask: bool or 0/1 `[batch, length]`, true at real items. Defaults to the input's
            Keras mask, else to no padding.
        training: whether dropout is on.

    Example:
    >>> block = TransformerBlock(hidden_dim=8, num_heads=2, dropout=0.1)
    >>> x = tf.random.normal([2, 5, 8])
    >>> mask = tf.constant([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]) > 0
    >>> block(x, padding_mask=mask).shape
    TensorShape([2, 5, 8])
    """

    def __init__(
        self,
        hidden_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        layer_norm_epsilon: float = 1e-5,
        kernel_initializer: Any = "glorot_uniform",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        _check_int("hidden_dim", hidden_dim, 1)
        _check_int("num_heads", num_heads, 1)
        if hidden_dim % num_heads:
            raise ValueError(f"`hidden_dim` ({hidden_dim}) must be divisible by `num_heads` ({num_heads})")
        _check_rate("dropout", dropout)
        if not layer_norm_epsilon > 0:
            raise ValueError(f"`layer_norm_epsilon` must be > 0, got {layer_norm_epsilon!r}")
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.supports_masking = True

        def initializer() -> Any:
            # A fresh instance per sublayer: a reused seeded initializer would repeat its values.
            return keras.initializers.get(keras.initializers.serialize(self.kernel_initializer))

        self._attention_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="attention_norm")
        self._attention = keras.layers.MultiHeadAttention(
            num_heads=num_heads,
            key_dim=hidden_dim // num_heads,
            dropout=dropout,
            kernel_initializer=initializer(),
            dtype=self.dtype_policy,
            name="attention",
        )
        self._attention_dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy,
                                                       name="attention_dropout")
        self._feedforward_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="feedforward_norm")
        self._feedforward_inner = keras.layers.Dense(
            hidden_dim, activation="relu", kernel_initializer=initializer(), dtype=self.dtype_policy,
            name="feedforward_inner")
        self._feedforward_inner_dropout = keras.layers.Dropout(
            dropout, dtype=self.dtype_policy, name="feedforward_inner_dropout")
        self._feedforward_output = keras.layers.Dense(
            hidden_dim, kernel_initializer=initializer(), dtype=self.dtype_policy,
            name="feedforward_output")
        self._feedforward_dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy,
                                                         name="feedforward_dropout")

    def build(self, input_shape: Any) -> None:
        input_shape = tf.TensorShape(input_shape)
        if input_shape.rank != 3 or input_shape[-1] != self.hidden_dim:
            raise ValueError(
                f"TransformerBlock expects inputs [batch, length, {self.hidden_dim}], got {input_shape}")
        super().build(input_shape)

    @staticmethod
    def attention_mask(padding_mask: tf.Tensor) -> tf.Tensor:
        """`[B, L]` padding mask (true at real items) -> bool `[B, L, L]` (query, key) mask."""
        padding_mask = tf.cast(padding_mask, tf.bool)
        length = tf.shape(padding_mask)[1]
        ones = tf.ones([length, length], tf.int32)
        causal = tf.cast(tf.linalg.band_part(ones, -1, 0), tf.bool)
        diagonal = tf.cast(tf.linalg.band_part(ones, 0, 0), tf.bool)
        allowed = tf.logical_and(causal[tf.newaxis], padding_mask[:, tf.newaxis, :])
        return tf.logical_or(allowed, diagonal[tf.newaxis])

    @_no_autograph
    def call(
        self,
        inputs: tf.Tensor,
        padding_mask: Optional[tf.Tensor] = None,
        training: Optional[bool] = None,
        mask: Optional[tf.Tensor] = None,
    ) -> tf.Tensor:
        if padding_mask is None:
            padding_mask = mask
        if padding_mask is None:
            padding_mask = tf.ones(tf.shape(inputs)[:2], tf.bool)
        attention_mask = self.attention_mask(padding_mask)

        # tf.identity drops any Keras mask riding on the tensor: MultiHeadAttention would otherwise AND
        # it in as a query mask and fully mask padded queries, defeating the diagonal above.
        normed = tf.identity(self._attention_norm(inputs))
        attended = self._attention(
            query=normed, value=normed, key=normed, attention_mask=attention_mask, training=training)
        x = inputs + self._attention_dropout(attended, training=training)

        normed = self._feedforward_norm(x)
        hidden = self._feedforward_inner(normed)
        hidden = self._feedforward_inner_dropout(hidden, training=training)
        hidden = self._feedforward_output(hidden)
        return x + self._feedforward_dropout(hidden, training=training)

    @_no_autograph
    def output_at(self, inputs: tf.Tensor, positions: tf.Tensor, padding_mask: tf.Tensor) -> tf.Tensor:
        """`call(inputs, padding_mask)[b, positions[b]]` at inference (no dropout), as `[B, 1, hidden_dim]`,
        computing only those queries: the keys and values are still every allowed position."""
        padding_mask = tf.cast(padding_mask, tf.bool)
        positions = tf.cast(positions, tf.int32)
        normed = tf.identity(self._attention_norm(inputs))
        query = tf.gather(normed, positions, axis=1, batch_dims=1)[:, tf.newaxis, :]
        keys = tf.range(tf.shape(inputs)[1])[tf.newaxis, :]
        allowed = tf.logical_or(tf.logical_and(keys <= positions[:, tf.newaxis], padding_mask),
                                tf.equal(keys, positions[:, tf.newaxis]))  # the mask of `call`, one row
        attended = self._attention(query=query, value=normed, key=normed,
                                   attention_mask=allowed[:, tf.newaxis, :], training=False)
        x = tf.gather(inputs, positions, axis=1, batch_dims=1)[:, tf.newaxis, :] + attended
        hidden = self._feedforward_output(self._feedforward_inner(self._feedforward_norm(x)))
        return x + hidden

    def compute_mask(self, inputs: tf.Tensor, mask: Optional[tf.Tensor] = None) -> Optional[tf.Tensor]:
        return mask

    def compute_output_shape(self, input_shape: Any) -> tf.TensorShape:
        return tf.TensorShape(input_shape)

    def get_config(self) -> Dict[str, Any]:
        config = super().get_config()
        config.update({
            "hidden_dim": self.hidden_dim,
            "num_heads": self.num_heads,
            "dropout": self.dropout,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        })
        return config


# ---------------------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------------------


@keras.utils.register_keras_serializable(package="sasrec")
class SASRec(keras.Model):
    """Self-attentive sequential recommendation (SASRec) with in-graph negative sampling.

    `call(item_ids)` maps right-padded item histories `[B, L]` to sequence embeddings `[B, L, H]`;
    position `t` only sees items `0..t`, and padded positions are zero. The embedding at position `t`
    scores the next item by a dot product with the (shared) item embedding table, see `item_scores`.

    Training (`fit`) reads batches `{"input_ids": [B, L], "target_ids": [B, L]}` where
    `target_ids[b, t]` is the item after `input_ids[b, t]` and both are 0 at padding. Two losses:

    * `"bce"` (the paper's): at every position with a real input and a real (non-OOV) target, binary
      cross-entropy of the target's logit against 1 and of one fresh uniform negative's logit
      against 0, summed and averaged over those positions;
    * `"sampled_softmax"`: at every such position, softmax cross-entropy of the target against
      `num_negatives` uniform negatives shared by the batch.

    Negatives are drawn from `[1, num_items]` for every batch, away from the row's items (the union
    of its inputs and targets); see `sample_negatives`. The total loss adds the L2 regularisation of
    the item embeddings (`l2_emb * sum(table ** 2)`, as in the Keras-RS example); that total is
    what `fit`/`evaluate` report as "loss". `evaluate` (and `fit`'s validation pass) also reports,
    from the same forward pass, full-ranking HR@K / NDCG@K (K in `RANKING_CUTOFFS`) of each row's
    last target, the row's inputs excluded. As in the paper, input item embeddings are scaled by
    `sqrt(hidden_dim)` before the position embeddings are added (scores use the unscaled table).

    Args:
        num_items: number of real items; the item table has `num_items + 2` rows (pad, items, OOV).
        max_len: the longest history the model reads (rows of the position table).
        num_blocks: transformer blocks.
        num_heads: attention heads per block; must divide `hidden_dim`.
        hidden_dim: embedding and hidden size.
        dropout: dropout rate (embeddings, attention, feed-forward).
        l2_emb: L2 regularisation factor of the item embedding table.
        loss: `"bce"` or `"sampled_softmax"`.
        num_negatives: negatives per batch for `"sampled_softmax"` (`"bce"` draws one per position).
        seed: seed of the negative sampler (weight initialisation follows Keras' global seed,
            `keras.utils.set_random_seed`). `None`: non-deterministic.
        **kwargs: standard model arguments (`name`, ...).

    Example:
    >>> model = SASRec(num_items=20, max_len=12, hidden_dim=8, num_blocks=1)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> ids = tf.constant([[3, 4, 5, 0], [7, 8, 9, 10]])
    >>> targets = tf.constant([[4, 5, 6, 0], [8, 9, 10, 11]])
    >>> history = model.fit(
    ...     tf.data.Dataset.from_tensors({"input_ids": ids, "target_ids": targets}), verbose=0)
    >>> query = model.last_item_embedding(model(ids), ids)   # [2, 8], at items 5 and 10
    >>> model.item_scores(query).shape                       # [2, num_items + 2]
    TensorShape([2, 22])
    """

    def __init__(
        self,
        num_items: int,
        max_len: int = 200,
        num_blocks: int = 2,
        num_heads: int = 1,
        hidden_dim: int = 50,
        dropout: float = 0.2,
        l2_emb: float = 1e-3,
        loss: str = "bce",
        num_negatives: int = 100,
        seed: Optional[int] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        _check_int("num_items", num_items, 1)
        _check_int("max_len", max_len, 1)
        _check_int("num_blocks", num_blocks, 1)
        _check_int("num_heads", num_heads, 1)
        _check_int("hidden_dim", hidden_dim, 1)
        if hidden_dim % num_heads:
            raise ValueError(f"`hidden_dim` ({hidden_dim}) must be divisible by `num_heads` ({num_heads})")
        _check_rate("dropout", dropout)
        if isinstance(l2_emb, bool) or not isinstance(l2_emb, numbers.Real) or l2_emb < 0:
            raise ValueError(f"`l2_emb` must be a number >= 0, got {l2_emb!r}")
        if loss not in LOSSES:
            raise ValueError(f"`loss` must be one of {LOSSES}, got {loss!r}")
        _check_int("num_negatives", num_negatives, 1)
        if seed is not None:
            _check_int("seed", seed, 0)

        self.num_items = int(num_items)
        self.vocab_size = self.num_items + 2
        self.oov_id = self.num_items + 1
        self.max_len = int(max_len)
        self.num_blocks = int(num_blocks)
        self.num_heads = int(num_heads)
        self.hidden_dim = int(hidden_dim)
        self.dropout = float(dropout)
        self.l2_emb = float(l2_emb)
        self.loss_name = loss
        self.num_negatives = int(num_negatives)
        self.seed = None if seed is None else int(seed)

        self.item_embedding = keras.layers.Embedding(
            input_dim=self.vocab_size,
            output_dim=hidden_dim,
            embeddings_initializer="glorot_uniform",
            embeddings_regularizer=keras.regularizers.l2(self.l2_emb) if self.l2_emb else None,
            mask_zero=True,
            name="item_embedding",
        )
        self.position_embedding = PositionEmbedding(max_len, name="position_embedding")
        self.embedding_dropout = keras.layers.Dropout(dropout, name="embedding_dropout")
        self.transformer_blocks = [
            TransformerBlock(hidden_dim, num_heads, dropout, name=f"transformer_block_{i}")
            for i in range(num_blocks)
        ]
        self.final_norm = keras.layers.LayerNormalization(epsilon=1e-8, name="final_norm")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.ranking_trackers = {f"{name}@{k}": keras.metrics.Mean(name=f"{name}@{k}")
                                 for k in RANKING_CUTOFFS for name in ("hr", "ndcg")}
        # Negatives come from stateless draws keyed by (seed, draw counter, replica), so every batch
        # and epoch gets fresh ones, runs are reproducible, and replicas of a tf.distribute
        # strategy draw independently (tf.random.Generator mis-sizes draws across replicas).
        self._sampler_seed = self.seed if seed is not None else random.SystemRandom().randrange(2 ** 31)
        self._draw_counter = tf.Variable(
            0, dtype=tf.int64, trainable=False, name="negative_draws",
            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)

    # --- forward -------------------------------------------------------------------------------

    @_no_autograph
    def call(self, item_ids: tf.Tensor, training: Optional[bool] = False) -> tf.Tensor:
        """Right-padded item ids int `[B, L]` -> sequence embeddings `[B, L, hidden_dim]`.

        Position `t` depends only on items `0..t`; padded positions are zero.
        """
        item_ids = tf.convert_to_tensor(item_ids)
        x, padding_mask = self._embed(item_ids, training)
        for block in self.transformer_blocks:
            x = block(x, padding_mask=padding_mask, training=training)
        return self.final_norm(x) * tf.cast(padding_mask, x.dtype)[..., tf.newaxis]

    def _embed(self, item_ids: tf.Tensor, training: Optional[bool]) -> Tuple[tf.Tensor, tf.Tensor]:
        """The first block's input `[B, L, H]` (zero at padding) and the padding mask (true at items)."""
        padding_mask = self.item_embedding.compute_mask(item_ids)
        x = self.item_embedding(item_ids) * tf.cast(math.sqrt(self.hidden_dim), self.compute_dtype)
        x = x + self.position_embedding(x)
        return self.embedding_dropout(x, training=training) * tf.cast(padding_mask, x.dtype)[..., tf.newaxis], \
            padding_mask

    @_no_autograph
    def last_item_query(self, item_ids: tf.Tensor) -> tf.Tensor:
        """`[B, L]` -> `[B, H]`: `last_item_embedding(self(item_ids), item_ids)` at inference, with
        the last block computed at each row's last real item only (serving needs no other position:
        about half the work of the full forward pass)."""
        item_ids = tf.convert_to_tensor(item_ids)
        x, padding_mask = self._embed(item_ids, training=False)
        for block in self.transformer_blocks[:-1]:
            x = block(x, padding_mask=padding_mask, training=False)
        last = last_item_position(item_ids)
        query = self.final_norm(self.transformer_blocks[-1].output_at(x, tf.maximum(last, 0), padding_mask))[:, 0]
        return query * tf.cast(last >= 0, query.dtype)[:, tf.newaxis]

    @staticmethod
    @_no_autograph
    def last_item_embedding(sequence_embeddings: tf.Tensor, item_ids: tf.Tensor) -> tf.Tensor:
        """`[B, L, H]`, `[B, L]` -> `[B, H]`: each row's embedding at its last real (non-zero) item.

        For a right-padded row this is position `count_nonzero - 1`; a row without any real item
        gives zeros.
        """
        last = last_item_position(item_ids)
        gathered = tf.gather(sequence_embeddings, tf.maximum(last, 0), axis=1, batch_dims=1)
        return gathered * tf.cast(last >= 0, gathered.dtype)[:, tf.newaxis]

    @_no_autograph
    def item_scores(self, query: tf.Tensor) -> tf.Tensor:
        """`[..., H]` -> `[..., num_items + 2]`: dot products with every row of the item table.

        Columns 0 (pad) and `num_items + 1` (OOV) are included; mask them (`exclusion_mask`).
        """
        table = tf.cast(self.item_embedding.embeddings, query.dtype)
        return tf.linalg.matmul(query, table, transpose_b=True)

    # --- negatives -----------------------------------------------------------------------------

    @_no_autograph
    def sample_negatives(
        self,
        history: tf.Tensor,
        shape: Union[Sequence[int], tf.Tensor],
        num_resamples: int = 3,
    ) -> Tuple[tf.Tensor, tf.Tensor]:
        """Fresh uniform negatives from `[1, num_items]`, away from each row's history.

        Every call draws new values (the generator is stateful, also inside `tf.function`), so each
        batch and each epoch gets its own negatives. Pad (0) and OOV are never drawn.

        Args:
            history: int `[B, S]`, the items of each row (0 = padding, ignored).
            shape: `[B, M]` for per-row negatives (e.g. one per position for "bce"), or `[N]` for
                negatives shared by the whole batch (sampled softmax).
            num_resamples: for per-row negatives, how many times a draw that hits the row's history
                is redrawn (in-graph) before it is given up and masked.

        Returns:
            `(negatives, mask)`. Per-row: negatives `[B, M]` with a float `[B, M]` mask that is 0
            where a collision with the history remains. Shared: negatives `[N]` with a float
            `[B, N]` mask, 0 where the negative is in that row's history (shared negatives are not
            redrawn: a redraw for one row could collide with another's history).
        """
        history = tf.convert_to_tensor(history)
        if not history.dtype.is_integer:
            raise TypeError(f"history must be an integer tensor, got {history.dtype}")
        dtype = history.dtype if history.dtype in (tf.int32, tf.int64) else tf.int64
        sorted_history = _sorted_rows(tf.cast(history, dtype))
        shape = tf.convert_to_tensor(shape, tf.int32)
        rank = shape.shape[0] if shape.shape.rank == 1 else None
        if rank not in (1, 2):
            raise ValueError("shape must be [B, M] (per-row negatives) or [N] (shared negatives)")

        def draw(draw_shape: tf.Tensor) -> tf.Tensor:
            counter = tf.convert_to_tensor(self._draw_counter.assign_add(1))
            replica = tf.distribute.get_replica_context()
            replica_id = tf.cast(replica.replica_id_in_sync_group if replica else 0, tf.int64)
            key = tf.stack([tf.constant(self._sampler_seed, tf.int64), counter * _MAX_REPLICAS + replica_id])
            return tf.random.stateless_uniform(
                draw_shape, seed=key, minval=1, maxval=self.num_items + 1, dtype=dtype)

        batch_size = tf.shape(history)[0]
        if rank == 1:
            negatives = draw(shape)
            per_row = tf.broadcast_to(negatives[tf.newaxis, :], tf.stack([batch_size, shape[0]]))
            collides = _contained_in_rows(per_row, sorted_history)
            return negatives, 1.0 - tf.cast(collides, tf.float32)

        negatives = draw(shape)
        collides = _contained_in_rows(negatives, sorted_history)
        for _ in range(num_resamples):
            negatives = tf.where(collides, draw(shape), negatives)
            collides = _contained_in_rows(negatives, sorted_history)
        return negatives, 1.0 - tf.cast(collides, tf.float32)

    # --- losses --------------------------------------------------------------------------------

    @_no_autograph
    def compute_loss_from_batch(
        self, input_ids: tf.Tensor, target_ids: tf.Tensor, training: Optional[bool] = False
    ) -> tf.Tensor:
        """The data loss (scalar, without regularisation) of a batch of right-padded sequences.

        A position counts when its input is a real item and its target is a real, in-vocabulary
        item (not 0, not OOV); all other positions contribute nothing. Negatives are drawn fresh.
        """
        input_ids = tf.convert_to_tensor(input_ids)
        return self.loss_from_sequence(self(input_ids, training=training), input_ids, target_ids)

    @_no_autograph
    def loss_from_sequence(self, sequence_embeddings: tf.Tensor, input_ids: tf.Tensor,
                           target_ids: tf.Tensor) -> tf.Tensor:
        """`compute_loss_from_batch` given the batch's sequence embeddings (`self(input_ids)`)."""
        input_ids = tf.convert_to_tensor(input_ids)
        target_ids = tf.cast(tf.convert_to_tensor(target_ids), input_ids.dtype)
        sequence = tf.cast(sequence_embeddings, tf.float32)
        weights = tf.cast(
            tf.logical_and(
                tf.not_equal(input_ids, PAD_ID),
                tf.logical_and(tf.not_equal(target_ids, PAD_ID), tf.less(target_ids, self.oov_id)),
            ),
            tf.float32,
        )
        table = tf.cast(self.item_embedding.embeddings, tf.float32)
        history = tf.concat([input_ids, target_ids], axis=1)
        positive_logits = tf.reduce_sum(sequence * tf.gather(table, target_ids), axis=-1)

        if self.loss_name == "bce":
            negatives, negative_mask = self.sample_negatives(history, tf.shape(target_ids))
            negative_logits = tf.reduce_sum(sequence * tf.gather(table, negatives), axis=-1)
            # BCE with logits: -log(sigmoid(pos)) - log(1 - sigmoid(neg)).
            per_position = (tf.nn.softplus(-positive_logits)
                            + negative_mask * tf.nn.softplus(negative_logits))
        else:
            negatives, negative_mask = self.sample_negatives(history, [self.num_negatives])
            negative_logits = tf.einsum("blh,nh->bln", sequence, tf.gather(table, negatives))
            keep = tf.cast(negative_mask, tf.bool)[:, tf.newaxis, :]
            negative_logits = tf.where(keep, negative_logits, _MASKED_LOGIT)
            logits = tf.concat([positive_logits[..., tf.newaxis], negative_logits], axis=-1)
            per_position = tf.reduce_logsumexp(logits, axis=-1) - positive_logits

        return tf.math.divide_no_nan(tf.reduce_sum(per_position * weights), tf.reduce_sum(weights))

    def _with_regularization(self, loss: tf.Tensor) -> tf.Tensor:
        if self.losses:
            loss = loss + tf.add_n([tf.cast(l, tf.float32) for l in self.losses])
        return loss

    @_no_autograph
    def rank_of_last_targets(self, sequence_embeddings: tf.Tensor, input_ids: tf.Tensor,
                             target_ids: tf.Tensor) -> tf.Tensor:
        """int32 `[B]`: full-ranking rank of each row's last target (the item after its last input)
        among all items, the row's inputs excluded; see `rank_of_targets`."""
        targets = tf.gather(target_ids, tf.maximum(last_item_position(input_ids), 0), batch_dims=1)
        scores = self.item_scores(self.last_item_embedding(sequence_embeddings, input_ids))
        return rank_of_targets(scores, targets, exclusion_mask(input_ids, self.num_items + 2))

    @_no_autograph
    def train_step(self, data: Any) -> Dict[str, tf.Tensor]:
        data = data[0] if isinstance(data, (tuple, list)) else data
        with tf.GradientTape() as tape:
            loss = self._with_regularization(
                self.compute_loss_from_batch(data["input_ids"], data["target_ids"], training=True))
            # Replicas' gradients are summed: scale as Keras' compiled losses do (a no-op on one device).
            scaled = loss / tf.cast(tf.distribute.get_strategy().num_replicas_in_sync, loss.dtype)
        self.optimizer.minimize(scaled, self.trainable_variables, tape=tape)
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    @_no_autograph
    def test_step(self, data: Any) -> Dict[str, tf.Tensor]:
        """The loss and, from the same forward pass, full-ranking HR@K / NDCG@K of each row's last
        target (K in RANKING_CUTOFFS): one validation pass gives both."""
        data = data[0] if isinstance(data, (tuple, list)) else data
        input_ids = tf.convert_to_tensor(data["input_ids"])
        target_ids = tf.cast(data["target_ids"], input_ids.dtype)
        sequence = self(input_ids, training=False)
        self.loss_tracker.update_state(
            self._with_regularization(self.loss_from_sequence(sequence, input_ids, target_ids)))
        ranks = self.rank_of_last_targets(sequence, input_ids, target_ids)
        for k in RANKING_CUTOFFS:
            self.ranking_trackers[f"hr@{k}"].update_state(hit_rate_at_k(ranks, k))
            self.ranking_trackers[f"ndcg@{k}"].update_state(ndcg_at_k(ranks, k))
        return {metric.name: metric.result() for metric in self.metrics}

    @property
    def metrics(self) -> list:
        return [self.loss_tracker, *self.ranking_trackers.values()]

    # --- config --------------------------------------------------------------------------------

    def get_config(self) -> Dict[str, Any]:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "num_items": self.num_items,
            "max_len": self.max_len,
            "num_blocks": self.num_blocks,
            "num_heads": self.num_heads,
            "hidden_dim": self.hidden_dim,
            "dropout": self.dropout,
            "l2_emb": self.l2_emb,
            "loss": self.loss_name,
            "num_negatives": self.num_negatives,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config: Dict[str, Any], custom_objects: Any = None) -> "SASRec":
        return cls(**config)


def last_item_position(item_ids: tf.Tensor) -> tf.Tensor:
    """int32 `[B]`: the position of each row's last real (non-padding) item; -1 for an empty row."""
    positions = tf.range(tf.shape(item_ids)[1])[tf.newaxis, :]
    return tf.reduce_max(tf.where(tf.not_equal(item_ids, PAD_ID), positions, -1), axis=1)


def _sorted_rows(rows: tf.Tensor) -> tf.Tensor:
    """`[B, S]` -> `[B, S + 1]` sorted per row, for `_contained_in_rows`."""
    # A padding column keeps the search well defined for an empty history (S = 0).
    rows = tf.concat([rows, tf.fill([tf.shape(rows)[0], 1], tf.cast(PAD_ID, rows.dtype))], axis=1)
    return tf.sort(rows, axis=1)


def _contained_in_rows(values: tf.Tensor, sorted_rows: tf.Tensor) -> tf.Tensor:
    """bool `[B, M]`: whether `values[b, m]` occurs in `sorted_rows[b, :]` (from `_sorted_rows`)."""
    sorted_rows = tf.cast(sorted_rows, values.dtype)
    index = tf.searchsorted(sorted_rows, values, side="left")
    index = tf.minimum(index, tf.shape(sorted_rows)[1] - 1)
    return tf.equal(tf.gather(sorted_rows, index, batch_dims=1), values)


# ---------------------------------------------------------------------------------------------------
# Ranking helpers (in-graph)
# ---------------------------------------------------------------------------------------------------


@_no_autograph
def exclusion_mask(history: tf.Tensor, vocab_size: Union[int, tf.Tensor]) -> tf.Tensor:
    """bool `[B, V]`: true for items that cannot be recommended to the row.

    That is every item of the row's history, the padding index 0 and the OOV index `V - 1`.
    History ids outside `[0, V)` are clipped into it (they land on pad or OOV, excluded anyway).
    """
    history = tf.cast(tf.convert_to_tensor(history), tf.int64)
    vocab_size = tf.cast(vocab_size, tf.int64)
    batch_size = tf.shape(history, out_type=tf.int64)[0]
    ids = tf.clip_by_value(history, 0, vocab_size - 1)
    rows = tf.broadcast_to(tf.range(batch_size)[:, tf.newaxis], tf.shape(ids, out_type=tf.int64))
    indices = tf.reshape(tf.stack([rows, ids], axis=-1), [-1, 2])
    counts = tf.scatter_nd(indices, tf.ones(tf.shape(indices)[:1], tf.int32),
                           tf.stack([batch_size, vocab_size]))
    columns = tf.range(vocab_size)
    special = tf.logical_or(tf.equal(columns, 0), tf.equal(columns, vocab_size - 1))
    return tf.logical_or(counts > 0, special[tf.newaxis, :])


@_no_autograph
def rank_of_targets(scores: tf.Tensor, targets: tf.Tensor, exclude: tf.Tensor) -> tf.Tensor:
    """int32 `[B]`: the 1-based rank of each row's target among its recommendable candidates.

    A candidate ranks above the target when it is not excluded and its score is strictly greater;
    ties are resolved in the target's favour (optimistic), so a constant scorer ranks every target
    first: use scores that tie rarely. A target that is excluded, pad (0), OOV (`V - 1`) or outside
    `[0, V)` gets rank `V + 1`, a miss at every cut-off `k <= V`.

    Args:
        scores: float `[B, V]`.
        targets: int `[B]`, item indices.
        exclude: bool `[B, V]`, e.g. `exclusion_mask(history, V)`.
    """
    scores = tf.convert_to_tensor(scores)
    exclude = tf.cast(exclude, tf.bool)
    vocab_size = tf.shape(scores)[1]
    targets = tf.cast(targets, tf.int32)
    safe_targets = tf.clip_by_value(targets, 0, vocab_size - 1)
    target_scores = tf.gather(scores, safe_targets, axis=1, batch_dims=1)
    above = tf.logical_and(scores > target_scores[:, tf.newaxis], tf.logical_not(exclude))
    rank = 1 + tf.reduce_sum(tf.cast(above, tf.int32), axis=1)
    invalid = tf.reduce_any(tf.stack([
        targets <= 0,
        targets >= vocab_size - 1,
        tf.gather(exclude, safe_targets, axis=1, batch_dims=1),
    ]), axis=0)
    return tf.where(invalid, vocab_size + 1, rank)


@_no_autograph
def ndcg_at_k(ranks: tf.Tensor, k: int) -> tf.Tensor:
    """float32 `[B]`: `1 / log2(rank + 1)` where `rank <= k`, else 0 (one relevant item per row)."""
    ranks = tf.cast(ranks, tf.float32)
    gain = tf.math.log(2.0) / tf.math.log(ranks + 1.0)
    return tf.where(ranks <= float(k), gain, tf.zeros_like(gain))


@_no_autograph
def hit_rate_at_k(ranks: tf.Tensor, k: int) -> tf.Tensor:
    """float32 `[B]`: 1.0 where `rank <= k`, else 0.0."""
    return tf.cast(tf.cast(ranks, tf.float32) <= float(k), tf.float32)
