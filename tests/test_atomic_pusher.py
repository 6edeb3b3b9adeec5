"""Pushing is atomic: a version folder appears complete or not at all."""
import os

import pytest
from tfx.proto import pusher_pb2
from tfx.types import standard_artifacts
from tfx.utils import io_utils, proto_utils

from components import atomic_pusher


def _artifacts(tmp_path, blessed=True):
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "model")
    serving = tmp_path / "model" / "Format-Serving"
    (serving / "variables").mkdir(parents=True)
    (serving / "saved_model.pb").write_bytes(b"graph")
    (serving / "variables" / "variables.index").write_bytes(b"index")
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = str(tmp_path / "blessing")
    blessing.set_int_custom_property("blessed", int(blessed))
    pushed = standard_artifacts.PushedModel()
    pushed.uri = str(tmp_path / "pushed")
    destination = pusher_pb2.PushDestination(
        filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=str(tmp_path / "serving")))
    return ({"model": [model], "model_blessing": [blessing]}, {"pushed_model": [pushed]},
            {"push_destination": proto_utils.proto_to_json(destination)})


def test_push_writes_a_complete_version_and_no_staging(tmp_path):
    inputs, outputs, properties = _artifacts(tmp_path)
    atomic_pusher.Executor().Do(inputs, outputs, properties)
    version, = os.listdir(tmp_path / "serving")
    assert version.isdigit()
    assert (tmp_path / "serving" / version / "saved_model.pb").read_bytes() == b"graph"
    assert (tmp_path / "serving" / version / "variables" / "variables.index").exists()
    assert outputs["pushed_model"][0].get_int_custom_property("pushed") == 1

    atomic_pusher.Executor().Do(inputs, outputs, properties)
    versions = sorted(int(v) for v in os.listdir(tmp_path / "serving"))
    assert len(versions) == 2 and versions[1] > versions[0]


def test_failure_mid_copy_leaves_no_version_folder(tmp_path, monkeypatch):
    inputs, outputs, properties = _artifacts(tmp_path)
    copied = []

    def failing_copy(src, dst, overwrite=False):
        copied.append(dst)
        if len(copied) == 2:
            raise OSError("disk full")
        return original(src, dst, overwrite)

    original = io_utils.fileio.copy
    monkeypatch.setattr(io_utils.fileio, "copy", failing_copy)
    with pytest.raises(OSError):
        atomic_pusher.Executor().Do(inputs, outputs, properties)
    assert copied and os.listdir(tmp_path / "serving") == []


def test_unblessed_model_is_not_pushed(tmp_path):
    inputs, outputs, properties = _artifacts(tmp_path, blessed=False)
    atomic_pusher.Executor().Do(inputs, outputs, properties)
    assert not (tmp_path / "serving").exists() or os.listdir(tmp_path / "serving") == []
    assert outputs["pushed_model"][0].get_int_custom_property("pushed") == 0
