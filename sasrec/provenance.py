"""What made an output: package versions and data checksums, recorded next to what a run writes.

Standard library only, so the CLI and components can call it without importing TensorFlow.
"""
from __future__ import annotations

import glob
import hashlib
import os
import platform
from importlib import metadata
from typing import Callable, Dict, List

# The packages whose versions decide what a run computes.
PACKAGES = ("sasrec-tfx", "tfx", "tensorflow", "tf-keras", "tensorflow-transform", "tensorflow-data-validation",
            "apache-beam", "ml-metadata", "numpy", "protobuf")
_CHUNK = 1 << 20


def package_versions() -> Dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def file_sha256(path: str, opener: Callable = open) -> str:
    """SHA-256 of a file; `opener` (e.g. tf.io.gfile.GFile) reads remote paths."""
    digest = hashlib.sha256()
    with opener(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def local_files_record(pattern: str) -> List[Dict[str, object]]:
    """Path, size and SHA-256 of each local file `pattern` matches (empty for remote URIs)."""
    if "://" in pattern:
        return []
    return [{"path": path, "bytes": os.path.getsize(path), "sha256": file_sha256(path)}
            for path in sorted(glob.glob(pattern))]

