"""ExampleGen for ratings files: one tf.Example per rating, malformed lines counted and kept aside.

A custom executor on TFX's FileBasedExampleGen, so the driver's input fingerprinting (and with it
the metadata cache) works as for CsvExampleGen. Each example holds `user_id` and `item_id` (bytes:
IDs stay strings), `rating` (float), `timestamp` (int64) and `position` (int64, the rating's
0-based place in the input files: the tie-break for equal timestamps).

What the schema check downstream (ExampleValidator against the curated schema) must see is written
as it is, not dropped here: an empty user or item ID is a `user_id`/`item_id` feature with no value
(reported as "Missing values"), and each extra column of a file with a header (`ml-latest`, `csv`) is
a bytes feature named after it (`formats.extra_feature_names`; reported as "New column").

Malformed lines never reach the examples. They are written with their file, line number and
reason to `rejects.tsv` in the output artifact's directory, next to `ingestion_summary.json`; when
they are more than `max_reject_fraction` of the lines the execution fails with a message that
names that file.
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterator, List, Optional, Tuple

import apache_beam as beam
import numpy as np
import pyarrow as pa
import tensorflow as tf
from google.protobuf import any_pb2, struct_pb2
from tfx.components.example_gen import base_example_gen_executor
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils
from tfx_bsl.coders import example_coder

from sasrec import provenance
from sasrec.data import formats

REJECTS_FILE = "rejects.tsv"
SUMMARY_FILE = "ingestion_summary.json"
RATINGS_SPLIT = "ratings"
_REJECTS_TAG = "rejects"
_ENCODE_CHUNK = 20_000  # ratings encoded per call


class TooManyRejectsError(RuntimeError):
    """More of the ratings file is malformed than the run allows."""


def ratings_example_gen(
    ratings_path: str,
    ratings_format: str,
    columns: formats.ColumnNames = formats.ColumnNames(),
    delimiter: str = ",",
    max_reject_fraction: float = 0.001,
) -> FileBasedExampleGen:
    """An ExampleGen reading `ratings_path` (a file or a glob) in one of `formats.FORMATS`."""
    if ratings_format not in formats.FORMATS:
        raise ValueError(f"unknown ratings format {ratings_format!r}; expected one of {formats.FORMATS}")
    settings = struct_pb2.Struct()
    settings.update({
        "format": ratings_format,
        "columns": {"user": columns.user, "item": columns.item,
                    "rating": columns.rating, "timestamp": columns.timestamp},
        "delimiter": delimiter,
        "max_reject_fraction": max_reject_fraction,
    })
    packed = any_pb2.Any()
    packed.Pack(settings)
    input_base, pattern = os.path.split(os.path.abspath(ratings_path) if "://" not in ratings_path
                                        else ratings_path)
    return FileBasedExampleGen(
        input_base=input_base,
        input_config=example_gen_pb2.Input(splits=[
            example_gen_pb2.Input.Split(name=RATINGS_SPLIT, pattern=pattern)]),
        output_config=example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(splits=[
            example_gen_pb2.SplitConfig.Split(name=RATINGS_SPLIT, hash_buckets=1)])),
        custom_config=example_gen_pb2.CustomConfig(custom_config=packed),
        custom_executor_spec=executor_spec.BeamExecutorSpec(Executor),
    ).with_id("RatingsExampleGen")


def _settings(exec_properties: Dict[str, Any]) -> Dict[str, Any]:
    custom_config = example_gen_pb2.CustomConfig()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.CUSTOM_CONFIG_KEY], custom_config)
    settings = struct_pb2.Struct()
    custom_config.custom_config.Unpack(settings)
    return json.loads(proto_utils.proto_to_json(settings))


def _input_files(pattern: str) -> List[str]:
    paths = sorted(tf.io.gfile.glob(pattern))
    if not paths:
        raise formats.FormatError(f"no ratings file matches {pattern}")
    return paths


def _open_lines(f, settings: Dict[str, Any]) -> Tuple[Iterator[Tuple[int, bytes]], formats.LineParser]:
    """The numbered lines after the header (if the format has one) and a parser for them."""
    lines = formats.iter_lines(f)
    header = None
    if formats.has_header(settings["format"]):
        first = next(lines, None)
        header = first[1] if first else None
    columns = formats.ColumnNames(**settings["columns"])
    return lines, formats.make_parser(settings["format"], header, columns, settings["delimiter"])


def _check_headers(pattern: str, settings: Dict[str, Any]) -> None:
    """Raises FormatError before any Beam work when a file cannot be parsed at all."""
    for path in _input_files(pattern):
        with tf.io.gfile.GFile(path, "rb") as f:
            _open_lines(f, settings)


def _read_and_parse(pattern: str, settings: Dict[str, Any]) -> Iterator[Any]:
    """Yields serialized rating examples and rejects (tagged) from every file matching `pattern`, in order."""
    position, parsed_ratings = 0, []
    for path in _input_files(pattern):
        with tf.io.gfile.GFile(path, "rb") as f:
            lines, parser = _open_lines(f, settings)
            for line_number, raw in lines:
                parsed = parser.parse(line_number, raw)
                if parsed is None:
                    continue
                if isinstance(parsed, formats.Reject):
                    yield beam.pvalue.TaggedOutput(
                        _REJECTS_TAG, (path, parsed.line_number, parsed.reason, parsed.text))
                    continue
                parsed_ratings.append(parsed)
                if len(parsed_ratings) == _ENCODE_CHUNK:
                    yield from encode_examples(parsed_ratings, position)
                    position, parsed_ratings = position + len(parsed_ratings), []
    yield from encode_examples(parsed_ratings, position)


def encode_examples(ratings: List[formats.Rating], first_position: int) -> List[bytes]:
    """Serialized tf.Examples of `ratings`, `position` counting from `first_position`.

    Encoded in bulk by tfx_bsl's C++ encoder from an Arrow record batch: building tf.Example
    protos one by one in Python was most of ExampleGen's time. A missing ID (None) is an empty
    list: the example has the feature with an empty bytes list (TFDV: "Missing values"). An extra
    column is a bytes feature in the examples of the files that have it; in the batch's other
    examples it is a null, a feature with no list at all, which TFDV counts as absent.
    """
    if not ratings:
        return []
    offsets = pa.array(np.arange(len(ratings) + 1, dtype=np.int32))

    def column(values, arrow_type) -> pa.ListArray:  # one value per example
        return pa.ListArray.from_arrays(offsets, pa.array(values, type=arrow_type))

    def id_column(ids: List[Optional[str]]) -> pa.ListArray:  # one value, or none where the ID is missing
        present = [i.encode("utf-8") for i in ids if i is not None]
        if len(present) == len(ids):
            return column(present, pa.binary())
        ends = np.cumsum(np.fromiter((i is not None for i in ids), dtype=np.int32, count=len(ids)))
        return pa.ListArray.from_arrays(pa.array(np.concatenate([[0], ends]).astype(np.int32)),
                                        pa.array(present, type=pa.binary()))

    arrays = [
        id_column([r.user_id for r in ratings]),
        id_column([r.item_id for r in ratings]),
        column(np.array([r.rating for r in ratings], dtype=np.float32), pa.float32()),
        column(np.array([r.timestamp for r in ratings], dtype=np.int64), pa.int64()),
        column(np.arange(first_position, first_position + len(ratings), dtype=np.int64), pa.int64()),
    ]
    names = ["user_id", "item_id", "rating", "timestamp", "position"]
    extra_names = list(dict.fromkeys(name for r in ratings for name, _ in r.extra))
    if extra_names:
        extras = [dict(r.extra) for r in ratings]
        for name in extra_names:
            arrays.append(pa.array([[e[name].encode("utf-8")] if name in e else None for e in extras],
                                   type=pa.list_(pa.binary())))
            names.append(name)
    return example_coder.RecordBatchToExamplesEncoder().encode(pa.RecordBatch.from_arrays(arrays, names))


def _write_rejects(rejects: List[Tuple[str, int, str, str]], path: str) -> None:
    with tf.io.gfile.GFile(path, "w") as f:
        f.write("file\tline\treason\ttext\n")
        for file, line, reason, text in sorted(rejects):
            f.write(f"{file}\t{line}\t{reason}\t{text}\n")


def _write_summary(path: str, ratings: int, rejects: int, rejects_path: str) -> None:
    with tf.io.gfile.GFile(path, "w") as f:
        json.dump({"ratings": ratings, "rejected_lines": rejects, "rejects_file": rejects_path}, f)


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
    """Parses a ratings file into tf.Examples; see the module docstring."""

    _report_dir: Optional[str] = None

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        report_dir = self._report_dir

        @beam.ptransform_fn
        def _ratings_to_examples(pipeline: beam.Pipeline, exec_properties: Dict[str, Any],
                                 split_pattern: str) -> beam.PCollection:
            settings = _settings(exec_properties)
            pattern = os.path.join(exec_properties[standard_component_specs.INPUT_BASE_KEY], split_pattern)
            parsed = (pipeline
                      | "Pattern" >> beam.Create([pattern])
                      | "ReadAndParse" >> beam.FlatMap(_read_and_parse, settings).with_outputs(
                          _REJECTS_TAG, main="ratings"))
            rejects_path = os.path.join(report_dir, REJECTS_FILE)
            _ = (parsed[_REJECTS_TAG]
                 | "CollectRejects" >> beam.combiners.ToList()
                 | "WriteRejects" >> beam.Map(_write_rejects, rejects_path))
            rating_count = parsed.ratings | "CountRatings" >> beam.combiners.Count.Globally()
            reject_count = parsed[_REJECTS_TAG] | "CountRejects" >> beam.combiners.Count.Globally()
            _ = (pipeline
                 | "Once" >> beam.Create([os.path.join(report_dir, SUMMARY_FILE)])
                 | "WriteSummary" >> beam.Map(_write_summary, beam.pvalue.AsSingleton(rating_count),
                                              beam.pvalue.AsSingleton(reject_count), rejects_path))
            return (parsed.ratings
                    | "Spread" >> beam.Reshuffle())

        return _ratings_to_examples

    def Do(self, input_dict, output_dict, exec_properties) -> None:
        examples = artifact_utils.get_single_instance(output_dict[standard_component_specs.EXAMPLES_KEY])
        settings = _settings(exec_properties)
        input_config = example_gen_pb2.Input()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config)
        pattern = os.path.join(exec_properties[standard_component_specs.INPUT_BASE_KEY],
                               input_config.splits[0].pattern)
        _check_headers(pattern, settings)
        self._report_dir = examples.uri
        tf.io.gfile.makedirs(examples.uri)
        super().Do(input_dict, output_dict, exec_properties)

        with tf.io.gfile.GFile(os.path.join(examples.uri, SUMMARY_FILE)) as f:
            summary = json.load(f)
        # The input's checksums travel with the examples, so a model can be traced to its data.
        summary["files"] = [{"path": path, "sha256": provenance.file_sha256(path, tf.io.gfile.GFile)}
                            for path in _input_files(pattern)]
        with tf.io.gfile.GFile(os.path.join(examples.uri, SUMMARY_FILE), "w") as f:
            json.dump(summary, f, indent=2)
        examples.set_string_custom_property("input_sha256", ",".join(f["sha256"] for f in summary["files"]))
        examples.set_int_custom_property("ratings", summary["ratings"])
        examples.set_int_custom_property("rejected_lines", summary["rejected_lines"])
        lines = summary["ratings"] + summary["rejected_lines"]
        limit = settings["max_reject_fraction"]
        if lines == 0:
            raise TooManyRejectsError("the ratings file holds no ratings: check the path and --format")
        if summary["rejected_lines"] > limit * lines:
            raise TooManyRejectsError(
                f"{summary['rejected_lines']} of {lines} lines of the ratings file are malformed "
                f"({summary['rejected_lines'] / lines:.2%}, more than the allowed {limit:.2%}); "
                f"see {summary['rejects_file']} for each line and why, fix the file or the --format and "
                f"column flags, or raise --max-reject-fraction")
