"""The Transform user code on a small fixture: vocabulary, padding index 0, OOV, the shift."""
import os

import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils
from tfx.utils import io_utils

from modules import preprocessing
from pipeline import pipeline as sasrec_pipeline

# Train split: "b" is the most frequent item, then "a", then "c".
TRAIN = [{"user_id": [b"u1"], "item_ids": [b"a", b"b", b"c"], "timestamps": [1, 2, 3], "sequence_length": [3]},
         {"user_id": [b"u2"], "item_ids": [b"b", b"a", b"b"], "timestamps": [1, 2, 3], "sequence_length": [3]},
         {"user_id": [b"u3"], "item_ids": [b"b", b"d"], "timestamps": [1, 2], "sequence_length": [2]}]


@pytest.fixture(scope="module")
def transformed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tft")
    schema = io_utils.SchemaReader().read(sasrec_pipeline.SEQUENCES_SCHEMA)
    metadata = dataset_metadata.DatasetMetadata(schema)
    with tft_beam.Context(temp_dir=str(tmp / "tmp")):
        (_, _), transform_fn = (TRAIN, metadata) | tft_beam.AnalyzeAndTransformDataset(preprocessing.preprocessing_fn)
        _ = transform_fn | tft_beam.WriteTransformFn(str(tmp / "out"))
    return tft.TFTransformOutput(str(tmp / "out"))


def test_vocabulary_has_padding_first_then_items_by_frequency(transformed):
    vocabulary = [t.decode() for t in transformed.vocabulary_by_name(preprocessing.ITEM_VOCABULARY)]
    assert vocabulary[0] == preprocessing.PAD_TOKEN
    assert vocabulary[1:3] == ["b", "a"] and sorted(vocabulary[3:]) == ["c", "d"]


def test_indices_oov_and_shift(transformed):
    vocabulary = [t.decode() for t in transformed.vocabulary_by_name(preprocessing.ITEM_VOCABULARY)]
    index = {item: i for i, item in enumerate(vocabulary)}
    oov = len(vocabulary)  # the one out-of-vocabulary bucket comes right after the vocabulary
    raw = tf.ragged.constant([["a", "b", "c"], ["zzz", "b"], ["d"]])
    out = transformed.transform_features_layer()({"item_ids": raw.to_sparse()})
    history = out[preprocessing.HISTORY].to_list()
    assert history == [[index["a"], index["b"], index["c"]], [oov, index["b"]], [index["d"]]]
    assert 0 not in sum(history, [])  # 0 is reserved for padding
    assert out[preprocessing.INPUTS].to_list() == [h[:-1] for h in history]
    assert out[preprocessing.TARGETS].to_list() == [h[1:] for h in history]
