"""UserSequences on a fixture with known answers, in memory and on Beam's multi-process runner."""
import os

import pytest
import tensorflow as tf
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils, standard_artifacts

from components import ratings_example_gen, sequences
from sasrec.data.formats import Rating

# (user, item, rating, timestamp) in file order.
RATINGS = [
    ("u1", "a", 5, 10), ("u1", "b", 4, 30), ("u1", "c", 1, 20),   # c is below min_rating
    ("u1", "d", 3, 30), ("u1", "e", 3, 40), ("u1", "f", 2, 50),   # b and d tie: file order
    ("u2", "x", 4, 5), ("u2", "y", 4, 6),                          # 2 items: dropped
    ("u3", "p", 5, 1), ("u3", "q", 5, 2), ("u3", "r", 5, 3),       # exactly 3 items
    ("u4", "i1", 5, 1), ("u4", "i2", 5, 2), ("u4", "i3", 5, 3), ("u4", "i4", 5, 4),
    ("u4", "i5", 5, 5), ("u4", "i6", 5, 6), ("u4", "i7", 5, 7), ("u4", "i8", 5, 8),
]
MAX_LEN = 4


def _write_ratings(uri):
    split_dir = os.path.join(uri, "Split-ratings")
    os.makedirs(split_dir)
    with tf.io.TFRecordWriter(os.path.join(split_dir, "data.gz"), options="GZIP") as writer:
        ratings = [Rating(user, item, float(rating), timestamp, line) for line, (user, item, rating, timestamp)
                   in enumerate(RATINGS, start=1)]
        for example in ratings_example_gen.encode_examples(ratings, 0):
            writer.write(example)


def _run(tmp_path, beam_args=()):
    ratings = standard_artifacts.Examples()
    ratings.uri = str(tmp_path / "ratings")
    ratings.split_names = artifact_utils.encode_split_names(["ratings"])
    _write_ratings(ratings.uri)
    output = standard_artifacts.Examples()
    output.uri = str(tmp_path / "sequences")
    executor = sequences.Executor(base_beam_executor.BaseBeamExecutor.Context(beam_pipeline_args=list(beam_args)))
    executor.Do({"examples": [ratings]}, {"sequences": [output]},
                {"min_rating": 2.0, "min_sequence_length": 3, "max_len": MAX_LEN})
    result = {}
    for split in artifact_utils.decode_split_names(output.split_names):
        files = tf.io.gfile.glob(os.path.join(output.uri, f"Split-{split}", "*"))
        for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
            f = tf.train.Example.FromString(record.numpy()).features.feature
            user = f["user_id"].bytes_list.value[0].decode()
            result[(split, user)] = ([i.decode() for i in f["item_ids"].bytes_list.value],
                                     list(f["timestamps"].int64_list.value),
                                     f["sequence_length"].int64_list.value[0])
    return result


EXPECTED = {
    # u1: a(10) b(30,pos1) d(30,pos3) e(40) f(50); c dropped by min_rating.
    ("train", "u1"): (["a", "b", "d"], [10, 30, 30], 3),
    ("eval", "u1"): (["a", "b", "d", "e"], [10, 30, 30, 40], 4),
    ("test", "u1"): (["a", "b", "d", "e", "f"], [10, 30, 30, 40, 50], 5),
    ("train", "u3"): (["p"], [1], 1),
    ("eval", "u3"): (["p", "q"], [1, 2], 2),
    ("test", "u3"): (["p", "q", "r"], [1, 2, 3], 3),
    # u4 has 8 items; each split keeps its most recent MAX_LEN + 1 = 5.
    ("train", "u4"): (["i2", "i3", "i4", "i5", "i6"], [2, 3, 4, 5, 6], 6),
    ("eval", "u4"): (["i3", "i4", "i5", "i6", "i7"], [3, 4, 5, 6, 7], 7),
    ("test", "u4"): (["i4", "i5", "i6", "i7", "i8"], [4, 5, 6, 7, 8], 8),
}


def test_sequences_known_answers(tmp_path):
    assert _run(tmp_path) == EXPECTED


def test_sequences_multi_process_direct_runner(tmp_path):
    args = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
    assert _run(tmp_path, args) == EXPECTED


def test_recent_events_combine_keeps_newest_in_bounded_memory():
    combine = sequences.RecentEventsCombineFn(keep=3)
    events = [(t, t, f"i{t}") for t in [5, 1, 9, 3, 7, 2]]
    left = combine.create_accumulator()
    for event in events[:3]:
        left = combine.add_input(left, event)
    right = combine.create_accumulator()
    for event in events[3:]:
        right = combine.add_input(right, event)
    assert len(left[1]) <= 3 and len(right[1]) <= 3
    count, recent = combine.extract_output(combine.merge_accumulators([left, right]))
    assert count == 6
    assert [item for _, _, item in recent] == ["i5", "i7", "i9"]


def test_component_rejects_bad_settings():
    from tfx.types import channel

    examples = channel.Channel(type=standard_artifacts.Examples)
    with pytest.raises(ValueError):
        sequences.UserSequences(examples=examples, min_rating=2, min_sequence_length=2, max_len=10)


def test_ratings_are_encoded_as_examples_with_every_field():
    ratings = [Rating("u1", "é", 4.5, 978300760, 7), Rating("u2", "i2", 1.0, -5, 9)]
    decoded = [tf.train.Example.FromString(e).features.feature
               for e in ratings_example_gen.encode_examples(ratings, 41)]
    assert [(f["user_id"].bytes_list.value[0].decode(), f["item_id"].bytes_list.value[0].decode(),
             f["rating"].float_list.value[0], f["timestamp"].int64_list.value[0], f["position"].int64_list.value[0])
            for f in decoded] == [("u1", "é", 4.5, 978300760, 41), ("u2", "i2", 1.0, -5, 42)]
    assert ratings_example_gen.encode_examples([], 0) == []


def test_missing_ids_and_extra_columns_are_encoded_for_the_schema_check():
    """An empty ID is the feature with no value; an extra column a bytes feature, absent where a file lacks it."""
    ratings = [Rating(None, "i1", 4.0, 1, 2), Rating("u2", None, 3.0, 2, 3, (("note", "x"), ("a_b", ""))),
               Rating("u3", "i3", 2.0, 3, 4), Rating(None, None, 1.0, 4, 5, (("a_b", "y"),))]
    decoded = [tf.train.Example.FromString(e).features.feature
               for e in ratings_example_gen.encode_examples(ratings, 0)]
    assert [(list(f["user_id"].bytes_list.value), list(f["item_id"].bytes_list.value)) for f in decoded] == [
        ([], [b"i1"]), ([b"u2"], []), ([b"u3"], [b"i3"]), ([], [])]
    # Where a file lacks the column: a feature with no kind of list at all, which TFDV counts as absent.
    assert [{name: list(f[name].bytes_list.value) for name in ("note", "a_b")
             if name in f and f[name].WhichOneof("kind")} for f in decoded] == [
        {}, {"note": [b"x"], "a_b": [b""]}, {}, {"a_b": [b"y"]}]
    assert [f["user_id"].WhichOneof("kind") for f in decoded] == ["bytes_list"] * 4
    assert [f["position"].int64_list.value[0] for f in decoded] == [0, 1, 2, 3]


def test_a_rating_without_an_id_is_never_an_event():
    """The schema check stops the run first; without it (or under a lenient schema) such ratings are dropped."""
    ratings = [Rating(None, "i1", 4.0, 1, 2), Rating("u2", None, 3.0, 2, 3), Rating("u3", "i3", 5.0, 3, 4)]
    events = [event for serialized in ratings_example_gen.encode_examples(ratings, 0)
              for event in sequences._to_event(serialized, 2.0)]
    assert events == [("u3", (3, 2, "i3"))]


def _anomalies_artifact(tmp_path, anomalies):
    artifact = standard_artifacts.ExampleAnomalies()
    artifact.uri = str(tmp_path / "ExampleValidator" / "anomalies" / "5")
    artifact.split_names = artifact_utils.encode_split_names(["ratings"])
    split_dir = tmp_path / "ExampleValidator" / "anomalies" / "5" / "Split-ratings"
    split_dir.mkdir(parents=True)
    (split_dir / "SchemaDiff.pb").write_bytes(anomalies.SerializeToString())
    return artifact, str(split_dir / "SchemaDiff.pb")


def test_check_anomalies_names_the_feature_the_kind_and_the_file(tmp_path):
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    anomalies = anomalies_pb2.Anomalies()
    info = anomalies.anomaly_info["note"]
    info.short_description = "New column"
    info.description = "New column (column in data but not in schema)"
    info.reason.add(type=anomalies_pb2.AnomalyInfo.SCHEMA_NEW_COLUMN, short_description="New column")
    artifact, path = _anomalies_artifact(tmp_path, anomalies)
    with pytest.raises(sequences.DataAnomaliesError) as error:
        sequences.check_anomalies(artifact)
    message = str(error.value)
    assert ("feature 'note': New column [SCHEMA_NEW_COLUMN] (New column (column in data but not in schema))"
            in message)
    assert path in message and "\n" not in message


def test_check_anomalies_passes_without_anomalies(tmp_path):
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    artifact, _ = _anomalies_artifact(tmp_path, anomalies_pb2.Anomalies())
    sequences.check_anomalies(artifact)
