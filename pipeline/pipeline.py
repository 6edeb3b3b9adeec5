"""The SASRec TFX pipeline definition; runners (local, Kubeflow/Vertex) are thin wrappers around it.

ratings file -> ExampleGen -> StatisticsGen -> SchemaGen (inferred, for people to compare)
                                            -> ExampleValidator (against the curated schema)
             -> UserSequences (Beam; stops on anomalies) -> Transform -> Trainer
             -> RankingEvaluator (test split; vs popularity and the latest blessed model)
             -> Pusher (blessed models only; the version folder appears by an atomic rename)
"""
from __future__ import annotations

import os
from typing import List, Optional

import sasrec  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

from tfx import v1 as tfx
from tfx.proto import transform_pb2

from components.atomic_pusher import AtomicPusher
from components.ranking_evaluator import RankingEvaluator
from components.ratings_example_gen import ratings_example_gen
from components.sequences import UserSequences
from sasrec.config import SASRecConfig
from sasrec.data.formats import ColumnNames

SCHEMA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schema")
RATINGS_SCHEMA = os.path.join(SCHEMA_DIR, "ratings", "schema.pbtxt")
SEQUENCES_SCHEMA = os.path.join(SCHEMA_DIR, "sequences", "schema.pbtxt")
PREPROCESSING_FN = "modules.preprocessing.preprocessing_fn"
RUN_FN = "modules.trainer.run_fn"


def create_pipeline(
    pipeline_name: str,
    pipeline_root: str,
    ratings_path: str,
    ratings_format: str,
    config: SASRecConfig,
    serving_dir: str,
    columns: ColumnNames = ColumnNames(),
    delimiter: str = ",",
    ratings_schema: str = RATINGS_SCHEMA,
    metadata_connection_config=None,
    beam_pipeline_args: Optional[List[str]] = None,
    enable_cache: bool = True,
    stop_after: Optional[str] = None,
) -> tfx.dsl.Pipeline:
    """Returns the pipeline; every setting is an argument.

    `stop_after="sequences"` ends the pipeline after the per-user sequences (data checks only).
    """
    example_gen = ratings_example_gen(ratings_path, ratings_format, columns, delimiter,
                                      config.max_reject_fraction)
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    inferred_schema = tfx.components.SchemaGen(statistics=statistics_gen.outputs["statistics"])
    curated_schema = tfx.components.ImportSchemaGen(schema_file=ratings_schema).with_id("CuratedSchema")
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=curated_schema.outputs["schema"])
    sequences = UserSequences(
        examples=example_gen.outputs["examples"], anomalies=example_validator.outputs["anomalies"],
        min_rating=config.min_rating, min_sequence_length=config.min_sequence_length,
        max_len=config.max_len)
    components = [example_gen, statistics_gen, inferred_schema, curated_schema, example_validator,
                  sequences]

    if stop_after != "sequences":
        sequences_schema = tfx.components.ImportSchemaGen(
            schema_file=SEQUENCES_SCHEMA).with_id("SequencesSchema")
        transform = tfx.components.Transform(
            examples=sequences.outputs["sequences"],
            schema=sequences_schema.outputs["schema"],
            preprocessing_fn=PREPROCESSING_FN,
            splits_config=transform_pb2.SplitsConfig(analyze=["train"], transform=["train", "eval", "test"]))
        trainer = tfx.components.Trainer(
            run_fn=RUN_FN,
            examples=transform.outputs["transformed_examples"],
            transform_graph=transform.outputs["transform_graph"],
            custom_config={"sasrec": config.to_dict()})
        latest_blessed = tfx.dsl.Resolver(
            strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
            model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
            model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
        ).with_id("latest_blessed_model_resolver")
        evaluator = RankingEvaluator(
            model=trainer.outputs["model"], examples=sequences.outputs["sequences"],
            transform_graph=transform.outputs["transform_graph"],
            baseline_model=latest_blessed.outputs["model"], model_run=trainer.outputs["model_run"],
            num_negatives=config.eval_negatives, seed=config.seed, min_lift=config.bless_min_lift,
            max_regression=config.bless_max_regression)
        pusher = AtomicPusher(
            model=trainer.outputs["model"],
            model_blessing=evaluator.outputs["blessing"],
            push_destination=tfx.proto.PushDestination(
                filesystem=tfx.proto.PushDestination.Filesystem(base_directory=serving_dir))).with_id("Pusher")
        components += [sequences_schema, transform, trainer, latest_blessed, evaluator, pusher]

    return tfx.dsl.Pipeline(
        pipeline_name=pipeline_name,
        pipeline_root=pipeline_root,
        components=components,
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args or [],
    )
