"""RankingEvaluator: ranking metrics of the trained model on the test split, and the push gate.

TFMA's Evaluator scores per-example labels; a recommender is judged by where the next item lands
in a ranking of the whole catalogue, so this component measures that (see `sasrec.evaluation`)
through the exported model's own `score_items` signature, beside a popularity baseline and, when
there is one, the latest blessed model. The model is blessed only if its full-ranking NDCG@10
beats popularity by `min_lift` (relative) and is at most `max_regression` (relative) below the
latest blessed model's on the same data. TFX's Pusher pushes only blessed models.

Outputs: `evaluation` holds metrics.json, report.md and its figures; `blessing` is a ModelBlessing
whose `blessed` and `current_model_id` properties are what Pusher and LatestBlessedModelStrategy read.
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional, Tuple

import tensorflow as tf
import tensorflow_transform as tft
from tfx import types
from tfx.dsl.components.base import base_component, base_executor, executor_spec
from tfx.types import artifact_utils, standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter
from tfx.utils import path_utils

from modules import preprocessing
from sasrec import evaluation, report

SELECTION_METRIC = ("full", "ndcg@10")
BLESSED_FILE, NOT_BLESSED_FILE = "BLESSED", "NOT_BLESSED"


def decide_blessing(results: Dict[str, Any], min_lift: float, max_regression: float) -> Tuple[bool, List[str]]:
    """Whether the model may be pushed, and why, from `evaluation.evaluate` results."""
    protocol, metric = SELECTION_METRIC
    model = results["model"][protocol][metric]
    popularity = results["popularity"][protocol][metric]
    needed = popularity * (1.0 + min_lift)
    blessed = model > needed
    reasons = [f"full-ranking NDCG@10 {model:.4f} {'beats' if blessed else 'does not beat'} the popularity "
               f"baseline's {popularity:.4f} by the required {min_lift:.0%} (needs > {needed:.4f})"]
    if "baseline_model" in results:
        previous = results["baseline_model"][protocol][metric]
        floor = previous * (1.0 - max_regression)
        kept = model >= floor
        blessed = blessed and kept
        reasons.append(f"full-ranking NDCG@10 {model:.4f} is {'within' if kept else 'more than'} the allowed "
                       f"{max_regression:.0%} below the latest blessed model's {previous:.4f} (floor {floor:.4f})")
    else:
        reasons.append("no earlier blessed model to compare with")
    return blessed, reasons


def _training_history(model_run: Optional[types.Artifact]) -> Optional[Dict[str, Any]]:
    from modules.trainer import TRAINING_HISTORY_FILE

    if model_run is None:
        return None
    path = os.path.join(model_run.uri, TRAINING_HISTORY_FILE)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


class Executor(base_executor.BaseExecutor):
    """Evaluates, writes the report and blesses (or not); see the module docstring."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
        model = artifact_utils.get_single_instance(input_dict["model"])
        sequences = artifact_utils.get_single_instance(input_dict["examples"])
        transform_graph = artifact_utils.get_single_instance(input_dict["transform_graph"])
        baselines = [b for b in input_dict.get("baseline_model", []) if b.id != model.id]
        model_runs = input_dict.get("model_run", [])
        evaluation_dir = artifact_utils.get_single_uri(output_dict["evaluation"])
        blessing = artifact_utils.get_single_instance(output_dict["blessing"])

        vocabulary = tft.TFTransformOutput(transform_graph.uri).vocabulary_by_name(preprocessing.ITEM_VOCABULARY)
        catalogue = [token.decode("utf-8") for token in vocabulary[1:]]
        cases = evaluation.read_cases(artifact_utils.get_split_uri([sequences], "test"))
        train = evaluation.read_cases(artifact_utils.get_split_uri([sequences], "train"))
        scorers = {
            "model": evaluation.saved_model_scorer(path_utils.serving_model_dir(model.uri)),
            "popularity": evaluation.popularity_scorer(case.history + [case.target] for case in train),
        }
        if baselines:
            scorers["baseline_model"] = evaluation.saved_model_scorer(path_utils.serving_model_dir(baselines[0].uri))
        num_negatives, seed = int(exec_properties["num_negatives"]), int(exec_properties["seed"])
        results = evaluation.evaluate(scorers, cases, catalogue, num_negatives, seed)

        blessed, reasons = decide_blessing(results, float(exec_properties["min_lift"]),
                                           float(exec_properties["max_regression"]))
        results.update(num_negatives=num_negatives, seed=seed, model_uri=model.uri,
                       blessing={"blessed": blessed, "reasons": reasons},
                       training=_training_history(model_runs[0] if model_runs else None))
        tf.io.gfile.makedirs(evaluation_dir)
        with tf.io.gfile.GFile(os.path.join(evaluation_dir, report.METRICS_FILE), "w") as f:
            json.dump(results, f, indent=2)
        report.write_report(results, evaluation_dir)

        with tf.io.gfile.GFile(os.path.join(blessing.uri, BLESSED_FILE if blessed else NOT_BLESSED_FILE), "w") as f:
            f.write("\n".join(reasons) + "\n")
        blessing.set_int_custom_property("blessed", int(blessed))
        blessing.set_int_custom_property("current_model_id", model.id)
        blessing.set_string_custom_property("current_model", model.uri)
        blessing.set_string_custom_property("reason", "; ".join(reasons))
        if baselines:
            blessing.set_int_custom_property("baseline_model_id", baselines[0].id)


class RankingEvaluatorSpec(types.ComponentSpec):
    PARAMETERS = {
        "num_negatives": ExecutionParameter(type=int),
        "seed": ExecutionParameter(type=int),
        "min_lift": ExecutionParameter(type=float),
        "max_regression": ExecutionParameter(type=float),
    }
    INPUTS = {
        "model": ChannelParameter(type=standard_artifacts.Model),
        "examples": ChannelParameter(type=standard_artifacts.Examples),
        "transform_graph": ChannelParameter(type=standard_artifacts.TransformGraph),
        "baseline_model": ChannelParameter(type=standard_artifacts.Model, optional=True),
        "model_run": ChannelParameter(type=standard_artifacts.ModelRun, optional=True),
    }
    OUTPUTS = {
        "evaluation": ChannelParameter(type=standard_artifacts.ModelEvaluation),
        "blessing": ChannelParameter(type=standard_artifacts.ModelBlessing),
    }


class RankingEvaluator(base_component.BaseComponent):
    """Ranking metrics on the test split and the blessing the Pusher obeys.

    Example:
        evaluator = RankingEvaluator(
            model=trainer.outputs["model"], examples=sequences.outputs["sequences"],
            transform_graph=transform.outputs["transform_graph"],
            baseline_model=latest_blessed.outputs["model"], model_run=trainer.outputs["model_run"],
            num_negatives=100, seed=42, min_lift=0.05, max_regression=0.05)
        pusher = Pusher(model=trainer.outputs["model"], model_blessing=evaluator.outputs["blessing"], ...)
    """

    SPEC_CLASS = RankingEvaluatorSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, model: types.BaseChannel, examples: types.BaseChannel, transform_graph: types.BaseChannel,
                 num_negatives: int, seed: int, min_lift: float, max_regression: float,
                 baseline_model: Optional[types.BaseChannel] = None, model_run: Optional[types.BaseChannel] = None):
        if num_negatives < 1:
            raise ValueError("num_negatives must be at least 1")
        if min_lift < 0 or not 0 <= max_regression < 1:
            raise ValueError("min_lift must be >= 0 and max_regression in [0, 1)")
        super().__init__(spec=RankingEvaluatorSpec(
            model=model, examples=examples, transform_graph=transform_graph, baseline_model=baseline_model,
            model_run=model_run, num_negatives=int(num_negatives), seed=int(seed), min_lift=float(min_lift),
            max_regression=float(max_regression),
            evaluation=types.Channel(type=standard_artifacts.ModelEvaluation),
            blessing=types.Channel(type=standard_artifacts.ModelBlessing)))
