"""Compiles the pipeline for Kubeflow Pipelines V2 / Vertex AI Pipelines, and submits the result.

A thin runner, like `pipeline/local_runner.py`: `compile_pipeline` builds the pipeline with
`pipeline.pipeline.create_pipeline` and writes the PipelineJob JSON that TFX's
`KubeflowV2DagRunner` makes of it. Nothing here talks to the cloud at compile time: user code is
named by module path (`modules.preprocessing.preprocessing_fn`, `modules.trainer.run_fn`), so the
compiler builds no wheel into the pipeline root; the code comes with the image
(`kubeflow/Dockerfile`).

Every task runs `python -m tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor
--executor_class_path <executor>` in the image; the custom components' executors
(`components.ratings_example_gen.Executor`, `components.sequences.Executor`) are imported there.

Files of the project that the pipeline names by local path (the curated schemas under
`pipeline/schema/`) are rewritten to their place in the image, `IMAGE_PROJECT_ROOT`, which the
Dockerfile's WORKDIR holds.

Per-component resources: TFX 1.16's V2 compiler copies a component's `platform_config`, when it is
a `PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec`, into the task's container spec
(`resources`: cpuLimit, memoryLimit in GB, accelerator type and count). `Resources` and
`compile_pipeline(trainer_resources=..., component_resources=...)` set it. The compiler ignores it
for a FileBasedExampleGen (RatingsExampleGen), so that is refused here.

`add_cli` registers the `compile-kubeflow` and `submit` commands. Importing this module is cheap
(no TensorFlow, no TFX): the handlers import what they need.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import sasrec  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)
from sasrec.data.formats import FORMATS, ColumnNames, check_csv_options

DEFAULT_PIPELINE_NAME = "sasrec"
# Where kubeflow/Dockerfile puts the project's source in the image (its WORKDIR).
IMAGE_PROJECT_ROOT = "/pipeline"
# The directory holding the project's top-level packages on this machine.
LOCAL_PROJECT_ROOT = str(Path(__file__).resolve().parent.parent)
TRAINER_ID = "Trainer"
# Bounds of the int64 fields that numbers end up in (an accelerator count, an integer parameter).
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class CompileError(ValueError):
    """A setting of the compile that cannot work; the message says which."""


class SubmitError(ValueError):
    """A submit that cannot work (bad file, missing option, unknown parameter); the message says why."""


def _positive_finite(value: Any) -> bool:
    """Whether `value` is a number above 0 that a float holds (not NaN, not infinite, not huge)."""
    try:
        return value > 0 and math.isfinite(float(value))
    except (TypeError, ValueError, OverflowError):
        return False


@dataclasses.dataclass(frozen=True)
class Resources:
    """Container resources of one task: vCPUs, memory in GB, and an accelerator.

    `accelerator_type` is what the backend understands: on Vertex an accelerator name such as
    `NVIDIA_TESLA_T4` or `NVIDIA_L4`; on Kubeflow Pipelines a resource name such as `nvidia.com/gpu`.
    """

    cpu: Optional[float] = None
    memory_gb: Optional[float] = None
    accelerator_type: Optional[str] = None
    accelerator_count: int = 1

    def __post_init__(self) -> None:
        for name in ("cpu", "memory_gb"):
            value = getattr(self, name)
            if value is not None and not _positive_finite(value):
                raise CompileError(f"{name} must be positive and finite, got {value}")
        if self.accelerator_type is not None and not 1 <= self.accelerator_count <= INT64_MAX:
            raise CompileError(f"accelerator_count must be at least 1 (and fit in int64), "
                               f"got {self.accelerator_count}")

    def is_empty(self) -> bool:
        return self.cpu is None and self.memory_gb is None and not self.accelerator_type

    def to_proto(self):
        """The ResourceSpec proto that TFX's Kubeflow V2 compiler reads from `platform_config`."""
        from kfp.pipeline_spec import pipeline_spec_pb2

        spec = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec()
        if self.cpu is not None:
            spec.cpu_limit = float(self.cpu)
        if self.memory_gb is not None:
            spec.memory_limit = float(self.memory_gb)
        if self.accelerator_type:
            spec.accelerator.type = self.accelerator_type
            spec.accelerator.count = int(self.accelerator_count)
        return spec


def dataflow_beam_args(project: str, region: str, temp_location: str,
                       sdk_container_image: Optional[str] = None) -> List[str]:
    """Beam arguments that run every Beam component on Dataflow.

    The workers run the pipeline image (`sdk_container_image`): the TFX image's entrypoint is Beam's
    SDK harness, and the project's packages (whose functions the Beam stages call) are in it.
    """
    if not (project and region and temp_location):
        raise CompileError("Dataflow needs a project, a region and a temp location")
    args = ["--runner=DataflowRunner", f"--project={project}", f"--region={region}",
            f"--temp_location={temp_location}"]
    if sdk_container_image:
        args.append(f"--sdk_container_image={sdk_container_image}")
    return args


def _relocate_project_paths(components: Sequence[Any], local_root: str, image_root: str) -> None:
    """Rewrites execution properties that are paths into this checkout to their place in the image."""
    prefix = local_root.rstrip(os.sep) + os.sep
    for component in components:
        exec_properties = getattr(component, "exec_properties", None)
        if not isinstance(exec_properties, dict):
            continue
        for key, value in list(exec_properties.items()):
            if isinstance(value, str) and value.startswith(prefix):
                relative = value[len(prefix):].replace(os.sep, "/")
                exec_properties[key] = f"{image_root.rstrip('/')}/{relative}"


def _apply_resources(components: Sequence[Any], resources: Mapping[str, Resources]) -> None:
    from tfx.components import FileBasedExampleGen
    from tfx.dsl.components.base import base_component

    by_id = {component.id: component for component in components}
    for component_id, spec in resources.items():
        if spec is None or spec.is_empty():
            continue
        component = by_id.get(component_id)
        if component is None:
            raise CompileError(f"no component {component_id!r} in the pipeline; it has: "
                               f"{', '.join(sorted(by_id))}")
        if isinstance(component, FileBasedExampleGen) or \
                not isinstance(component, base_component.BaseComponent):
            raise CompileError(f"TFX 1.16's Kubeflow V2 compiler ignores resources of {component_id!r}")
        component.with_platform_config(spec.to_proto())


def compile_pipeline(
    output_file: str,
    image: str,
    pipeline_root: str,
    ratings_path: str,
    ratings_format: str,
    config,
    serving_dir: Optional[str] = None,
    beam_pipeline_args: Optional[List[str]] = None,
    trainer_resources: Optional[Resources] = None,
    component_resources: Optional[Mapping[str, Resources]] = None,
    pipeline_name: str = DEFAULT_PIPELINE_NAME,
    display_name: Optional[str] = None,
    columns: ColumnNames = ColumnNames(),
    delimiter: str = ",",
    ratings_schema: Optional[str] = None,
    enable_cache: bool = True,
    stop_after: Optional[str] = None,
    image_project_root: str = IMAGE_PROJECT_ROOT,
) -> Dict[str, Any]:
    """Writes the Kubeflow V2 PipelineJob of the pipeline to `output_file` and returns it (parsed).

    `output_file` ending in `.yaml`/`.yml` gets the bare PipelineSpec as YAML (TFX's choice), any
    other name the PipelineJob JSON (`displayName`, `labels`, `pipelineSpec`, `runtimeConfig`).
    `serving_dir` defaults to `<pipeline_root>/serving`. `ratings_schema` defaults to the project's
    curated schema, read from the image. `component_resources` maps component IDs to `Resources`;
    `trainer_resources` is the same for the Trainer.
    """
    if not image:
        raise CompileError("an image is required: every task runs in it")
    if not pipeline_root:
        raise CompileError("a pipeline root is required")
    if stop_after is not None and stop_after != "sequences":
        raise CompileError(f"stop_after must be None or 'sequences', got {stop_after!r}")

    from tfx import v1 as tfx

    from pipeline import pipeline as sasrec_pipeline

    resources = dict(component_resources or {})
    if trainer_resources is not None:
        if stop_after is not None:
            raise CompileError("trainer resources were given but the pipeline stops before the Trainer")
        resources[TRAINER_ID] = trainer_resources

    pipeline = sasrec_pipeline.create_pipeline(
        pipeline_name=pipeline_name,
        pipeline_root=pipeline_root,
        ratings_path=ratings_path,
        ratings_format=ratings_format,
        config=config,
        serving_dir=serving_dir or pipeline_root.rstrip("/") + "/serving",
        columns=columns,
        delimiter=delimiter,
        ratings_schema=ratings_schema or sasrec_pipeline.RATINGS_SCHEMA,
        beam_pipeline_args=list(beam_pipeline_args or []),
        enable_cache=enable_cache,
        stop_after=stop_after,
    )
    _relocate_project_paths(pipeline.components, LOCAL_PROJECT_ROOT, image_project_root)
    _apply_resources(pipeline.components, resources)

    output_dir, output_name = os.path.split(output_file)
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
            display_name=display_name, default_image=image),
        output_dir=output_dir or ".",
        output_filename=output_name)
    return runner.run(pipeline, write_out=True)


# ---------------------------------------------------------------------------------------------
# Submitting a compiled pipeline.

def load_pipeline_file(path: str) -> Dict[str, Any]:
    """The PipelineJob dict of a compiled file: `{"pipelineSpec": ..., "runtimeConfig": ...}`.

    Accepts the JSON `compile_pipeline` writes and a bare PipelineSpec (JSON or YAML).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise SubmitError(f"cannot read the pipeline file {path}: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise SubmitError(f"{path} is not a compiled pipeline: not UTF-8 text ({error.reason} at byte "
                          f"{error.start})") from None
    try:
        if path.endswith((".yaml", ".yml")):
            import yaml

            document = yaml.safe_load(text)
        else:
            document = json.loads(text)
    except Exception as error:  # noqa: BLE001  (json or yaml syntax errors)
        raise SubmitError(f"{path} is not a compiled pipeline: {error}".splitlines()[0]) from None
    if not isinstance(document, dict):
        raise SubmitError(f"{path} is not a compiled pipeline")
    if "pipelineSpec" not in document:
        document = {"pipelineSpec": document}
    spec = document["pipelineSpec"]
    if not isinstance(spec, dict) or "root" not in spec or "pipelineInfo" not in spec:
        raise SubmitError(f"{path} is not a compiled pipeline (no pipelineSpec root/pipelineInfo)")
    return document


def pipeline_parameters(job: Mapping[str, Any]) -> Dict[str, str]:
    """The pipeline's runtime parameters: name -> type (STRING, INT, DOUBLE, NUMBER_INTEGER, ...)."""
    definitions = job["pipelineSpec"].get("root", {}).get("inputDefinitions", {}).get("parameters", {})
    return {name: body.get("parameterType") or body.get("type") or "STRING"
            for name, body in definitions.items()}


def _no_json_constant(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _convert_parameter(name: str, text: str, kind: str) -> Any:
    """The value of parameter `name` of type `kind`, as the pipeline service takes it (JSON: no NaN or
    infinity; integers in int64)."""
    try:
        if kind in ("INT", "NUMBER_INTEGER"):
            value = int(text)
            if not INT64_MIN <= value <= INT64_MAX:
                raise SubmitError(f"parameter {name}: {text!r} is outside the range of a {kind} (int64)")
            return value
        if kind in ("DOUBLE", "NUMBER_DOUBLE"):
            value = float(text)
            if not math.isfinite(value):
                raise SubmitError(f"parameter {name}: {text!r} is not a finite {kind}")
            return value
        if kind == "BOOLEAN":
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError(text)
            return text.lower() in ("true", "1")
        if kind in ("LIST", "STRUCT"):
            value = json.loads(text, parse_constant=_no_json_constant)
            if not isinstance(value, list if kind == "LIST" else dict):
                raise ValueError(text)
            return value
    except SubmitError:
        raise
    except ValueError:
        raise SubmitError(f"parameter {name}: {text!r} is not a valid {kind}") from None
    return text


def parse_parameters(pairs: Sequence[str], job: Mapping[str, Any]) -> Dict[str, Any]:
    """`["k=v", ...]` -> `{k: v}`, each name checked against, and each value typed by, the pipeline."""
    known = pipeline_parameters(job)
    values: Dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise SubmitError(f"--parameter {pair!r}: expected NAME=VALUE")
        if name not in known:
            raise SubmitError(f"the pipeline has no parameter {name!r}; it has: "
                              f"{', '.join(sorted(known)) or 'none'}")
        values[name] = _convert_parameter(name, text, known[name])
    return values


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def submission_plan(pipeline_file: str, *, vertex_project: Optional[str] = None,
                    vertex_region: Optional[str] = None, kfp_endpoint: Optional[str] = None,
                    parameters: Sequence[str] = (), pipeline_root: Optional[str] = None,
                    display_name: Optional[str] = None, service_account: Optional[str] = None,
                    enable_caching: Optional[bool] = None, experiment: Optional[str] = None,
                    namespace: Optional[str] = None) -> Dict[str, Any]:
    """Everything a submit sends, checked; `--dry-run` prints this."""
    if bool(vertex_project) == bool(kfp_endpoint):
        raise SubmitError("give exactly one target: --vertex-project (with --vertex-region) or --kfp-endpoint")
    if vertex_project and not vertex_region:
        raise SubmitError("--vertex-project needs --vertex-region (e.g. us-central1)")
    if vertex_project and (experiment or namespace):
        raise SubmitError("--experiment and --namespace are for --kfp-endpoint")
    if kfp_endpoint and vertex_region:
        raise SubmitError("--vertex-region is for --vertex-project")
    job = load_pipeline_file(pipeline_file)
    root = pipeline_root or job.get("runtimeConfig", {}).get("gcsOutputDirectory") \
        or job["pipelineSpec"].get("defaultPipelineRoot")
    if not root:
        raise SubmitError(f"{pipeline_file} names no pipeline root; pass --pipeline-root")
    if vertex_project and not root.startswith("gs://"):
        raise SubmitError(f"Vertex AI Pipelines needs a gs:// pipeline root, got {root}")
    spec = job["pipelineSpec"]
    executors = spec.get("deploymentSpec", {}).get("executors", {})
    images = sorted({body["container"]["image"] for body in executors.values()
                     if "container" in body and "image" in body["container"]})
    plan: Dict[str, Any] = {
        "target": "vertex" if vertex_project else "kfp",
        "pipeline_name": spec["pipelineInfo"]["name"],
        "display_name": display_name or job.get("displayName") or spec["pipelineInfo"]["name"],
        "pipeline_root": root,
        "parameters": parse_parameters(parameters, job),
        "enable_caching": enable_caching,
        "service_account": service_account,
        "pipeline_file": os.path.abspath(pipeline_file),
        "sha256": _sha256(pipeline_file),
        "images": images,
    }
    if vertex_project:
        plan.update(project=vertex_project, region=vertex_region)
    else:
        plan.update(endpoint=kfp_endpoint, experiment=experiment, namespace=namespace)
    return plan


def submit(plan: Mapping[str, Any]) -> str:
    """Sends `plan` (from `submission_plan`); returns the job's resource name or run ID."""
    if plan["target"] == "vertex":
        from google.cloud import aiplatform

        job = aiplatform.PipelineJob(
            display_name=plan["display_name"],
            template_path=plan["pipeline_file"],
            pipeline_root=plan["pipeline_root"],
            parameter_values=dict(plan["parameters"]),
            enable_caching=plan["enable_caching"],
            project=plan["project"],
            location=plan["region"])
        job.submit(service_account=plan["service_account"])
        return str(getattr(job, "resource_name", "") or plan["display_name"])

    import kfp

    # The KFP client reads a bare PipelineSpec from a .yaml file; JSON is YAML.
    job = load_pipeline_file(plan["pipeline_file"])
    with tempfile.TemporaryDirectory(prefix="sasrec-kfp-") as folder:
        package = os.path.join(folder, "pipeline.yaml")
        with open(package, "w", encoding="utf-8") as handle:
            json.dump(job["pipelineSpec"], handle)
        client_args = {"namespace": plan["namespace"]} if plan.get("namespace") else {}
        client = kfp.Client(host=plan["endpoint"], **client_args)
        result = client.create_run_from_pipeline_package(
            package,
            arguments=dict(plan["parameters"]),
            run_name=plan["display_name"],
            experiment_name=plan.get("experiment"),
            namespace=plan.get("namespace"),
            pipeline_root=plan["pipeline_root"],
            enable_caching=plan["enable_caching"],
            service_account=plan["service_account"])
    return str(getattr(result, "run_id", "") or plan["display_name"])


# ---------------------------------------------------------------------------------------------
# Command line.

def _is_remote(path: str) -> bool:
    return "://" in path


def _columns(text: str, ratings_format: str, delimiter: str) -> ColumnNames:
    """The --columns of a csv file, checked with --delimiter as `sasrec run` checks them."""
    names = [name.strip() for name in text.split(",")]
    if len(names) != 4 or not all(names):
        raise CompileError("--columns needs four comma-separated names: user,item,rating,timestamp")
    columns = ColumnNames(*names)
    if ratings_format == "csv":
        try:
            check_csv_options(columns, delimiter)
        except ValueError as error:
            raise CompileError(f"--columns/--delimiter: {error}") from None
    return columns


def _resources_from_args(args: argparse.Namespace) -> Optional[Resources]:
    for flag, value in (("--trainer-cpu", args.trainer_cpu), ("--trainer-memory", args.trainer_memory)):
        if value is not None and not _positive_finite(value):
            raise CompileError(f"{flag} must be a positive finite number, got {value}")
    count = args.trainer_accelerator_count
    if count is not None:
        if not args.trainer_accelerator:
            raise CompileError("--trainer-accelerator-count needs --trainer-accelerator")
        if not 1 <= count <= INT64_MAX:
            raise CompileError(f"--trainer-accelerator-count must be at least 1 and at most {INT64_MAX}, "
                               f"got {count}")
    resources = Resources(cpu=args.trainer_cpu, memory_gb=args.trainer_memory,
                          accelerator_type=args.trainer_accelerator,
                          accelerator_count=1 if count is None else count)
    return None if resources.is_empty() else resources


def _beam_args_from_args(args: argparse.Namespace) -> List[str]:
    beam_args = list(args.beam_arg)
    dataflow = (args.dataflow_project, args.dataflow_region)
    if any(dataflow):
        if not all(dataflow):
            raise CompileError("--dataflow-project and --dataflow-region go together")
        temp = args.dataflow_temp or args.pipeline_root.rstrip("/") + "/beam-temp"
        beam_args = dataflow_beam_args(args.dataflow_project, args.dataflow_region, temp,
                                       sdk_container_image=args.dataflow_sdk_image or args.image) + beam_args
    elif args.dataflow_temp or args.dataflow_sdk_image:
        raise CompileError("--dataflow-temp and --dataflow-sdk-image need --dataflow-project and --dataflow-region")
    return beam_args


def _compile_command(config_from_args: Callable[[argparse.Namespace], Any]):
    def cmd_compile_kubeflow(args: argparse.Namespace) -> int:
        config = config_from_args(args)
        columns = _columns(args.columns, args.ratings_format, args.delimiter)
        beam_args = _beam_args_from_args(args)
        trainer_resources = _resources_from_args(args)
        for flag, value in (("--pipeline-root", args.pipeline_root), ("--ratings", args.ratings),
                            ("--serving-dir", args.serving_dir), ("--schema", args.schema)):
            if value and not _is_remote(value):
                print(f"sasrec compile-kubeflow: warning: {flag} {value} is a local path; the pipeline's "
                      f"containers see it only if it is mounted there", file=sys.stderr)
        job = compile_pipeline(
            output_file=args.output, image=args.image, pipeline_root=args.pipeline_root,
            ratings_path=args.ratings, ratings_format=args.ratings_format, config=config,
            serving_dir=args.serving_dir, beam_pipeline_args=beam_args,
            trainer_resources=trainer_resources, pipeline_name=args.pipeline_name,
            display_name=args.display_name, columns=columns, delimiter=args.delimiter,
            ratings_schema=args.schema, enable_cache=not args.no_cache, stop_after=args.stop_after)
        tasks = sorted(job["pipelineSpec"]["root"]["dag"]["tasks"])
        print(f"Wrote {args.output}: pipeline {job['pipelineSpec']['pipelineInfo']['name']!r}, "
              f"{len(tasks)} tasks ({', '.join(tasks)}), image {args.image}")
        return 0

    return cmd_compile_kubeflow


def cmd_submit(args: argparse.Namespace) -> int:
    plan = submission_plan(
        args.pipeline, vertex_project=args.vertex_project, vertex_region=args.vertex_region,
        kfp_endpoint=args.kfp_endpoint, parameters=args.parameter, pipeline_root=args.pipeline_root,
        display_name=args.display_name, service_account=args.service_account,
        enable_caching=False if args.no_cache else None, experiment=args.experiment,
        namespace=args.namespace)
    if args.dry_run:
        print(json.dumps({"dry_run": True, **plan}, indent=2, sort_keys=True))
        return 0
    name = submit(plan)
    print(f"Submitted {plan['pipeline_name']!r} to {plan['target']}: {name}")
    return 0


def add_cli(subparsers, add_config_flags: Callable[[argparse.ArgumentParser], None],
            config_from_args: Callable[[argparse.Namespace], Any]) -> Dict[str, Callable[[argparse.Namespace], int]]:
    """Registers `compile-kubeflow` and `submit` on `subparsers`; returns {command: handler}.

    Only defines arguments (no TensorFlow/TFX import). Each parser also gets `handler` as a default.
    `add_config_flags`/`config_from_args` are the CLI's SASRecConfig flag helpers (passed in to avoid
    an import cycle). Handlers return an exit code and raise `CompileError`/`SubmitError` (both
    ValueError) for problems the user can fix.
    """
    compile_handler = _compile_command(config_from_args)

    compile_parser = subparsers.add_parser(
        "compile-kubeflow", help="compile the pipeline for Vertex AI Pipelines / Kubeflow Pipelines V2",
        description="Write the pipeline as a Kubeflow V2 PipelineJob (JSON; a .yaml --output gets the "
                    "bare PipelineSpec). Needs no cloud access.")
    compile_parser.add_argument("--image", required=True,
                                help="the pipeline image (built from kubeflow/Dockerfile) every task runs in")
    compile_parser.add_argument("--pipeline-root", required=True, metavar="URI",
                                help="where the pipeline writes its artifacts, e.g. gs://bucket/sasrec")
    compile_parser.add_argument("--output", default="pipeline.json",
                                help="file to write (default: pipeline.json)")
    compile_parser.add_argument("--ratings", required=True, metavar="URI",
                                help="the ratings file (or glob) as the tasks see it, e.g. gs://bucket/ratings.dat")
    compile_parser.add_argument("--format", dest="ratings_format", choices=FORMATS, default="ml-1m",
                                help="format of --ratings (default: ml-1m)")
    compile_parser.add_argument("--columns", default="user_id,item_id,rating,timestamp",
                                help="for --format csv: the user, item, rating and timestamp column names")
    compile_parser.add_argument("--delimiter", default=",", help="for --format csv: the field delimiter")
    compile_parser.add_argument("--schema", metavar="URI",
                                help="curated ratings schema as the tasks see it (default: the project's, in the image)")
    compile_parser.add_argument("--serving-dir", metavar="URI",
                                help="where the Pusher writes models (default: <pipeline-root>/serving)")
    compile_parser.add_argument("--pipeline-name", default=DEFAULT_PIPELINE_NAME,
                                help=f"pipeline name (default: {DEFAULT_PIPELINE_NAME})")
    compile_parser.add_argument("--display-name", help="display name (default: the pipeline name)")
    compile_parser.add_argument("--beam-arg", action="append", default=[], metavar="ARG",
                                help="a Beam pipeline argument for every Beam component, e.g. "
                                     "--beam-arg=--machine_type=n1-standard-8 (repeatable)")
    dataflow = compile_parser.add_argument_group("Dataflow (runs the Beam components on Dataflow)")
    dataflow.add_argument("--dataflow-project", metavar="PROJECT", help="Google Cloud project of the Dataflow jobs")
    dataflow.add_argument("--dataflow-region", metavar="REGION", help="Dataflow region, e.g. us-central1")
    dataflow.add_argument("--dataflow-temp", metavar="URI",
                          help="Dataflow temp location (default: <pipeline-root>/beam-temp)")
    dataflow.add_argument("--dataflow-sdk-image", metavar="IMAGE",
                          help="worker image (default: --image, whose entrypoint is Beam's SDK harness)")
    trainer = compile_parser.add_argument_group("Trainer resources (the task's container limits)")
    trainer.add_argument("--trainer-cpu", type=float, metavar="VCPUS", help="vCPU limit, e.g. 8")
    trainer.add_argument("--trainer-memory", type=float, metavar="GB", help="memory limit in GB, e.g. 32")
    trainer.add_argument("--trainer-accelerator", metavar="TYPE",
                         help="accelerator: on Vertex e.g. NVIDIA_TESLA_T4, NVIDIA_L4; on KFP e.g. nvidia.com/gpu")
    trainer.add_argument("--trainer-accelerator-count", type=int, metavar="N",
                         help="number of accelerators (default: 1)")
    compile_parser.add_argument("--stop-after", choices=["sequences"], help="stop after building the sequence splits")
    compile_parser.add_argument("--no-cache", action="store_true", help="compile with caching off for every task")
    add_config_flags(compile_parser)
    compile_parser.set_defaults(handler=compile_handler)

    submit_parser = subparsers.add_parser(
        "submit", help="submit a compiled pipeline to Vertex AI Pipelines or Kubeflow Pipelines",
        description="Submit a file written by compile-kubeflow. --dry-run prints what would be sent.")
    submit_parser.add_argument("--pipeline", required=True, metavar="FILE",
                               help="the compiled pipeline (compile-kubeflow's --output)")
    target = submit_parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--vertex-project", metavar="PROJECT", help="submit to Vertex AI Pipelines in this project")
    target.add_argument("--kfp-endpoint", metavar="URL", help="submit to the Kubeflow Pipelines API at this URL")
    submit_parser.add_argument("--vertex-region", metavar="REGION", help="Vertex AI region, e.g. us-central1")
    submit_parser.add_argument("--service-account", help="service account the run uses")
    submit_parser.add_argument("--pipeline-root", metavar="URI",
                               help="override the pipeline root compiled into the file")
    submit_parser.add_argument("--display-name", help="run display name (default: the file's)")
    submit_parser.add_argument("--experiment", help="KFP experiment (default: KFP's 'Default')")
    submit_parser.add_argument("--namespace", help="KFP namespace (multi-user deployments)")
    submit_parser.add_argument("--parameter", action="append", default=[], metavar="NAME=VALUE",
                               help="a runtime parameter of the pipeline (repeatable)")
    submit_parser.add_argument("--no-cache", action="store_true", help="run every task, reusing no cached result")
    submit_parser.add_argument("--dry-run", action="store_true",
                               help="print what would be sent, as JSON, and send nothing")
    submit_parser.set_defaults(handler=cmd_submit)

    return {"compile-kubeflow": compile_handler, "submit": cmd_submit}


USER_ERRORS = (CompileError, SubmitError)
