"""The evaluation report: a Markdown page with PNG figures, written beside metrics.json.

`write_report(metrics, out_dir)` only reads the metrics dictionary (the content of metrics.json),
so `sasrec report DIR` regenerates the same page from the file alone.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List

METRICS_FILE = "metrics.json"
REPORT_FILE = "report.md"
KS = (1, 5, 10, 20)
PROTOCOLS = ("full", "sampled")


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _scorers(metrics: Dict) -> List[str]:
    return [name for name in ("model", "popularity", "baseline_model") if name in metrics]


def _plot_hit_rate(metrics: Dict, path: Path) -> None:
    plt = _figure()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, protocol in zip(axes, PROTOCOLS):
        for name in _scorers(metrics):
            ax.plot(KS, [metrics[name][protocol][f"hr@{k}"] for k in KS], marker="o", label=name)
        ax.set_title(f"HR@K, {protocol} ranking")
        ax.set_xlabel("K")
        ax.set_xticks(KS)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("hit rate")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_by_length(metrics: Dict, path: Path) -> None:
    plt = _figure()
    buckets = metrics["model"]["ndcg@10_by_length"]
    names = list(buckets)
    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.8 / len(_scorers(metrics))
    for offset, name in enumerate(_scorers(metrics)):
        values = [metrics[name]["ndcg@10_by_length"].get(b, {}).get("ndcg@10", 0.0) for b in names]
        ax.bar([i + offset * width for i in range(len(names))], values, width=width, label=name)
    ax.set_xticks([i + width * (len(_scorers(metrics)) - 1) / 2 for i in range(len(names))])
    ax.set_xticklabels([f"{b}\n({buckets[b]['users']} users)" for b in names])
    ax.set_xlabel("interactions per user")
    ax.set_ylabel("NDCG@10 (full ranking)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_losses(training: Dict, path: Path) -> None:
    plt = _figure()
    history = training["history"]
    epochs = range(1, len(history.get("loss", [])) + 1)
    fig, ax = plt.subplots(figsize=(7, 4))
    for key, label in (("loss", "train loss"), ("val_loss", "eval loss")):
        if history.get(key):
            ax.plot(epochs, history[key], marker=".", label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    if history.get("val_ndcg@10"):
        twin = ax.twinx()
        twin.plot(epochs, history["val_ndcg@10"], color="tab:green", linestyle="--", label="eval NDCG@10")
        twin.set_ylabel("eval NDCG@10")
        twin.legend(loc="center right")
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def metrics_table(metrics: Dict) -> str:
    """Markdown table: one row per scorer and protocol, one column per metric."""
    columns = [f"HR@{k}" for k in KS] + [f"NDCG@{k}" for k in KS] + ["MRR"]
    keys = [f"hr@{k}" for k in KS] + [f"ndcg@{k}" for k in KS] + ["mrr"]
    lines = ["| scorer | protocol | " + " | ".join(columns) + " |",
             "|---|---|" + "---:|" * len(columns)]
    for name in _scorers(metrics):
        for protocol in PROTOCOLS:
            values = " | ".join(f"{metrics[name][protocol][key]:.4f}" for key in keys)
            lines.append(f"| {name} | {protocol} | {values} |")
    return "\n".join(lines)


def write_report(metrics: Dict, out_dir: Path) -> Path:
    """Writes report.md and its figures into `out_dir`; returns the report's path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _plot_hit_rate(metrics, out_dir / "hit_rate_at_k.png")
    _plot_by_length(metrics, out_dir / "ndcg_by_length.png")
    blessing = metrics.get("blessing", {})
    lines = [
        "# SASRec evaluation report", "",
        f"Test split: {metrics['users']} users, catalogue of {metrics['catalogue']} items. "
        f"`full`: the next item ranked against the whole catalogue, the user's history excluded; "
        f"`sampled`: against {metrics.get('num_negatives', 100)} items the user never interacted with "
        f"(seed {metrics.get('seed', 0)}). Ties count against the model.", "",
        metrics_table(metrics), "",
    ]
    if blessing:
        verdict = "BLESSED (will be pushed)" if blessing["blessed"] else "NOT BLESSED (will not be pushed)"
        lines += [f"## Blessing: {verdict}", ""] + [f"- {reason}" for reason in blessing["reasons"]] + [""]
    lines += ["## HR@K", "", "![HR@K](hit_rate_at_k.png)", "",
              "## NDCG@10 by history length", "", "![NDCG@10 by history length](ndcg_by_length.png)", "",
              "| interactions | users | model NDCG@10 | popularity NDCG@10 |", "|---|---:|---:|---:|"]
    for bucket, values in metrics["model"]["ndcg@10_by_length"].items():
        popularity = metrics["popularity"]["ndcg@10_by_length"].get(bucket, {}).get("ndcg@10", 0.0)
        lines.append(f"| {bucket} | {values['users']} | {values['ndcg@10']:.4f} | {popularity:.4f} |")
    lines.append("")
    training = metrics.get("training")
    if training and training.get("history", {}).get("loss"):
        _plot_losses(training, out_dir / "loss_curves.png")
        lines += ["## Training", "",
                  f"Best epoch by eval NDCG@10: {training.get('best_epoch')} of {len(training['history']['loss'])}.",
                  "", "![loss curves](loss_curves.png)", ""]
    path = out_dir / REPORT_FILE
    path.write_text("\n".join(lines))
    return path


def regenerate(directory: Path) -> Path:
    """Rewrites the report from `directory/metrics.json`."""
    metrics_path = Path(directory) / METRICS_FILE
    if not metrics_path.exists():
        raise FileNotFoundError(f"{metrics_path} not found: pass an evaluation directory or a run's --output-dir")
    return write_report(json.loads(metrics_path.read_text()), Path(directory))
