"""Runs the pipeline on this machine: LocalDagRunner, SQLite metadata, Beam's DirectRunner.

One run at a time per output directory: a second run on the same directory is refused while the
first holds its lock (the kernel releases it when the process ends, even by SIGKILL). Each run
writes `runs/<run id>.json` under the output directory: the command, config, package versions,
the ratings files' SHA-256, the outcome and the model version it pushed.
"""
from __future__ import annotations

import datetime
import json
import os
import sys
from pathlib import Path
from typing import List, Optional

import sasrec  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

from tfx import v1 as tfx

from pipeline import pipeline as sasrec_pipeline
from sasrec import provenance, serving
from sasrec.run_lock import exclusive
from sasrec.config import SASRecConfig
from sasrec.data.formats import ColumnNames

PIPELINE_NAME = "sasrec"


def output_paths(output_dir: Path) -> dict:
    """Where a run under `output_dir` keeps its pipeline root, metadata and pushed models."""
    return {
        "pipeline_root": output_dir / "pipeline_root",
        "metadata": output_dir / "metadata.sqlite",
        "serving": output_dir / "serving",
        "runs": output_dir / "runs",
    }


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _mark_interrupted(runs_dir: Path) -> None:
    """Records still "running" when the lock is free belong to runs that died (e.g. SIGKILL)."""
    for path in runs_dir.glob("*.json"):
        record = json.loads(path.read_text())
        if record.get("status") == "running":
            record["status"] = "interrupted"
            _write_json_atomically(path, record)


def _write_json_atomically(path: Path, record: dict) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(record, indent=2, default=str))
    os.replace(temporary, path)


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
        stop_after: Optional[str] = None) -> Path:
    """Runs the pipeline under `output_dir`'s lock; returns the path of the run's record."""
    output_dir = Path(output_dir)
    paths = output_paths(output_dir)
    with exclusive(output_dir):
        paths["pipeline_root"].mkdir(parents=True, exist_ok=True)
        paths["runs"].mkdir(exist_ok=True)
        _mark_interrupted(paths["runs"])
        started = _now()
        record_path = paths["runs"] / f"{started.replace(':', '')[:17]}-{os.getpid()}.json"
        record = {"status": "running", "started": started, "command": sys.argv,
                  "ratings": {"pattern": ratings_path, "format": ratings_format,
                              "files": provenance.local_files_record(ratings_path)},
                  "config": config.to_dict(), "packages": provenance.package_versions()}
        _write_json_atomically(record_path, record)
        before = set(serving.pushed_versions(paths["serving"]))
        try:
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
            record["status"] = "succeeded"
        except BaseException as error:
            record.update(status="failed", error=f"{type(error).__name__}: {error}")
            raise
        finally:
            record["finished"] = _now()
            record["pushed"] = [str(v) for v in serving.pushed_versions(paths["serving"]) if v not in before]
            _write_json_atomically(record_path, record)
    return record_path
