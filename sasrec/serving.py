"""Using a pushed model in process: find its newest version, call its signatures, show titles."""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Dict, List, Sequence, Tuple


def pushed_versions(serving_dir: Path) -> List[Path]:
    """The integer version folders holding a SavedModel (TF Serving's layout), oldest first."""
    versions = [p for p in Path(serving_dir).glob("*") if p.name.isdigit() and (p / "saved_model.pb").exists()]
    return sorted(versions, key=lambda p: int(p.name))


def newest_version(model_dir: Path) -> Path:
    """`model_dir` itself if it is a SavedModel, else its highest integer version folder."""
    model_dir = Path(model_dir)
    if (model_dir / "saved_model.pb").exists():
        return model_dir
    versions = pushed_versions(model_dir)
    if not versions:
        raise FileNotFoundError(f"{model_dir} holds no SavedModel (expected saved_model.pb or integer version folders)")
    return versions[-1]


def recommend_local(model_dir: Path, history: Sequence[str]) -> List[Tuple[str, float]]:
    """Top-k (item ID, score) pairs for one history from the model's `serving_default` signature."""
    import sasrec  # noqa: F401  (TF_USE_LEGACY_KERAS)
    import tensorflow as tf

    signature = tf.saved_model.load(str(newest_version(model_dir))).signatures["serving_default"]
    outputs = signature(history=tf.constant([list(history) or [""]], dtype=tf.string))
    items = [i.decode("utf-8") for i in outputs["item_ids"].numpy()[0]]
    scores = outputs["scores"].numpy()[0].tolist()
    return [(item, score) for item, score in zip(items, scores) if item]


def load_titles(path: Path) -> Dict[str, str]:
    """Item ID -> title from ML-1M `movies.dat` (`id::title::genres`) or ML-latest `movies.csv`."""
    path = Path(path)
    raw = path.read_bytes()
    if path.suffix == ".csv":
        rows = csv.reader(io.StringIO(raw.decode("utf-8")))
        next(rows, None)
        return {row[0]: row[1] for row in rows if len(row) >= 2}
    titles = {}
    for line in raw.decode("latin-1").splitlines():
        fields = line.split("::")
        if len(fields) >= 2:
            titles[fields[0]] = fields[1]
    return titles
