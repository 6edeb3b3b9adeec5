"""`make benchmark`: this pipeline beside the seed's Keras-RS SASRec, on the same data, in one run.

1. Training, per dataset (ML-1M-scale generated data; the same users and items with short
   histories, about 25 ratings each; ml-latest-small when it is on disk): the
   whole pipeline (`sasrec run`, default settings) and the peer (`benchmarks/peer/seed_sasrec.py`,
   the seed's hyper-parameters), one after the other, never at once. Seconds per epoch are medians
   over epochs 2..N (epoch 1 includes tracing / compilation); held-out HR@10 / NDCG@10 rank each
   user's last item against the whole catalogue, history excluded, on both sides.
2. Serving, in process, on the ML-1M-scale model (the pushed one, else the Trainer's export, which
   is what the Pusher would push): `serving_default` and `score_items` (101 candidates) latency at
   batch 1 and throughput at batch 256, 200-item histories.
3. The whole ML-1M-scale pipeline: wall time per component (from the metadata store's execution
   records) and in total, and the run's peak resident memory.

Writes benchmarks/results.json and the table in benchmarks/README.md (between its markers).
"""
from __future__ import annotations

import argparse
import datetime
import glob
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEER_PYTHON = HERE / "peer" / ".venv" / "bin" / "python"
PEER_SCRIPT = HERE / "peer" / "seed_sasrec.py"
SASREC = Path(sys.executable).parent / "sasrec"
ML_1M_SCALE = {"users": 6040, "items": 3700, "ratings": 1_000_000}
# The same users and items with about 25 ratings each: the short histories a padded-to-200 batch wastes most on.
SHORT_HISTORIES = {"users": 6040, "items": 3700, "ratings": 150_000}
TABLE_START, TABLE_END = "<!-- results:start -->", "<!-- results:end -->"
TARGETS = {
    "train_speedup_ml_1m_scale": 2.0,
    "train_speedup_short_histories": 5.0,
    "serving_p50_ms": 5.0,
    "serving_p99_ms": 15.0,
    "serving_rows_per_second": 2000.0,
    "pipeline_seconds": 15 * 60,
    "pipeline_peak_gib": 4.0,
}


def describe_machine() -> Dict[str, object]:
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                 platform.processor())
    memory_kb = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal"))
    return {"cpu": model, "cores": os.cpu_count(), "memory_gib": round(memory_kb / 2 ** 20, 1),
            "os": platform.platform(), "python": platform.python_version(), "gpu": None}


def run_measured(command: List[str], log_path: Path) -> Dict[str, float]:
    """Runs `command` to completion; its wall seconds and peak resident memory (its largest process)."""
    started = time.perf_counter()
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}); see {log_path}")
    return {"seconds": time.perf_counter() - started, "peak_rss_mib": usage.ru_maxrss / 1024}


def component_seconds(output_dir: Path) -> Dict[str, float]:
    import ml_metadata as mlmd
    from tfx.orchestration import metadata

    store = mlmd.MetadataStore(metadata.sqlite_metadata_connection_config(str(output_dir / "metadata.sqlite")))
    seconds = {}
    for execution in store.get_executions():
        node = next(c.name for c in store.get_contexts_by_execution(execution.id) if c.type == "node")
        seconds[node.split(".")[-1]] = (execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000
    return seconds


def steady_median(values: List[float]) -> float:
    """Median without the first epoch (tracing / compilation), unless there is only one."""
    return statistics.median(values[1:] if len(values) > 1 else values)


def run_ours(name: str, ratings: Path, ratings_format: str, work: Path, epochs: int) -> Dict[str, object]:
    output_dir = work / f"ours-{name}"
    subprocess.run(["rm", "-rf", str(output_dir)], check=True)
    measured = run_measured([str(SASREC), "run", "--ratings", str(ratings), "--format", ratings_format,
                             "--output-dir", str(output_dir), "--epochs", str(epochs)], work / f"ours-{name}.log")
    metrics_path, = glob.glob(str(output_dir / "pipeline_root/RankingEvaluator/evaluation/*/metrics.json"))
    metrics = json.loads(Path(metrics_path).read_text())
    history = metrics["training"]["history"]
    epoch = steady_median(history["epoch_seconds"])
    pushed = sorted(glob.glob(str(output_dir / "serving" / "[0-9]*")))
    return {
        "epoch_seconds": [round(s, 3) for s in history["epoch_seconds"]],
        "median_epoch_seconds": epoch,
        "median_train_seconds": steady_median(history["train_seconds"]),
        "sequences_per_second": metrics["training"]["train_sequences"] / epoch,
        "train_sequences": metrics["training"]["train_sequences"],
        "hr@10": metrics["model"]["full"]["hr@10"],
        "ndcg@10": metrics["model"]["full"]["ndcg@10"],
        "popularity_ndcg@10": metrics["popularity"]["full"]["ndcg@10"],
        "blessed": metrics["blessing"]["blessed"],
        "model_dir": pushed[-1] if pushed else metrics["model_uri"] + "/Format-Serving",
        "vocabulary": glob.glob(str(output_dir / "pipeline_root/Transform/transform_graph/*/transform_fn/assets/item_ids"))[0],
        "pipeline_seconds": measured["seconds"],
        "peak_rss_mib": measured["peak_rss_mib"],
        "component_seconds": component_seconds(output_dir),
    }


def run_peer(name: str, ratings: Path, ratings_format: str, work: Path, epochs: int) -> Dict[str, object]:
    output = work / f"peer-{name}.json"
    measured = run_measured([str(PEER_PYTHON), str(PEER_SCRIPT), "--ratings", str(ratings), "--format",
                             ratings_format, "--epochs", str(epochs), "--output", str(output)],
                            work / f"peer-{name}.log")
    result = json.loads(output.read_text())
    return {
        "epoch_seconds": result["epoch_seconds"],
        "median_epoch_seconds": result["median_epoch_seconds"],
        "median_train_seconds": result["median_epoch_train_seconds"],
        "sequences_per_second": result["sequences_per_second"],
        "train_sequences": result["num_train_sequences"],
        "hr@10": result["hr_at_10"],
        "ndcg@10": result["ndcg_at_10"],
        "wall_seconds": measured["seconds"],
        "peak_rss_mib": measured["peak_rss_mib"],
        "versions": result["versions"],
    }


def latency(call, repeats: int, warmup: int = 20) -> List[float]:
    for _ in range(warmup):
        call()
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return seconds


def percentile(values: List[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def benchmark_serving(model_dir: str, vocabulary_path: str, calls: int) -> Dict[str, object]:
    import numpy as np

    import sasrec  # noqa: F401  (TF_USE_LEGACY_KERAS)
    import tensorflow as tf

    catalogue = [line.rstrip("\n") for line in open(vocabulary_path)][1:]  # [PAD] first
    rng = np.random.default_rng(0)
    signatures = tf.saved_model.load(model_dir).signatures

    def histories(batch):
        return tf.constant([rng.choice(catalogue, size=200, replace=False).tolist() for _ in range(batch)])

    def candidates(batch):
        return tf.constant([rng.choice(catalogue, size=101, replace=False).tolist() for _ in range(batch)])

    results = {"model_dir": model_dir, "catalogue": len(catalogue), "history_length": 200, "calls": calls}
    inputs = {
        "serving_default": lambda batch: {"history": histories(batch)},
        "score_items": lambda batch: {"history": histories(batch), "candidates": candidates(batch)},
    }
    for name, make_inputs in inputs.items():
        one = make_inputs(1)
        single = latency(lambda: signatures[name](**one), calls)
        full = make_inputs(256)
        batched = latency(lambda: signatures[name](**full), max(10, calls // 20), warmup=3)
        results[name] = {"p50_ms": 1000 * percentile(single, 50), "p99_ms": 1000 * percentile(single, 99),
                         "rows_per_second_batch_256": 256 / statistics.median(batched)}
    return results


def prepare_data(work: Path, ml_latest_small: Optional[Path]) -> Dict[str, Dict[str, object]]:
    from sasrec.data import synthetic

    datasets = {}
    for name, size in (("ml-1m-scale", ML_1M_SCALE), ("short-histories", SHORT_HISTORIES)):
        path = work / name / "ratings.dat"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            synthetic.generate_ratings(path, num_users=size["users"], num_items=size["items"],
                                       num_ratings=size["ratings"], seed=0)
        datasets[name] = {"path": path, "format": "ml-1m",
                          "description": f"generated, {size['users']:,} users x {size['items']:,} items, "
                                         f"~{size['ratings']:,} ratings"}
    if ml_latest_small and ml_latest_small.exists():
        datasets["ml-latest-small"] = {"path": ml_latest_small, "format": "ml-latest",
                                       "description": "MovieLens ml-latest-small, 610 users, 100,836 ratings"}
    else:
        print(f"ml-latest-small not found at {ml_latest_small}: skipped", flush=True)
    return datasets


def check_targets(results: Dict[str, object]) -> Dict[str, Dict[str, object]]:
    checks = {}
    for name, training in results["training"].items():
        key = "train_speedup_ml_1m_scale" if name == "ml-1m-scale" else "train_speedup_short_histories"
        checks[f"{name}: training speed-up"] = {"target": f">= {TARGETS[key]}x", "measured": training["speedup"],
                                                "met": training["speedup"] >= TARGETS[key]}
        checks[f"{name}: NDCG@10 vs peer"] = {"target": ">= peer", "measured": training["ours"]["ndcg@10"],
                                              "met": training["ours"]["ndcg@10"] >= training["peer"]["ndcg@10"]}
    serving = results["serving"]["serving_default"]
    checks["serving_default p50 ms"] = {"target": f"< {TARGETS['serving_p50_ms']}", "measured": serving["p50_ms"],
                                        "met": serving["p50_ms"] < TARGETS["serving_p50_ms"]}
    checks["serving_default p99 ms"] = {"target": f"< {TARGETS['serving_p99_ms']}", "measured": serving["p99_ms"],
                                        "met": serving["p99_ms"] < TARGETS["serving_p99_ms"]}
    checks["serving_default rows/s at 256"] = {
        "target": f">= {TARGETS['serving_rows_per_second']:.0f}", "measured": serving["rows_per_second_batch_256"],
        "met": serving["rows_per_second_batch_256"] >= TARGETS["serving_rows_per_second"]}
    pipeline = results["pipeline"]
    checks["pipeline seconds"] = {"target": f"< {TARGETS['pipeline_seconds']}", "measured": pipeline["seconds"],
                                  "met": pipeline["seconds"] < TARGETS["pipeline_seconds"]}
    checks["pipeline peak GiB"] = {"target": f"< {TARGETS['pipeline_peak_gib']}", "measured": pipeline["peak_gib"],
                                   "met": pipeline["peak_gib"] < TARGETS["pipeline_peak_gib"]}
    return checks


def render_table(results: Dict[str, object]) -> str:
    machine = results["machine"]
    lines = [f"Measured {results['date']} on {machine['cpu']}, {machine['cores']} cores, "
             f"{machine['memory_gib']} GiB, no GPU; {results['epochs']} epochs each side.", "",
             "| Dataset | Side | s/epoch (median) | train s/epoch | sequences/s | HR@10 | NDCG@10 | peak RSS MiB |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for name, training in results["training"].items():
        for side in ("ours", "peer"):
            r = training[side]
            lines.append(f"| {name} | {side} | {r['median_epoch_seconds']:.2f} | {r['median_train_seconds']:.2f} | "
                         f"{r['sequences_per_second']:.0f} | {r['hr@10']:.4f} | {r['ndcg@10']:.4f} | "
                         f"{r['peak_rss_mib']:.0f} |")
        lines.append(f"| {name} | speed-up | {training['speedup']:.2f}x | {training['train_speedup']:.2f}x | | | | |")
    serving = results["serving"]
    lines += ["", f"Serving ({serving['catalogue']} items, 200-item histories, {serving['calls']} calls at batch 1):", "",
              "| Signature | p50 ms (batch 1) | p99 ms (batch 1) | rows/s (batch 256) |", "|---|---:|---:|---:|"]
    for name in ("serving_default", "score_items"):
        s = serving[name]
        lines.append(f"| {name} | {s['p50_ms']:.2f} | {s['p99_ms']:.2f} | {s['rows_per_second_batch_256']:.0f} |")
    pipeline = results["pipeline"]
    lines += ["", f"Whole pipeline, ML-1M scale: {pipeline['seconds']:.0f} s, peak RSS {pipeline['peak_gib']:.2f} GiB.",
              "", "| Component | seconds |", "|---|---:|"]
    lines += [f"| {name} | {seconds:.1f} |" for name, seconds in pipeline["component_seconds"].items() if seconds >= 0.5]
    lines += ["", "| Target | wanted | measured | met |", "|---|---|---:|---|"]
    lines += [f"| {name} | {c['target']} | {c['measured']:.3f} | {'yes' if c['met'] else 'NO'} |"
              for name, c in results["targets"].items()]
    return "\n".join(lines)


def write_outputs(results: Dict[str, object], results_path: Path, readme_path: Path) -> None:
    temporary = results_path.with_name(f".{results_path.name}.tmp")
    temporary.write_text(json.dumps(results, indent=2, default=str) + "\n")
    os.replace(temporary, results_path)
    readme = readme_path.read_text()
    start, end = readme.index(TABLE_START) + len(TABLE_START), readme.index(TABLE_END)
    readme_path.write_text(readme[:start] + "\n" + render_table(results) + "\n" + readme[end:])


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work-dir", type=Path, default=HERE / ".work", help="data, runs and logs")
    parser.add_argument("--ml-latest-small", type=Path,
                        default=ROOT.parent / "shared" / "data" / "ml-latest-small" / "ratings.csv")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--serving-calls", type=int, default=500)
    parser.add_argument("--results", type=Path, default=HERE / "results.json")
    parser.add_argument("--readme", type=Path, default=HERE / "README.md")
    args = parser.parse_args(argv)
    args.work_dir.mkdir(parents=True, exist_ok=True)

    results = {"date": datetime.date.today().isoformat(), "machine": describe_machine(), "epochs": args.epochs,
               "training": {}}
    ours_by_dataset = {}
    for name, dataset in prepare_data(args.work_dir, args.ml_latest_small).items():
        print(f"[{name}] pipeline ...", flush=True)
        ours = run_ours(name, dataset["path"], dataset["format"], args.work_dir, args.epochs)
        print(f"[{name}] peer ...", flush=True)
        peer = run_peer(name, dataset["path"], dataset["format"], args.work_dir, args.epochs)
        ours_by_dataset[name] = ours
        results["training"][name] = {
            "data": dataset["description"],
            "ours": {k: v for k, v in ours.items() if k not in ("model_dir", "vocabulary", "component_seconds")},
            "peer": peer,
            "speedup": peer["median_epoch_seconds"] / ours["median_epoch_seconds"],
            "train_speedup": peer["median_train_seconds"] / ours["median_train_seconds"],
        }
        print(json.dumps(results["training"][name], default=str)[:2000], flush=True)

    ml_1m = ours_by_dataset["ml-1m-scale"]
    print("serving ...", flush=True)
    results["serving"] = benchmark_serving(ml_1m["model_dir"], ml_1m["vocabulary"], args.serving_calls)
    results["pipeline"] = {"seconds": ml_1m["pipeline_seconds"], "peak_gib": ml_1m["peak_rss_mib"] / 1024,
                           "component_seconds": ml_1m["component_seconds"]}
    results["targets"] = check_targets(results)
    write_outputs(results, args.results, args.readme)
    print(render_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
