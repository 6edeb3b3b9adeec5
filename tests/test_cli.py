"""The command line: fast help, one-line errors with exit code 2, settings from flags."""
import functools
import subprocess
import sys
import time

import pytest

from sasrec import cli
from sasrec.config import SASRecConfig
from sasrec.data import download


def test_help_is_fast_and_imports_no_tensorflow():
    code = "import sys, time; t = time.time(); from sasrec import cli; cli.build_parser(); " \
           "print(time.time() - t); assert 'tensorflow' not in sys.modules and 'tfx' not in sys.modules"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert float(out.stdout) < 2.0
    started = time.time()
    subprocess.run([sys.executable, "-m", "sasrec.cli", "--help"], capture_output=True, check=True)
    assert time.time() - started < 5.0  # includes interpreter start-up


def test_every_config_field_is_a_flag_with_the_seed_defaults():
    args = cli.build_parser().parse_args(["run"])
    assert cli.config_from_args(args) == SASRecConfig()
    seed = SASRecConfig()
    assert (seed.max_len, seed.min_rating, seed.min_sequence_length, seed.batch_size, seed.epochs,
            seed.learning_rate, seed.beta_2, seed.num_blocks, seed.num_heads, seed.hidden_dim, seed.dropout) == \
           (200, 2.0, 3, 128, 10, 1e-3, 0.98, 2, 1, 50, 0.2)
    args = cli.build_parser().parse_args(
        ["run", "--epochs", "20", "--loss", "sampled_softmax", "--max-len", "50", "--batch-size", "256"])
    config = cli.config_from_args(args)
    assert (config.epochs, config.loss, config.max_len, config.batch_size) == (20, "sampled_softmax", 50, 256)


@pytest.mark.parametrize("argv", [
    ["run", "--ratings", "/no/such/file.dat"],
    ["run", "--hidden-dim", "50", "--num-heads", "3"],
    ["run", "--min-sequence-length", "2"],
    ["run", "--columns", "a,b"],
    ["generate", "--output", "/tmp/x.dat", "--users", "0"],
    ["recommend", "--model", "/no/such/dir", "--history", "1,2"],
    ["recommend", "--server", "no-port", "--history", "1"],
])
def test_usage_errors_are_one_line_and_exit_2(argv, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"sasrec {argv[0]}: error:") and "\n" not in err and "Traceback" not in err


def test_bad_numbers_in_flags_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["run", "--epochs", "ten"])
    assert exit_info.value.code == 2


def test_offline_download_says_what_to_do(tmp_path, monkeypatch, capsys):
    missing = functools.partial(download.fetch_ml_1m, url=(tmp_path / "absent.zip").as_uri())
    monkeypatch.setattr(download, "fetch_ml_1m", missing)
    assert cli.main(["run", "--dataset", "ml-1m", "--cache-dir", str(tmp_path / "cache"),
                     "--output-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "--ratings" in err and str(tmp_path / "cache") in err and "Traceback" not in err
