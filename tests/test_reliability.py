"""Failures mid-run, concurrent runs, reproducibility and provenance, on whole pipeline runs."""
import glob
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sasrec import cli, provenance, run_lock
from sasrec.data import synthetic

pytestmark = pytest.mark.slow

# Learnable in seconds: the model beats popularity, so a completed run pushes.
TINY_MODEL = ["--epochs", "30", "--max-len", "50", "--top-k", "10"]
# Loss values of two runs with the same seed on CPU; the tolerance allows for thread scheduling in
# reductions.
LOSS_RTOL = 1e-4


def _run_args(ratings, output_dir, *extra):
    return ["run", "--ratings", str(ratings), "--output-dir", str(output_dir), *TINY_MODEL, *extra]


def _executions_of_last_run(output_dir):
    """{component id: execution state name} of the newest pipeline run in the metadata store."""
    import ml_metadata as mlmd
    from ml_metadata.proto import metadata_store_pb2
    from tfx.orchestration import metadata

    store = mlmd.MetadataStore(metadata.sqlite_metadata_connection_config(str(output_dir / "metadata.sqlite")))
    run = max(store.get_contexts_by_type("pipeline_run"), key=lambda c: c.create_time_since_epoch)
    states = {}
    for execution in store.get_executions_by_context(run.id):
        nodes = [c for c in store.get_contexts_by_execution(execution.id) if c.type == "node"]
        component = nodes[0].name.split(".")[-1]
        states[component] = metadata_store_pb2.Execution.State.Name(execution.last_known_state)
    return states


def _versions(serving_dir):
    return sorted(os.listdir(serving_dir)) if serving_dir.is_dir() else []


def _run_records(output_dir):
    return [json.loads(p.read_text()) for p in sorted((output_dir / "runs").glob("*.json"))]


def _assert_metadata_intact(output_dir):
    with sqlite3.connect(output_dir / "metadata.sqlite") as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@pytest.fixture(scope="module")
def ratings(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "ratings.dat"
    synthetic.generate_ratings(path, num_users=300, num_items=150, num_ratings=15000, seed=3)
    return path


@pytest.fixture(scope="module")
def recovered_run(ratings, tmp_path_factory):
    """A run whose Trainer fails after writing its model, then the same command again."""
    from modules import export

    output_dir = tmp_path_factory.mktemp("recovered")
    injected = pytest.MonkeyPatch()
    save = export.save_serving_model

    def save_then_fail(*args, **kwargs):
        save(*args, **kwargs)
        raise RuntimeError("injected Trainer failure")

    # The Trainer reloads its module file; modules.export stays the one patched here.
    injected.setattr(export, "save_serving_model", save_then_fail)
    try:
        with pytest.raises(Exception, match="injected Trainer failure"):
            cli.main(_run_args(ratings, output_dir))
    finally:
        injected.undo()
    after_failure = {"versions": _versions(output_dir / "serving"), "records": _run_records(output_dir)}
    assert cli.main(_run_args(ratings, output_dir)) == 0
    return output_dir, after_failure


@pytest.fixture(scope="module")
def fresh_run(ratings, tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("fresh")
    assert cli.main(_run_args(ratings, output_dir)) == 0
    return output_dir


def test_trainer_failure_pushes_nothing_and_rerun_reuses_upstream(recovered_run):
    output_dir, after_failure = recovered_run
    assert after_failure["versions"] == []  # not even a hidden staging folder
    failed, = after_failure["records"]
    assert failed["status"] == "failed" and "injected Trainer failure" in failed["error"]
    assert glob.glob(str(output_dir / "pipeline_root/Trainer/model/*/Format-Serving/saved_model.pb"))
    assert failed["pushed"] == []

    states = _executions_of_last_run(output_dir)
    upstream = ["RatingsExampleGen", "StatisticsGen", "SchemaGen", "CuratedSchema", "ExampleValidator",
                "UserSequences", "SequencesSchema", "Transform"]
    assert {name: states[name] for name in upstream} == {name: "CACHED" for name in upstream}
    assert states["Trainer"] == "COMPLETE" and states["Pusher"] == "COMPLETE"
    versions = _versions(output_dir / "serving")
    assert len(versions) == 1 and versions[0].isdigit()
    assert _run_records(output_dir)[-1]["pushed"] == [str(output_dir / "serving" / versions[0])]
    _assert_metadata_intact(output_dir)


def test_same_data_config_and_seed_give_identical_splits_vocabulary_and_metrics(recovered_run, fresh_run):
    first, _ = recovered_run

    def outputs(output_dir):
        root = output_dir / "pipeline_root"
        return sorted(glob.glob(str(root / "UserSequences/sequences/*/Split-*/*"))) + \
            glob.glob(str(root / "Transform/transform_graph/*/transform_fn/assets/item_ids"))

    first_files, second_files = outputs(first), outputs(fresh_run)
    assert len(first_files) == len(second_files) >= 4
    for a, b in zip(first_files, second_files):
        assert Path(a).name == Path(b).name and Path(a).read_bytes() == Path(b).read_bytes(), a

    def history(output_dir):
        path, = glob.glob(str(output_dir / "pipeline_root/Trainer/model_run/*/training_history.json"))
        return json.loads(Path(path).read_text())["history"]

    first_history, second_history = history(first), history(fresh_run)
    for key in ("loss", "val_loss", "val_ndcg@10"):
        assert first_history[key] == pytest.approx(second_history[key], rel=LOSS_RTOL), key


def test_run_records_config_packages_and_data_checksum(ratings, fresh_run):
    record, = _run_records(fresh_run)
    assert record["status"] == "succeeded" and record["config"]["epochs"] == 30
    assert record["ratings"]["files"] == [{"path": str(ratings), "bytes": ratings.stat().st_size,
                                           "sha256": provenance.file_sha256(str(ratings))}]
    assert record["packages"]["tfx"] == "1.16.0" and record["packages"]["tensorflow"].startswith("2.16")
    pushed, = record["pushed"]
    training = json.loads((Path(pushed) / "assets.extra" / "training_record.json").read_text())
    assert training["config"] == record["config"] and training["packages"] == record["packages"]
    summary, = glob.glob(str(fresh_run / "pipeline_root/RatingsExampleGen/examples/*/ingestion_summary.json"))
    assert json.loads(Path(summary).read_text())["files"] == [
        {"path": str(ratings), "sha256": provenance.file_sha256(str(ratings))}]


def test_second_run_on_a_busy_output_dir_is_refused(tmp_path, capsys):
    with run_lock.exclusive(tmp_path):
        assert cli.main(["run", "--output-dir", str(tmp_path)]) == 2
    message = capsys.readouterr().err.strip()
    assert f"pid {os.getpid()}" in message and str(tmp_path) in message and "\n" not in message
    with run_lock.exclusive(tmp_path):  # released
        pass


def _held(output_dir):
    try:
        run_lock.check_free(output_dir)
    except run_lock.RunInProgressError:
        return True
    return False


def _wait_for(predicate, process, timeout):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert process.poll() is None, process.stdout.read()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)


def test_killed_run_refuses_company_while_alive_and_reruns_to_completion(ratings, tmp_path):
    argv = _run_args(ratings, tmp_path)  # training lasts seconds: time to kill it
    sasrec = [str(Path(sys.executable).parent / "sasrec")]
    first = subprocess.Popen(sasrec + argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             start_new_session=True)
    try:
        _wait_for(lambda: _held(tmp_path), first, 120)
        second = subprocess.run(sasrec + argv, capture_output=True, text=True, timeout=300)
        assert second.returncode == 2
        assert f"another sasrec run (pid {first.pid}" in second.stderr and "Traceback" not in second.stderr
        _wait_for(lambda: glob.glob(str(tmp_path / "pipeline_root/Trainer/model_run/*/train")), first, 300)
        assert not glob.glob(str(tmp_path / "pipeline_root/Trainer/model/*/Format-Serving")), "trained too fast"
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert _versions(tmp_path / "serving") == []
    _assert_metadata_intact(tmp_path)

    assert cli.main(argv) == 0
    states = _executions_of_last_run(tmp_path)
    assert states["UserSequences"] == "CACHED" and states["Transform"] == "CACHED"
    assert states["Trainer"] == "COMPLETE"
    assert len(_versions(tmp_path / "serving")) == 1
    records = _run_records(tmp_path)
    assert [r["status"] for r in records] == ["interrupted", "succeeded"]  # the killed run never finished
    _assert_metadata_intact(tmp_path)
