import glob
import os

import pytest

# Before anything imports TensorFlow (the project sets it too; tests may import TF first).
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# The one pipeline run on generated data that the slow tests share (test_pipeline_e2e,
# test_properties_serving): its catalogue size and training flags.
E2E_NUM_ITEMS = 150
E2E_TRAIN_ARGS = ["--epochs", "30", "--max-len", "50", "--top-k", "10"]


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory):
    """The output directory of a whole pipeline run (slow: use it from tests marked slow only)."""
    from sasrec import cli
    from sasrec.data import synthetic

    root = tmp_path_factory.mktemp("e2e")
    synthetic.generate_ratings(root / "ratings.dat", num_users=300, num_items=E2E_NUM_ITEMS, num_ratings=15000,
                               seed=3)
    assert cli.main(["run", "--ratings", str(root / "ratings.dat"), "--output-dir", str(root / "out"),
                     *E2E_TRAIN_ARGS]) == 0
    return root / "out"


@pytest.fixture(scope="session")
def pushed(run_dir):
    versions = [p for p in (run_dir / "serving").iterdir()]
    assert len(versions) == 1 and versions[0].name.isdigit()  # TF Serving's <base>/<integer version>/
    return versions[0]


@pytest.fixture(scope="session")
def signatures(pushed):
    import tensorflow as tf

    return tf.saved_model.load(str(pushed)).signatures


@pytest.fixture(scope="session")
def vocabulary(run_dir):
    path, = glob.glob(str(run_dir / "pipeline_root/Transform/transform_graph/*/transform_fn/assets/item_ids"))
    return [line.rstrip("\n") for line in open(path)][1:]
