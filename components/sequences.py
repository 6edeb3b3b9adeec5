"""UserSequences: each user's time-ordered items, as leave-one-out train/eval/test splits.

Runs on Beam, so the same code runs in memory, on the DirectRunner's worker processes, on Dataflow
or on Flink; nothing depends on in-process state.

Per user (after dropping ratings below `min_rating`): items ordered by timestamp, equal timestamps
by their position in the ratings file; users with fewer than `min_sequence_length` items dropped.
As in the SASRec paper, with n items:
  train = items[:n-2], eval = items[:n-1] (its target: the second to last item),
  test  = items (its target: the last item).
Truncation happens here: each split keeps its most recent `max_len + 1` items (the model reads
`max_len` of them and predicts the next one), so a long history keeps its newest items, never its
oldest. `sequence_length` records the split's length before truncation. Each split is written as
NUM_SHARDS files, users hashed to files and sorted within them: the same input gives the same bytes.

The component refuses to run when its `anomalies` input (ExampleValidator's) reports anomalies:
no training on data that broke the schema. The message names each anomaly (feature, kind, TFDV's
description) and the ExampleValidator output file that holds them.

A rating without a user or item ID (an empty ID in the ratings file) never gets here under the
curated schema: ExampleValidator reports it as missing values and the run stops first. Without an
`anomalies` input, or with a schema that tolerates missing values, such a rating is dropped (it has
no place in a sequence) and counted in the Beam counter `UserSequences/ratings_without_id`.
"""
from __future__ import annotations

import heapq
import os
import zlib
from typing import Any, Dict, Iterable, List, Optional, Tuple

import apache_beam as beam
import tensorflow as tf
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx import types
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_component, base_beam_executor, executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

SPLITS = ("train", "eval", "test")
# Items a split drops from the end of the full sequence: train drops the eval and test targets.
_SPLIT_END_OFFSET = {"train": 2, "eval": 1, "test": 0}
_ANOMALIES_FILE = "SchemaDiff.pb"

# Output files per split; records go to a file by a hash of their user.
NUM_SHARDS = 4

# (timestamp, position, item_id): ordering these tuples is the time order with its tie-break.
Event = Tuple[int, int, str]


class DataAnomaliesError(RuntimeError):
    """ExampleValidator found anomalies in the ratings; the run stops before any training."""


class RecentEventsCombineFn(beam.CombineFn):
    """Per user: the number of events and the `keep` most recent ones, in bounded memory."""

    def __init__(self, keep: int):
        self._keep = keep

    def create_accumulator(self) -> Tuple[int, List[Event]]:
        return 0, []

    def add_input(self, accumulator, event: Event):
        count, heap = accumulator
        if len(heap) < self._keep:
            heapq.heappush(heap, event)
        else:
            heapq.heappushpop(heap, event)
        return count + 1, heap

    def merge_accumulators(self, accumulators: Iterable):
        count, events = 0, []
        for c, heap in accumulators:
            count += c
            events.extend(heap)
        return count, heapq.nlargest(self._keep, events)[::-1]

    def extract_output(self, accumulator) -> Tuple[int, List[Event]]:
        count, heap = accumulator
        return count, sorted(heap)


def split_sequences(user_id: str, count: int, recent: List[Event], max_len: int
                    ) -> Iterable[Tuple[str, Dict[str, Any]]]:
    """The (split, record) pairs of one user; `recent` is sorted and ends at the user's last event."""
    for split in SPLITS:
        offset = _SPLIT_END_OFFSET[split]
        events = recent[:len(recent) - offset] if offset else recent
        events = events[-(max_len + 1):]
        yield split, {
            "user_id": user_id,
            "item_ids": [item for _, _, item in events],
            "timestamps": [timestamp for timestamp, _, _ in events],
            "sequence_length": count - offset,
        }


def shard_of(user_id: str) -> int:
    """The output file of a user's records: a stable hash (not Python's per-process `hash`)."""
    return zlib.crc32(user_id.encode("utf-8")) % NUM_SHARDS


def write_shard(shard_records: Tuple[int, Iterable[Dict[str, Any]]], split_dir: str) -> str:
    """Writes one shard's records sorted by user, so that the same input gives the same bytes
    whatever order the runner delivered them in (reproducible splits, and with them training)."""
    shard, records = shard_records
    tf.io.gfile.makedirs(split_dir)
    path = os.path.join(split_dir, f"data_tfrecord-{shard:05d}-of-{NUM_SHARDS:05d}.gz")
    with tf.io.TFRecordWriter(path, tf.io.TFRecordOptions(compression_type="GZIP")) as writer:
        for record in sorted(records, key=lambda r: r["user_id"]):
            writer.write(to_example(record).SerializeToString(deterministic=True))
    return path


def to_example(record: Dict[str, Any]) -> tf.train.Example:
    feature = tf.train.Feature
    return tf.train.Example(features=tf.train.Features(feature={
        "user_id": feature(bytes_list=tf.train.BytesList(value=[record["user_id"].encode("utf-8")])),
        "item_ids": feature(bytes_list=tf.train.BytesList(value=[i.encode("utf-8") for i in record["item_ids"]])),
        "timestamps": feature(int64_list=tf.train.Int64List(value=record["timestamps"])),
        "sequence_length": feature(int64_list=tf.train.Int64List(value=[record["sequence_length"]])),
    }))


_WITHOUT_ID = beam.metrics.Metrics.counter("UserSequences", "ratings_without_id")


def _to_event(serialized: bytes, min_rating: float) -> Iterable[Tuple[str, Event]]:
    features = tf.train.Example.FromString(serialized).features.feature
    if features["rating"].float_list.value[0] < min_rating:
        return
    # `in` first: reading a missing key of a proto map would add it. See the module docstring.
    user = features["user_id"].bytes_list.value if "user_id" in features else ()
    item = features["item_id"].bytes_list.value if "item_id" in features else ()
    if not user or not item:
        _WITHOUT_ID.inc()
        return
    yield (user[0].decode("utf-8"),
           (features["timestamp"].int64_list.value[0], features["position"].int64_list.value[0],
            item[0].decode("utf-8")))


def _describe(info: anomalies_pb2.AnomalyInfo) -> str:
    """`Kind [TFDV_TYPE, ...] (description)` of one AnomalyInfo."""
    kinds = sorted({anomalies_pb2.AnomalyInfo.Type.Name(reason.type) for reason in info.reason})
    kinds_text = f" [{', '.join(kinds)}]" if kinds else ""
    return f"{info.short_description}{kinds_text} ({info.description})"


def check_anomalies(anomalies_artifact: types.Artifact) -> None:
    """Raises DataAnomaliesError naming each anomaly ExampleValidator recorded, and its file.

    The message reads, for example: "the ratings do not match the schema, so the run stops before
    training: feature 'rating': Out-of-range values [FLOAT_TYPE_BIG_FLOAT] (Unexpectedly high
    value: 9>5(upto six significant digits)). ExampleValidator's anomalies (an Anomalies proto):
    <uri>/Split-ratings/SchemaDiff.pb; fix the ratings file, or pass a --schema that accepts ..."
    """
    found, files = [], []
    for split in artifact_utils.decode_split_names(anomalies_artifact.split_names):
        path = os.path.join(artifact_utils.get_split_uri([anomalies_artifact], split), _ANOMALIES_FILE)
        anomalies = anomalies_pb2.Anomalies.FromString(tf.io.gfile.GFile(path, "rb").read())
        split_found = [f"feature '{feature}': {_describe(info)}"
                       for feature, info in sorted(anomalies.anomaly_info.items())]
        if anomalies.HasField("dataset_anomaly_info"):
            split_found.append(f"dataset: {_describe(anomalies.dataset_anomaly_info)}")
        if split_found:
            found += split_found
            files.append(path)
    if found:
        raise DataAnomaliesError(
            "the ratings do not match the schema, so the run stops before training: "
            + "; ".join(found) + f". ExampleValidator's anomalies (an Anomalies proto): {', '.join(files)}; "
            "fix the ratings file, or pass a --schema that accepts these values (an expected extra column "
            "must be listed in it)")


class Executor(base_beam_executor.BaseBeamExecutor):
    """Builds the per-user sequence splits; see the module docstring."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
        if input_dict.get("anomalies"):
            check_anomalies(artifact_utils.get_single_instance(input_dict["anomalies"]))
        ratings = artifact_utils.get_single_instance(input_dict["examples"])
        output = artifact_utils.get_single_instance(output_dict["sequences"])
        output.split_names = artifact_utils.encode_split_names(list(SPLITS))
        examples_utils.set_payload_format(output, example_gen_pb2.FORMAT_TF_EXAMPLE)
        max_len = int(exec_properties["max_len"])
        min_length = int(exec_properties["min_sequence_length"])
        min_rating = float(exec_properties["min_rating"])

        patterns = [os.path.join(artifact_utils.get_split_uri([ratings], split), "*")
                    for split in artifact_utils.decode_split_names(ratings.split_names)]
        with self._make_beam_pipeline() as pipeline:
            per_split = (
                pipeline
                | "Patterns" >> beam.Create(patterns)
                | "Read" >> beam.io.ReadAllFromTFRecord()
                | "ToEvents" >> beam.FlatMap(_to_event, min_rating)
                | "RecentPerUser" >> beam.CombinePerKey(RecentEventsCombineFn(max_len + 3))
                | "DropShort" >> beam.Filter(lambda kv: kv[1][0] >= min_length)
                | "Split" >> beam.FlatMap(lambda kv: split_sequences(kv[0], kv[1][0], kv[1][1], max_len))
                | "BySplit" >> beam.Partition(lambda kv, _: SPLITS.index(kv[0]), len(SPLITS)))
            for split, records in zip(SPLITS, per_split):
                _ = (records
                     | f"Shard[{split}]" >> beam.Map(lambda kv: (shard_of(kv[1]["user_id"]), kv[1]))
                     | f"GroupShards[{split}]" >> beam.GroupByKey()
                     | f"Write[{split}]" >> beam.Map(
                         write_shard, artifact_utils.get_split_uri([output], split)))


class UserSequencesSpec(types.ComponentSpec):
    PARAMETERS = {
        "min_rating": ExecutionParameter(type=float),
        "min_sequence_length": ExecutionParameter(type=int),
        "max_len": ExecutionParameter(type=int),
    }
    INPUTS = {
        "examples": ChannelParameter(type=standard_artifacts.Examples),
        "anomalies": ChannelParameter(type=standard_artifacts.ExampleAnomalies, optional=True),
    }
    OUTPUTS = {
        "sequences": ChannelParameter(type=standard_artifacts.Examples),
    }


class UserSequences(base_beam_component.BaseBeamComponent):
    """Per-user leave-one-out sequence splits from one-rating-per-example Examples.

    Example:
        sequences = UserSequences(examples=example_gen.outputs["examples"],
                                  anomalies=example_validator.outputs["anomalies"],
                                  min_rating=2.0, min_sequence_length=3, max_len=200)
    """

    SPEC_CLASS = UserSequencesSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)

    def __init__(self, examples: types.BaseChannel, min_rating: float, min_sequence_length: int,
                 max_len: int, anomalies: Optional[types.BaseChannel] = None):
        if min_sequence_length < 3:
            raise ValueError("min_sequence_length must be at least 3")
        if max_len < 1:
            raise ValueError("max_len must be at least 1")
        super().__init__(spec=UserSequencesSpec(
            examples=examples, anomalies=anomalies, min_rating=float(min_rating),
            min_sequence_length=int(min_sequence_length), max_len=int(max_len),
            sequences=types.Channel(type=standard_artifacts.Examples)))
