"""The `sasrec` command. Parsing and `--help` import no TensorFlow; each command imports what it needs."""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
import warnings
from pathlib import Path
from typing import List, NoReturn, Optional

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # before any TensorFlow import, in this process and its children
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# google-api-core warns about Python 3.10 on every import of a cloud client; TFX pins us to 3.10.
warnings.filterwarnings("ignore", category=FutureWarning)

from sasrec import run_lock  # noqa: E402  (standard library only)
from sasrec.config import SASRecConfig  # noqa: E402
from sasrec.data.formats import FORMATS  # noqa: E402  (standard library only)
# Size of the data `sasrec run` generates when given no ratings: learnable in minutes on 2 cores.
DEFAULT_GENERATED = {"users": 1000, "items": 500, "ratings": 60_000}


class UsageError(Exception):
    """A problem the user can fix from the command line; printed without a traceback, exit code 2."""


class RunStopped(Exception):
    """The pipeline stopped on purpose (bad data); printed without a traceback, exit code 1."""


class _ArgumentParser(argparse.ArgumentParser):
    """Argument errors in one line, like the commands' own (exit code 2); `--help` shows the usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {_one_line(message)} (see {self.prog} --help)\n")

    def _get_values(self, action, arg_strings):
        # Python 3.10's argparse drops the value of `--epochs=--` and hands the flag [], unconverted.
        if action.nargs is None and arg_strings == ["--"]:
            value = self._get_value(action, "--")
            self._check_value(action, value)
            return value
        return super()._get_values(action, arg_strings)


def _one_line(text: str) -> str:
    """`text` for a one-line message: newlines (from paths or values the user typed) escaped."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _find_cause(error: BaseException, types: tuple) -> Optional[BaseException]:
    while error is not None and not isinstance(error, types):
        error = error.__cause__ or error.__context__
    return error


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model and training settings (defaults: the seed's)")
    for field in dataclasses.fields(SASRecConfig):
        group.add_argument(
            "--" + field.name.replace("_", "-"), dest=field.name, type=type(field.default),
            default=field.default, choices=field.metadata.get("choices"),
            help=f"{field.metadata['help']} (default: {field.default})")


def config_from_args(args: argparse.Namespace) -> SASRecConfig:
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(SASRecConfig)}
    try:
        return SASRecConfig(**values)
    except ValueError as error:
        raise UsageError(str(error)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(
        prog="sasrec",
        description="Train SASRec on rating histories with a TFX pipeline and push a model that "
                    "TensorFlow Serving loads.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run", help="run the pipeline locally (LocalDagRunner, SQLite metadata, Beam DirectRunner)",
        description="Run the whole pipeline. With no data argument it runs on generated data.")
    source = run.add_mutually_exclusive_group()
    source.add_argument("--ratings", metavar="FILE", help="a ratings file (or glob) of --format")
    source.add_argument("--dataset", choices=["ml-1m"], help="download (once, verified) and use a public dataset")
    run.add_argument("--format", dest="ratings_format", choices=FORMATS, default="ml-1m",
                     help="format of --ratings (default: ml-1m)")
    run.add_argument("--columns", default="user_id,item_id,rating,timestamp",
                     help="for --format csv: the user, item, rating and timestamp column names, in that order")
    run.add_argument("--delimiter", default=",", help="for --format csv: the field delimiter")
    run.add_argument("--schema", help="curated ratings schema (default: pipeline/schema/ratings/schema.pbtxt)")
    run.add_argument("--output-dir", default="output", type=Path,
                     help="holds the pipeline root, the SQLite metadata and the serving directory (default: output)")
    run.add_argument("--cache-dir", type=Path, help="where downloads are kept (default: ~/.cache/sasrec)")
    run.add_argument("--beam-arg", action="append", default=[], metavar="ARG",
                     help="a Beam pipeline argument, e.g. --beam-arg=--direct_num_workers=2 (repeatable)")
    run.add_argument("--stop-after", choices=["sequences"], help="stop after building the sequence splits")
    run.add_argument("--no-cache", action="store_true", help="rerun every component instead of reusing results")
    _add_config_flags(run)

    generate = commands.add_parser("generate", help="write synthetic ML-1M-format ratings with sequential structure")
    generate.add_argument("--output", type=Path, required=True, help="ratings.dat to write")
    generate.add_argument("--users", type=int, default=6040)
    generate.add_argument("--items", type=int, default=3700)
    generate.add_argument("--ratings", type=int, default=1_000_000, help="approximate number of ratings")
    generate.add_argument("--seed", type=int, default=0)

    recommend = commands.add_parser("recommend", help="top-k items for a history, from a pushed model")
    target = recommend.add_mutually_exclusive_group(required=True)
    target.add_argument("--model", type=Path,
                        help="a SavedModel, or a serving directory (its newest version is used)")
    target.add_argument("--server", metavar="HOST:PORT", help="a TensorFlow Serving server")
    recommend.add_argument("--protocol", choices=["rest", "grpc"], default="rest",
                           help="with --server: REST (port 8501) or gRPC (port 8500) (default: rest)")
    recommend.add_argument("--model-name", default="sasrec", help="with --server: the served model's name")
    recommend.add_argument("--history", required=True, help="comma-separated raw item IDs, oldest first")
    recommend.add_argument("--movies", type=Path, help="movies.dat or movies.csv, to print titles")

    report = commands.add_parser("report", help="regenerate the evaluation report of a run")
    report.add_argument("directory", type=Path,
                        help="a run's --output-dir (its newest evaluation) or an evaluation directory")

    from kubeflow import runner as kubeflow_runner

    parser.set_defaults(extra_handlers=kubeflow_runner.add_cli(commands, _add_config_flags, config_from_args))
    return parser


def _generated_ratings(output_dir: Path) -> Path:
    from sasrec.data import synthetic

    path = output_dir / "data" / "ratings.dat"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        summary = synthetic.generate_ratings(
            path, num_users=DEFAULT_GENERATED["users"], num_items=DEFAULT_GENERATED["items"],
            num_ratings=DEFAULT_GENERATED["ratings"], seed=0)
        print(f"Generated {summary['ratings']} ratings of {summary['users']} users into {path}")
    return path


def _ratings_source(args: argparse.Namespace):
    """(path, format) of the ratings the run reads."""
    if args.dataset == "ml-1m":
        from sasrec.data import download

        return str(download.fetch_ml_1m(args.cache_dir) / "ratings.dat"), "ml-1m"
    if args.ratings:
        if not any(ch in args.ratings for ch in "*?[") and "://" not in args.ratings \
                and not os.path.isfile(args.ratings):
            raise UsageError(f"--ratings {args.ratings}: no such file")
        return args.ratings, args.ratings_format
    return str(_generated_ratings(args.output_dir)), "ml-1m"


def cmd_run(args: argparse.Namespace) -> int:
    from sasrec.data.formats import ColumnNames, FormatError, check_csv_options

    config = config_from_args(args)
    names = [c.strip() for c in args.columns.split(",")]
    if len(names) != 4 or not all(names):
        raise UsageError("--columns needs four comma-separated names: user,item,rating,timestamp")
    if args.ratings_format == "csv":
        try:
            check_csv_options(ColumnNames(*names), args.delimiter)
        except ValueError as error:
            raise UsageError(f"--columns/--delimiter: {error}") from None
    if args.schema and "://" not in args.schema and not os.path.isfile(args.schema):
        raise UsageError(f"--schema {args.schema}: no such file")
    output_dir = args.output_dir.resolve()
    try:
        run_lock.check_free(output_dir)  # before seconds of imports; the run takes the lock itself
    except run_lock.RunInProgressError as error:
        raise UsageError(str(error)) from None
    ratings_path, ratings_format = _ratings_source(args)
    serving_dir = output_dir / "serving"

    started = time.monotonic()
    from components.ratings_example_gen import TooManyRejectsError
    from components.sequences import DataAnomaliesError
    from pipeline import local_runner
    from sasrec import serving

    try:
        record = local_runner.run(
            output_dir=output_dir, ratings_path=ratings_path, ratings_format=ratings_format, config=config,
            columns=ColumnNames(*names), delimiter=args.delimiter, ratings_schema=args.schema,
            beam_pipeline_args=args.beam_arg, enable_cache=not args.no_cache, stop_after=args.stop_after)
    except run_lock.RunInProgressError as error:
        raise UsageError(str(error)) from None
    except Exception as error:  # noqa: BLE001  (the orchestrator may wrap the component's error)
        cause = _find_cause(error, (TooManyRejectsError, DataAnomaliesError, FormatError))
        if cause is None:
            raise
        if isinstance(cause, FormatError):  # the file or its flags are wrong: a usage error
            raise FormatError(str(cause)) from None
        raise RunStopped(str(cause)) from None
    print(f"Pipeline finished in {time.monotonic() - started:.0f} s; outputs in {output_dir}; "
          f"run record (config, package versions, data checksum): {record}")
    if args.stop_after is None:
        evaluation = local_runner.latest_evaluation(output_dir)
        if evaluation:
            verdict = "blessed: pushed" if evaluation["blessed"] else "NOT blessed: not pushed"
            print(f"Model {verdict}, because")
            for reason in evaluation["reasons"]:
                print(f"  - {reason}")
            print(f"Report: {evaluation['report']}")
        versions = serving.pushed_versions(serving_dir)
        if versions:
            print(f"Newest pushed model (what TF Serving loads from {serving_dir}): {versions[-1]}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from sasrec.data import synthetic

    if min(args.users, args.items, args.ratings) < 1:
        raise UsageError("--users, --items and --ratings must be positive")
    if args.items < 2 or args.ratings < args.users or args.seed < 0:
        raise UsageError("--items must be at least 2, --ratings at least --users (each user rates an item) "
                         "and --seed at least 0")
    if args.output.is_dir():
        raise UsageError(f"--output {args.output} is a directory; name the ratings file to write")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    try:
        summary = synthetic.generate_ratings(args.output, num_users=args.users, num_items=args.items,
                                             num_ratings=args.ratings, seed=args.seed)
    except (ValueError, MemoryError) as error:  # numpy: sizes beyond what an array or this memory holds
        raise UsageError(f"--users {args.users} and --items {args.items} are too large to generate "
                         f"({str(error) or type(error).__name__})") from None
    print(f"Wrote {summary['ratings']} ratings ({summary['users']} users, {summary['items']} items) to {args.output}")
    return 0


def cmd_recommend(args: argparse.Namespace) -> int:
    from sasrec import serving

    history = [item.strip() for item in args.history.split(",") if item.strip()]
    try:
        titles = serving.load_titles(args.movies) if args.movies else {}
    except UnicodeDecodeError as error:
        raise UsageError(f"--movies {args.movies}: a .csv file must be UTF-8 ({error.reason} at byte "
                         f"{error.start})") from None
    if args.server is not None:  # `--server ""` too: an address error, not a local model
        from sasrec import serving_client

        results = serving_client.recommend_remote(args.server, history, protocol=args.protocol,
                                                  model_name=args.model_name)
    else:
        results = serving.recommend_local(args.model, history)
    for rank, (item_id, score) in enumerate(results, start=1):
        title = titles.get(item_id, "")
        print(f"{rank:3d}. {item_id:>10s}  {score:8.3f}  {title}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from sasrec import report

    directory = args.directory
    if not (directory / report.METRICS_FILE).exists():
        evaluations = sorted((directory / "pipeline_root" / "RankingEvaluator" / "evaluation").glob("*"),
                             key=lambda p: int(p.name) if p.name.isdigit() else -1)
        directory = evaluations[-1] if evaluations else directory
    try:
        path = report.regenerate(directory)
    except (ValueError, KeyError, TypeError) as error:  # not UTF-8 or JSON, or not an evaluation's metrics
        raise UsageError(f"{directory / report.METRICS_FILE} is not the metrics.json of an evaluation "
                         f"({type(error).__name__}: {error})") from None
    print(f"Report: {path}")
    return 0


def _user_errors():
    """Exceptions whose message is the whole story for the user."""
    from sasrec.data.formats import FormatError

    from kubeflow.runner import USER_ERRORS
    from sasrec.data.download import DatasetUnavailable
    from sasrec.serving_client import ServingError

    path_errors = (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError)
    return (UsageError, FormatError, *path_errors, DatasetUnavailable, ServingError, *USER_ERRORS)


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {"run": cmd_run, "generate": cmd_generate, "recommend": cmd_recommend, "report": cmd_report, **args.extra_handlers}
    try:
        return handlers[args.command](args)
    except _user_errors() as error:
        print(f"sasrec {args.command}: error: {_one_line(str(error))}", file=sys.stderr)
        return 2
    except RunStopped as error:
        print(f"sasrec {args.command}: stopped: {_one_line(str(error))}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
