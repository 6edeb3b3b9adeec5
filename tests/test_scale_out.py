"""Beyond one process: Beam's multi-process DirectRunner, and training under MirroredStrategy."""
import json
import subprocess
import sys

import pytest

from sasrec import cli
from sasrec.data import synthetic

pytestmark = pytest.mark.slow

SMALL_RUN = ["--epochs", "15", "--max-len", "20", "--bless-min-lift", "0", "--bless-max-regression", "0.99"]

# MirroredStrategy over two logical CPU devices; devices must be set before TensorFlow uses them,
# so the run happens in a fresh interpreter.
MIRRORED = """
import sys
import sasrec
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
assert len(tf.config.list_logical_devices("CPU")) == 2
from sasrec import cli
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.fixture(scope="module")
def ratings(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "ratings.dat"
    synthetic.generate_ratings(path, num_users=150, num_items=50, num_ratings=4000, seed=4)
    return path


def _serves(output_dir):
    import tensorflow as tf

    version, = (output_dir / "serving").iterdir()
    out = tf.saved_model.load(str(version)).signatures["serving_default"](history=tf.constant([["1", "2"]]))
    return out["item_ids"].shape == (1, 10) and bool(tf.reduce_all(tf.math.is_finite(out["scores"])))


def test_whole_pipeline_on_multi_process_direct_runner(ratings, tmp_path):
    beam = ["--beam-arg=--direct_running_mode=multi_processing", "--beam-arg=--direct_num_workers=2"]
    assert cli.main(["run", "--ratings", str(ratings), "--output-dir", str(tmp_path), *SMALL_RUN, *beam]) == 0
    assert _serves(tmp_path)


def test_training_under_mirrored_strategy_on_two_cpu_devices(ratings, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED, "run", "--ratings", str(ratings), "--output-dir", str(tmp_path),
         *SMALL_RUN, "--distribution", "mirrored"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Training with MirroredStrategy over 2 replica(s)" in result.stdout
    history, = tmp_path.glob("pipeline_root/Trainer/model_run/*/training_history.json")
    assert json.loads(history.read_text())["replicas"] == 2
    assert _serves(tmp_path)
