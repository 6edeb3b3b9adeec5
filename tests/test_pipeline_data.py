"""The data half of the pipeline under LocalDagRunner: ingestion, validation, sequences, caching."""
import json
import os

import pytest

from sasrec import cli
from sasrec.data import synthetic

pytestmark = pytest.mark.slow

DATA_ARGS = ["--stop-after", "sequences"]


def _run(ratings, output_dir, *extra):
    return cli.main(["run", "--ratings", str(ratings), "--output-dir", str(output_dir), *DATA_ARGS, *extra])


def _store(output_dir):
    import ml_metadata as mlmd
    from tfx.orchestration import metadata

    return mlmd.MetadataStore(metadata.sqlite_metadata_connection_config(str(output_dir / "metadata.sqlite")))


@pytest.fixture(scope="module")
def ratings(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "ratings.dat"
    synthetic.generate_ratings(path, num_users=60, num_items=40, num_ratings=1500, seed=1)
    return path


def test_run_records_artifacts_and_second_run_is_cached(ratings, tmp_path):
    from ml_metadata.proto import metadata_store_pb2

    assert _run(ratings, tmp_path) == 0
    store = _store(tmp_path)
    examples = store.get_artifacts_by_type("Examples")
    assert len(examples) == 2  # the ratings and the sequence splits
    sequences = [a for a in examples if "UserSequences" in a.uri][0]
    assert sequences.properties["split_names"].string_value == '["train", "eval", "test"]'
    ratings_artifact = [a for a in examples if "RatingsExampleGen" in a.uri][0]
    assert ratings_artifact.custom_properties["ratings"].int_value == 1500
    assert ratings_artifact.custom_properties["rejected_lines"].int_value == 0
    anomalies = store.get_artifacts_by_type("ExampleAnomalies")
    assert len(anomalies) == 1
    for split in ("train", "eval", "test"):
        assert os.listdir(os.path.join(sequences.uri, f"Split-{split}"))

    first = len(store.get_executions())
    assert _run(ratings, tmp_path) == 0
    executions = store.get_executions()[first:]
    assert executions and all(e.last_known_state == metadata_store_pb2.Execution.CACHED for e in executions)


def _assert_stopped_on_anomaly(output_dir, err, anomaly):
    """The run stopped in one line that names `anomaly` and ExampleValidator's file, before any sequence."""
    assert err.startswith("sasrec run: stopped: the ratings do not match the schema") and err.count("\n") == 1
    assert "Traceback" not in err
    assert anomaly in err, err
    anomalies_file, = (output_dir / "pipeline_root").glob("ExampleValidator/anomalies/*/Split-ratings/SchemaDiff.pb")
    assert f"ExampleValidator's anomalies (an Anomalies proto): {anomalies_file.resolve()};" in err
    assert not list((output_dir / "pipeline_root").glob("UserSequences/sequences/*/Split-*"))
    summary, = (output_dir / "pipeline_root").glob("RatingsExampleGen/examples/*/ingestion_summary.json")
    return json.loads(summary.read_text())


def _with_line_changed(ratings, tmp_path, index, change):
    """A copy of `ratings` whose line `index` (its fields) is replaced by `change(fields)`."""
    bad = tmp_path / "ratings.dat"
    lines = ratings.read_text().splitlines()
    lines[index] = change(lines[index].split("::"))
    bad.write_text("\n".join(lines) + "\n")
    return bad


def test_anomaly_stops_the_run_before_sequences(ratings, tmp_path, capsys):
    """A rating outside the schema's range."""
    bad = _with_line_changed(ratings, tmp_path, 0, lambda f: f"{f[0]}::{f[1]}::9::{f[3]}")
    assert _run(bad, tmp_path / "out") == 1
    _assert_stopped_on_anomaly(tmp_path / "out", capsys.readouterr().err,
                               "feature 'rating': Out-of-range values [FLOAT_TYPE_BIG_FLOAT] "
                               "(Unexpectedly high value: 9>5")


def test_empty_id_stops_the_run_before_sequences(ratings, tmp_path, capsys):
    """An empty user ID is a missing value (not a malformed line) that the schema check reports."""
    bad = _with_line_changed(ratings, tmp_path, 100, lambda f: f" ::{f[1]}::{f[2]}::{f[3]}")
    assert _run(bad, tmp_path / "out") == 1
    summary = _assert_stopped_on_anomaly(
        tmp_path / "out", capsys.readouterr().err,
        "feature 'user_id': Missing values [FEATURE_TYPE_LOW_NUMBER_VALUES] "
        "(Some examples have fewer values than expected.)")
    assert summary["ratings"] == 1500 and summary["rejected_lines"] == 0


def test_new_column_stops_the_run_before_sequences(ratings, tmp_path, capsys):
    """A column the schema does not list (here in an ml-latest file) is carried through and reported."""
    bad = tmp_path / "ratings.csv"
    rows = [line.split("::") for line in ratings.read_text().splitlines()]
    tags = ["funny" if n == 7 else "" for n in range(len(rows))]
    bad.write_text("userId,movieId,rating,tag,timestamp\n"
                   + "".join(f"{u},{i},{r},{tag},{t}\n" for (u, i, r, t), tag in zip(rows, tags)))
    assert _run(bad, tmp_path / "out", "--format", "ml-latest") == 1
    summary = _assert_stopped_on_anomaly(
        tmp_path / "out", capsys.readouterr().err,
        "feature 'tag': New column [SCHEMA_NEW_COLUMN] (New column (column in data but not in schema))")
    assert summary["ratings"] == 1500 and summary["rejected_lines"] == 0


def test_malformed_lines_are_written_with_line_numbers(ratings, tmp_path, capsys):
    bad = tmp_path / "ratings.dat"
    lines = ratings.read_text().splitlines()
    lines.insert(9, "not a rating line")
    lines.insert(20, "1::2::three::4")
    bad.write_text("\n".join(lines) + "\n")

    assert _run(bad, tmp_path / "strict") == 1  # 2 of 1502 lines is more than the default 0.1%
    err = capsys.readouterr().err
    assert "2 of 1502 lines" in err and "rejects.tsv" in err and "Traceback" not in err

    assert _run(bad, tmp_path / "lenient", "--max-reject-fraction", "0.01") == 0
    rejects_file, = (tmp_path / "lenient" / "pipeline_root").glob("RatingsExampleGen/examples/*/rejects.tsv")
    rows = [line.split("\t") for line in rejects_file.read_text().splitlines()[1:]]
    assert [(int(row[1]), row[2]) for row in rows] == [
        (10, "wrong field count: expected 4, got 1"), (21, "non-numeric rating")]
    summary = json.loads((rejects_file.parent / "ingestion_summary.json").read_text())
    assert summary["ratings"] == 1500 and summary["rejected_lines"] == 2


def test_unreadable_header_is_one_line_error(tmp_path, capsys):
    path = tmp_path / "ratings.csv"
    path.write_text("who,what\n1,2\n")
    assert _run(path, tmp_path / "out", "--format", "ml-latest") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sasrec run: error:") and "\n" not in err
