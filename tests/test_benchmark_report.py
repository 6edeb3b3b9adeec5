"""benchmarks/run.py's bookkeeping: medians, target checks and the README table (not the runs)."""
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("benchmark_run", ROOT / "benchmarks" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _side(epoch, ndcg):
    return {"median_epoch_seconds": epoch, "median_train_seconds": epoch * 0.7, "sequences_per_second": 600 / epoch,
            "hr@10": 2 * ndcg, "ndcg@10": ndcg, "peak_rss_mib": 1800.0}


def _results(ml_1m_peer_epoch, short_peer_epoch, rows_per_second, peak_gib):
    training = {}
    for name, peer_epoch in (("ml-1m-scale", ml_1m_peer_epoch), ("ml-latest-small", short_peer_epoch)):
        ours, peer = _side(1.0, 0.2), _side(peer_epoch, 0.1)
        training[name] = {"ours": ours, "peer": peer, "speedup": peer_epoch / 1.0, "train_speedup": peer_epoch / 1.0}
    serving = {"p50_ms": 2.0, "p99_ms": 3.0, "rows_per_second_batch_256": rows_per_second}
    return {"date": "2026-12-04", "epochs": 10, "training": training,
            "machine": {"cpu": "Test CPU", "cores": 2, "memory_gib": 24.0},
            "serving": {"catalogue": 3700, "calls": 500, "serving_default": serving, "score_items": serving},
            "pipeline": {"seconds": 300.0, "peak_gib": peak_gib, "component_seconds": {"Trainer": 100.0, "Pusher": 0.1}}}


def test_median_leaves_out_the_first_epoch(bench):
    assert bench.steady_median([30.0, 9.0, 10.0, 11.0]) == 10.0
    assert bench.steady_median([7.0]) == 7.0


def test_targets_are_checked_against_the_issue(bench):
    met = bench.check_targets(_results(2.5, 5.5, 2500.0, 1.8))
    assert all(check["met"] for check in met.values()), met
    missed = bench.check_targets(_results(1.9, 4.0, 1900.0, 4.5))
    assert {name for name, check in missed.items() if not check["met"]} == {
        "ml-1m-scale: training speed-up", "ml-latest-small: training speed-up",
        "serving_default rows/s at 256", "pipeline peak GiB"}


def test_table_goes_between_the_markers(bench, tmp_path):
    results = _results(2.5, 5.5, 2500.0, 1.8)
    results["targets"] = bench.check_targets(results)
    readme = tmp_path / "README.md"
    readme.write_text(f"# Benchmarks\n\n{bench.TABLE_START}\nold\n{bench.TABLE_END}\n\nnotes\n")
    bench.write_outputs(results, tmp_path / "results.json", readme)
    text = readme.read_text()
    assert "old" not in text and text.endswith(f"{bench.TABLE_END}\n\nnotes\n")
    assert "Test CPU, 2 cores" in text and "| ml-1m-scale | speed-up | 2.50x |" in text
    assert "| Trainer | 100.0 |" in text and "Pusher" not in text  # components under 0.5 s left out
    assert (tmp_path / "results.json").exists()
