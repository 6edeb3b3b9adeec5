"""Runs the pipeline on this machine: LocalDagRunner, SQLite metadata, Beam's DirectRunner."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import sasrec  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

from tfx import v1 as tfx

from pipeline import pipeline as sasrec_pipeline
from sasrec.config import SASRecConfig
from sasrec.data.formats import ColumnNames

PIPELINE_NAME = "sasrec"


def output_paths(output_dir: Path) -> dict:
    """Where a run under `output_dir` keeps its pipeline root, metadata and pushed models."""
    return {
        "pipeline_root": output_dir / "pipeline_root",
        "metadata": output_dir / "metadata.sqlite",
        "serving": output_dir / "serving",
    }


def latest_evaluation(output_dir: Path) -> Optional[dict]:
    """The newest RankingEvaluator outputs under `output_dir`: report path, blessed, reasons."""
    root = output_paths(Path(output_dir))["pipeline_root"] / "RankingEvaluator"
    executions = sorted((int(p.name) for p in (root / "blessing").glob("*") if p.name.isdigit()), reverse=True)
    if not executions:
        return None
    blessing_dir = root / "blessing" / str(executions[0])
    verdict = next(iter(sorted(blessing_dir.glob("*BLESSED"))), None)
    return {
        "report": root / "evaluation" / str(executions[0]) / "report.md",
        "blessed": verdict is not None and verdict.name == "BLESSED",
        "reasons": verdict.read_text().splitlines() if verdict else [],
    }


def run(output_dir: Path, ratings_path: str, ratings_format: str, config: SASRecConfig,
        columns: ColumnNames = ColumnNames(), delimiter: str = ",", ratings_schema: Optional[str] = None,
        beam_pipeline_args: Optional[List[str]] = None, enable_cache: bool = True,
        stop_after: Optional[str] = None) -> None:
    paths = output_paths(Path(output_dir))
    paths["pipeline_root"].mkdir(parents=True, exist_ok=True)
    tfx.orchestration.LocalDagRunner().run(sasrec_pipeline.create_pipeline(
        pipeline_name=PIPELINE_NAME,
        pipeline_root=str(paths["pipeline_root"]),
        ratings_path=ratings_path,
        ratings_format=ratings_format,
        config=config,
        serving_dir=str(paths["serving"]),
        columns=columns,
        delimiter=delimiter,
        ratings_schema=ratings_schema or sasrec_pipeline.RATINGS_SCHEMA,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            str(paths["metadata"])),
        beam_pipeline_args=beam_pipeline_args,
        enable_cache=enable_cache,
        stop_after=stop_after,
    ))
