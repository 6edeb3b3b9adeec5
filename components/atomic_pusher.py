"""TFX's Pusher with an atomic filesystem push: a version folder appears complete or not at all.

TFX's own executor copies the model straight into `<base>/<version>/`, so a failure part-way
leaves a partial folder there. This one copies into a hidden staging folder beside it and renames
it into place (one rename on a local or POSIX filesystem), so TensorFlow Serving, which polls the
base directory, never sees a half-written version, and a failed push leaves nothing behind.
"""
from __future__ import annotations

import os
import time
from typing import Any, Dict, List

from tfx import types
from tfx.components.pusher import component as tfx_pusher_component
from tfx.components.pusher import executor as tfx_pusher
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, proto_utils

STAGING_PREFIX = ".staging-"


def push_atomically(model_path: str, base_directory: str, version: str) -> str:
    """Copies `model_path` to `<base_directory>/<version>` via a staging folder and a rename."""
    serving_path = os.path.join(base_directory, version)
    staging_path = os.path.join(base_directory, f"{STAGING_PREFIX}{version}-{os.getpid()}")
    fileio.makedirs(base_directory)
    try:
        io_utils.copy_dir(model_path, staging_path)
        fileio.rename(staging_path, serving_path)
    finally:
        if fileio.exists(staging_path):
            fileio.rmtree(staging_path)
    return serving_path


class Executor(tfx_pusher.Executor):
    """Pushes blessed models to a filesystem destination atomically; see the module docstring."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        model_push = artifact_utils.get_single_instance(output_dict[standard_component_specs.PUSHED_MODEL_KEY])
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(model_push)
            return
        model_path = self.GetModelPath(input_dict)
        destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination)
        if destination.WhichOneof("destination") != "filesystem":
            raise NotImplementedError("only filesystem push destinations are supported")

        base_directory = destination.filesystem.base_directory
        version = int(time.time())
        while fileio.exists(os.path.join(base_directory, str(version))):
            version += 1  # versions only grow: TF Serving serves the highest
        serving_path = push_atomically(model_path, base_directory, str(version))
        io_utils.copy_dir(model_path, model_push.uri)  # the artifact's own archive copy
        self._MarkPushed(model_push, pushed_destination=serving_path, pushed_version=str(version))


class AtomicPusher(tfx_pusher_component.Pusher):
    """TFX's Pusher (same arguments and outputs) with the atomic filesystem executor."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)
