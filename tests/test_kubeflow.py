"""The Kubeflow V2 / Vertex runner: compile offline, submit (dry run and mocked), image and manifests.

Compiling needs no cloud: the pipeline root is gs://, and a wheel build into it (which a
`module_file` would trigger) fails the test instead of reaching for the network.
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from google.protobuf import json_format

from kubeflow import runner
from sasrec.config import SASRecConfig

ROOT = Path(__file__).resolve().parent.parent
IMAGE = "us-docker.pkg.dev/test-project/sasrec/pipeline:test"
PIPELINE_ROOT = "gs://bucket/root"
RATINGS = "gs://bucket/data/ratings.dat"
SERVING = "gs://bucket/serving"
DATAFLOW = runner.dataflow_beam_args("test-project", "europe-west4", "gs://bucket/tmp", sdk_container_image=IMAGE)
CONFIG = SASRecConfig(max_len=37, min_sequence_length=4, epochs=3)
TRAINER_RESOURCES = runner.Resources(cpu=8, memory_gb=32, accelerator_type="NVIDIA_TESLA_T4", accelerator_count=1)
CUSTOM_EXECUTORS = {"RatingsExampleGen": "components.ratings_example_gen.Executor",
                    "UserSequences": "components.sequences.Executor"}


def _refuse_wheel_builds(original):
    """A module_file would make the compiler build a wheel into the (gs://) pipeline root."""

    def resolve(self, pipeline_root):
        if self.component.spec.exec_properties.get(self.module_file_key):
            raise AssertionError(f"{self.component.id} has a module_file: the compiler would build a "
                                 f"wheel into {pipeline_root}")
        return original(self, pipeline_root)

    return resolve


@pytest.fixture(autouse=True)
def no_wheel_builds(monkeypatch):
    from tfx.components.util import udf_utils

    dependency = udf_utils.UserModuleFilePipDependency
    monkeypatch.setattr(dependency, "resolve", _refuse_wheel_builds(dependency.resolve))


def _pipeline(**overrides):
    """The pipeline create_pipeline builds for the compiled settings (the source of the expected tasks)."""
    from pipeline import pipeline as sasrec_pipeline

    settings = dict(pipeline_name="sasrec", pipeline_root=PIPELINE_ROOT, ratings_path=RATINGS,
                    ratings_format="ml-1m", config=CONFIG, serving_dir=SERVING, beam_pipeline_args=DATAFLOW)
    settings.update(overrides)
    return sasrec_pipeline.create_pipeline(**settings)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    from tfx.components.util import udf_utils

    output = tmp_path_factory.mktemp("kubeflow") / "pipeline.json"
    original = udf_utils.UserModuleFilePipDependency.resolve
    udf_utils.UserModuleFilePipDependency.resolve = _refuse_wheel_builds(original)
    try:
        job = runner.compile_pipeline(
            output_file=str(output), image=IMAGE, pipeline_root=PIPELINE_ROOT, ratings_path=RATINGS,
            ratings_format="ml-1m", config=CONFIG, serving_dir=SERVING, beam_pipeline_args=DATAFLOW,
            trainer_resources=TRAINER_RESOURCES)
    finally:
        udf_utils.UserModuleFilePipDependency.resolve = original
    return job, output


def _spec(job):
    from kfp.pipeline_spec import pipeline_spec_pb2

    return json_format.ParseDict(job["pipelineSpec"], pipeline_spec_pb2.PipelineSpec())


def _container(spec, task_name):
    component = spec.components[spec.root.dag.tasks[task_name].component_ref.name]
    executor = spec.deployment_spec.fields["executors"].struct_value.fields[component.executor_label]
    return json_format.MessageToDict(executor)["container"]


def _constant(spec, task_name, parameter):
    value = spec.root.dag.tasks[task_name].inputs.parameters[parameter].runtime_value.constant_value
    return getattr(value, value.WhichOneof("value"))


def _executor_class(container):
    args = container["args"]
    return args[args.index("--executor_class_path") + 1]


# ---------------------------------------------------------------------------------------------
# Compile.

def test_compiled_file_is_the_returned_pipeline_job(compiled):
    job, output = compiled
    assert json.loads(output.read_text()) == job
    assert set(job) >= {"displayName", "pipelineSpec", "runtimeConfig"}
    assert job["runtimeConfig"]["gcsOutputDirectory"] == PIPELINE_ROOT
    spec = _spec(job)
    assert spec.pipeline_info.name == "sasrec"


def test_every_component_is_a_task_in_the_image(compiled):
    from tfx.utils import name_utils

    from tfx.dsl.components.common import resolver

    spec = _spec(compiled[0])
    all_nodes = _pipeline().components
    components = [c for c in all_nodes if not isinstance(c, resolver.Resolver)]
    resolvers = [c.id for c in all_nodes if isinstance(c, resolver.Resolver)]
    assert resolvers == ["latest_blessed_model_resolver"]
    # A resolver compiles into importer-less resolver tasks (one per channel), not a container.
    resolver_tasks = sorted(t for t in spec.root.dag.tasks if t.startswith(resolvers[0]))
    assert resolver_tasks == [f"{resolvers[0]}-model-blessing-resolver", f"{resolvers[0]}-model-resolver"]
    assert sorted(set(spec.root.dag.tasks) - set(resolver_tasks)) == sorted(c.id for c in components)
    for component in components:
        container = _container(spec, component.id)
        assert container["image"] == IMAGE, component.id
        assert container["command"] == list(runner_cmd()), component.id
        assert _executor_class(container) == name_utils.get_full_name(component.executor_spec.executor_class)


def runner_cmd():
    from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner

    return kubeflow_v2_dag_runner.KUBEFLOW_TFX_CMD


def test_custom_components_run_their_executor_class(compiled):
    spec = _spec(compiled[0])
    for task, executor in CUSTOM_EXECUTORS.items():
        assert _executor_class(_container(spec, task)) == executor
    # FileBasedExampleGen's driver runs before the cache check, in the same image.
    driver = _container(spec, "RatingsExampleGen")["lifecycle"]["preCacheCheck"]
    assert driver["command"][-1] == "tfx.orchestration.kubeflow.v2.file_based_example_gen.driver"


def test_user_code_is_named_by_module_path(compiled):
    spec = _spec(compiled[0])
    assert _constant(spec, "Transform", "preprocessing_fn") == "modules.preprocessing.preprocessing_fn"
    assert _constant(spec, "Trainer", "run_fn") == "modules.trainer.run_fn"
    for task in ("Transform", "Trainer"):
        assert "module_file" not in spec.root.dag.tasks[task].inputs.parameters
    assert "_wheels" not in json.dumps(compiled[0])


def test_beam_args_reach_every_beam_component(compiled):
    spec = _spec(compiled[0])
    expected = ["--runner=DataflowRunner", "--project=test-project", "--region=europe-west4",
                "--temp_location=gs://bucket/tmp", f"--sdk_container_image={IMAGE}"]
    for task in ("RatingsExampleGen", "StatisticsGen", "UserSequences", "Transform"):
        args = _container(spec, task)["args"]
        assert args[-len(expected):] == expected, task
    driver_args = _container(spec, "RatingsExampleGen")["lifecycle"]["preCacheCheck"]["args"]
    assert driver_args[-len(expected):] == expected


def test_settings_are_compiled_in(compiled):
    spec = _spec(compiled[0])
    assert _constant(spec, "UserSequences", "max_len") == 37
    assert _constant(spec, "UserSequences", "min_sequence_length") == 4
    assert _constant(spec, "UserSequences", "min_rating") == CONFIG.min_rating
    assert json.loads(_constant(spec, "Trainer", "custom_config")) == {"sasrec": CONFIG.to_dict()}
    # ExampleGen reads the ratings file's directory, with the file name as its split pattern.
    assert _constant(spec, "RatingsExampleGen", "input_base") == "gs://bucket/data"
    push = json.loads(_constant(spec, "Pusher", "push_destination"))
    assert push["filesystem"]["base_directory"] == SERVING


def test_trainer_resources_are_set_only_on_the_trainer(compiled):
    spec = _spec(compiled[0])
    assert _container(spec, "Trainer")["resources"] == {
        "cpuLimit": 8.0, "memoryLimit": 32.0, "accelerator": {"type": "NVIDIA_TESLA_T4", "count": "1"}}
    for task in spec.root.dag.tasks:
        if task != "Trainer" and not task.startswith("latest_blessed_model_resolver"):
            assert "resources" not in _container(spec, task), task


def test_project_files_are_read_from_the_image_not_this_checkout(compiled):
    spec = _spec(compiled[0])
    for task, relative in (("CuratedSchema", "pipeline/schema/ratings/schema.pbtxt"),
                           ("SequencesSchema", "pipeline/schema/sequences/schema.pbtxt")):
        assert _constant(spec, task, "schema_file") == f"{runner.IMAGE_PROJECT_ROOT}/{relative}"
        assert (ROOT / relative).is_file()
    assert runner.LOCAL_PROJECT_ROOT not in compiled[1].read_text()


def test_resources_for_unknown_or_unsupported_components_are_refused(tmp_path):
    common = dict(output_file=str(tmp_path / "p.json"), image=IMAGE, pipeline_root=PIPELINE_ROOT,
                  ratings_path=RATINGS, ratings_format="ml-1m", config=CONFIG)
    with pytest.raises(runner.CompileError, match="no component 'Evaluatr'"):
        runner.compile_pipeline(**common, component_resources={"Evaluatr": runner.Resources(cpu=2)})
    with pytest.raises(runner.CompileError, match="ignores resources of 'RatingsExampleGen'"):
        runner.compile_pipeline(**common, component_resources={"RatingsExampleGen": runner.Resources(cpu=2)})
    with pytest.raises(runner.CompileError, match="stops before the Trainer"):
        runner.compile_pipeline(**common, stop_after="sequences", trainer_resources=runner.Resources(cpu=2))
    with pytest.raises(runner.CompileError, match="memory_gb must be positive"):
        runner.Resources(memory_gb=0)
    assert not (tmp_path / "p.json").exists()


# ---------------------------------------------------------------------------------------------
# The command line.

def _parser():
    from sasrec import cli

    parser = argparse.ArgumentParser(prog="sasrec")
    commands = parser.add_subparsers(dest="command", required=True)
    handlers = runner.add_cli(commands, cli._add_config_flags, cli.config_from_args)
    assert set(handlers) == {"compile-kubeflow", "submit"}
    return parser


def _main(argv):
    args = _parser().parse_args(argv)
    return args.handler(args)


def test_add_cli_imports_no_tensorflow():
    code = (
        "import argparse, sys\n"
        "from kubeflow import runner\n"
        "from sasrec import cli\n"
        "parser = argparse.ArgumentParser(); commands = parser.add_subparsers(dest='command')\n"
        "runner.add_cli(commands, cli._add_config_flags, cli.config_from_args)\n"
        "parser.parse_args(['compile-kubeflow', '--image', 'i', '--pipeline-root', 'gs://b/r',"
        " '--ratings', 'gs://b/r.dat', '--max-len', '20'])\n"
        "parser.parse_args(['submit', '--pipeline', 'p.json', '--kfp-endpoint', 'http://kfp'])\n"
        "heavy = sorted(m for m in ('tensorflow', 'tfx', 'apache_beam', 'kfp', 'google.cloud.aiplatform')"
        " if m in sys.modules)\n"
        "assert not heavy, heavy\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=60)


def test_compile_command(tmp_path, capsys):
    output = tmp_path / "cli.json"
    assert _main(["compile-kubeflow", "--image", IMAGE, "--pipeline-root", PIPELINE_ROOT,
                  "--output", str(output), "--ratings", RATINGS, "--format", "ml-1m",
                  "--dataflow-project", "p1", "--dataflow-region", "us-central1",
                  "--beam-arg=--machine_type=n1-standard-8",
                  "--trainer-cpu", "4", "--trainer-memory", "16", "--max-len", "25"]) == 0
    assert "Wrote" in capsys.readouterr().out
    spec = _spec(json.loads(output.read_text()))
    assert _constant(spec, "UserSequences", "max_len") == 25
    assert _container(spec, "UserSequences")["args"][-6:] == [
        "--runner=DataflowRunner", "--project=p1", "--region=us-central1",
        f"--temp_location={PIPELINE_ROOT}/beam-temp", f"--sdk_container_image={IMAGE}",
        "--machine_type=n1-standard-8"]
    assert _container(spec, "Trainer")["resources"] == {"cpuLimit": 4.0, "memoryLimit": 16.0}
    push = json.loads(_constant(spec, "Pusher", "push_destination"))
    assert push["filesystem"]["base_directory"] == PIPELINE_ROOT + "/serving"


def test_compile_command_user_errors(tmp_path):
    base = ["compile-kubeflow", "--image", IMAGE, "--pipeline-root", PIPELINE_ROOT,
            "--output", str(tmp_path / "x.json"), "--ratings", RATINGS]
    with pytest.raises(runner.CompileError, match="go together"):
        _main(base + ["--dataflow-project", "p"])
    with pytest.raises(runner.CompileError, match="needs --trainer-accelerator"):
        _main(base + ["--trainer-accelerator-count", "2"])
    with pytest.raises(runner.CompileError, match="four comma-separated"):
        _main(base + ["--format", "csv", "--columns", "a,b"])


# ---------------------------------------------------------------------------------------------
# Submit.

@pytest.fixture
def no_sending(monkeypatch):
    import kfp
    from google.cloud import aiplatform

    def refuse(*args, **kwargs):
        raise AssertionError("a dry run sent something")

    monkeypatch.setattr(aiplatform, "PipelineJob", refuse)
    monkeypatch.setattr(kfp, "Client", refuse)


def _dry_run(argv, capsys):
    assert _main(["submit", "--dry-run"] + argv) == 0
    return json.loads(capsys.readouterr().out)


def test_submit_dry_run_vertex(compiled, capsys, no_sending):
    path = compiled[1]
    plan = _dry_run(["--pipeline", str(path), "--vertex-project", "proj", "--vertex-region", "us-central1",
                     "--service-account", "runner@proj.iam.gserviceaccount.com"], capsys)
    assert plan == {
        "dry_run": True, "target": "vertex", "project": "proj", "region": "us-central1",
        "pipeline_name": "sasrec", "display_name": "sasrec", "pipeline_root": PIPELINE_ROOT,
        "parameters": {}, "enable_caching": None,
        "service_account": "runner@proj.iam.gserviceaccount.com",
        "pipeline_file": str(path.resolve()), "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "images": [IMAGE]}


def test_submit_dry_run_kfp(compiled, capsys, no_sending):
    path = compiled[1]
    plan = _dry_run(["--pipeline", str(path), "--kfp-endpoint", "http://kfp.example:8888",
                     "--pipeline-root", "s3://other/root", "--no-cache", "--experiment", "sasrec",
                     "--display-name", "nightly"], capsys)
    assert plan["target"] == "kfp" and plan["endpoint"] == "http://kfp.example:8888"
    assert plan["pipeline_name"] == "sasrec" and plan["display_name"] == "nightly"
    assert plan["pipeline_root"] == "s3://other/root" and plan["enable_caching"] is False
    assert plan["experiment"] == "sasrec" and plan["parameters"] == {}
    assert plan["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_submit_parameters_are_checked_and_typed(compiled, tmp_path, capsys, no_sending):
    job = json.loads(compiled[1].read_text())
    job["pipelineSpec"]["root"]["inputDefinitions"] = {"parameters": {
        "epochs": {"parameterType": "NUMBER_INTEGER"}, "lr": {"type": "DOUBLE"}, "tag": {"type": "STRING"}}}
    path = tmp_path / "with_parameters.json"
    path.write_text(json.dumps(job))
    target = ["--pipeline", str(path), "--kfp-endpoint", "http://kfp"]
    plan = _dry_run(target + ["--parameter", "epochs=3", "--parameter", "lr=0.5", "--parameter", "tag=a=b"], capsys)
    assert plan["parameters"] == {"epochs": 3, "lr": 0.5, "tag": "a=b"}
    with pytest.raises(runner.SubmitError, match="no parameter 'epoch'; it has: epochs, lr, tag"):
        _main(["submit", "--dry-run"] + target + ["--parameter", "epoch=3"])
    with pytest.raises(runner.SubmitError, match="not a valid NUMBER_INTEGER"):
        _main(["submit", "--dry-run"] + target + ["--parameter", "epochs=three"])


def test_submit_user_errors(compiled, tmp_path, no_sending):
    path = str(compiled[1])
    with pytest.raises(runner.SubmitError, match="needs --vertex-region"):
        _main(["submit", "--pipeline", path, "--vertex-project", "proj"])
    with pytest.raises(runner.SubmitError, match="no parameter 'x'; it has: none"):
        _main(["submit", "--pipeline", path, "--kfp-endpoint", "http://kfp", "--parameter", "x=1"])
    with pytest.raises(runner.SubmitError, match="expected NAME=VALUE"):
        _main(["submit", "--pipeline", path, "--kfp-endpoint", "http://kfp", "--parameter", "x"])
    with pytest.raises(runner.SubmitError, match="needs a gs:// pipeline root"):
        _main(["submit", "--pipeline", path, "--vertex-project", "p", "--vertex-region", "r",
               "--pipeline-root", "/local/root"])
    with pytest.raises(runner.SubmitError, match="cannot read the pipeline file"):
        _main(["submit", "--pipeline", str(tmp_path / "missing.json"), "--kfp-endpoint", "http://kfp"])
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(runner.SubmitError, match="is not a compiled pipeline"):
        _main(["submit", "--pipeline", str(tmp_path / "bad.json"), "--kfp-endpoint", "http://kfp"])
    with pytest.raises(SystemExit):  # argparse: exactly one target
        _parser().parse_args(["submit", "--pipeline", path])


def test_submit_sends_to_vertex(compiled, monkeypatch, capsys):
    from google.cloud import aiplatform

    calls = {}

    class FakePipelineJob:
        resource_name = "projects/proj/locations/us-central1/pipelineJobs/sasrec-123"

        def __init__(self, **kwargs):
            calls["init"] = kwargs

        def submit(self, **kwargs):
            calls["submit"] = kwargs

    monkeypatch.setattr(aiplatform, "PipelineJob", FakePipelineJob)
    path = compiled[1]
    assert _main(["submit", "--pipeline", str(path), "--vertex-project", "proj", "--vertex-region",
                  "us-central1", "--service-account", "sa@proj.iam.gserviceaccount.com"]) == 0
    assert calls["init"] == {
        "display_name": "sasrec", "template_path": str(path.resolve()), "pipeline_root": PIPELINE_ROOT,
        "parameter_values": {}, "enable_caching": None, "project": "proj", "location": "us-central1"}
    assert calls["submit"] == {"service_account": "sa@proj.iam.gserviceaccount.com"}
    assert FakePipelineJob.resource_name in capsys.readouterr().out


def test_submit_sends_to_kfp_a_spec_its_client_reads(compiled, monkeypatch):
    import kfp
    from kfp.client import client as kfp_client

    calls = {}

    class FakeClient:
        def __init__(self, **kwargs):
            calls["init"] = kwargs

        def create_run_from_pipeline_package(self, package, **kwargs):
            calls["run"] = kwargs
            calls["spec"] = kfp_client._extract_pipeline_yaml(package).pipeline_spec  # what the client uploads
            return type("Result", (), {"run_id": "run-1"})()

    monkeypatch.setattr(kfp, "Client", FakeClient)
    assert _main(["submit", "--pipeline", str(compiled[1]), "--kfp-endpoint", "http://kfp"]) == 0
    assert calls["init"] == {"host": "http://kfp"}
    assert calls["run"]["pipeline_root"] == PIPELINE_ROOT and calls["run"]["arguments"] == {}
    assert sorted(calls["spec"].root.dag.tasks) == sorted(compiled[0]["pipelineSpec"]["root"]["dag"]["tasks"])


def test_yaml_output_is_a_bare_spec_that_submit_reads(tmp_path, capsys, no_sending):
    output = tmp_path / "pipeline.yaml"
    runner.compile_pipeline(output_file=str(output), image=IMAGE, pipeline_root=PIPELINE_ROOT,
                            ratings_path=RATINGS, ratings_format="ml-1m", config=CONFIG, stop_after="sequences")
    with pytest.raises(runner.SubmitError, match="names no pipeline root"):
        _main(["submit", "--dry-run", "--pipeline", str(output), "--kfp-endpoint", "http://kfp"])
    capsys.readouterr()
    plan = _dry_run(["--pipeline", str(output), "--kfp-endpoint", "http://kfp", "--pipeline-root", PIPELINE_ROOT],
                    capsys)
    assert plan["pipeline_name"] == "sasrec" and plan["pipeline_root"] == PIPELINE_ROOT
    spec = yaml.safe_load(output.read_text())
    assert sorted(spec["root"]["dag"]["tasks"]) == sorted(c.id for c in _pipeline(stop_after="sequences").components)


# ---------------------------------------------------------------------------------------------
# The image (static checks: no docker engine here).

def _dockerfile_instructions():
    text = (ROOT / "kubeflow" / "Dockerfile").read_text()
    joined = re.sub(r"\\\n", " ", text)
    instructions = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def _project_packages():
    return sorted(p.parent.name for p in ROOT.glob("*/__init__.py") if p.parent.name != "tests")


def _imported_project_packages(packages):
    found = set()
    for package in packages:
        for source in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(source.read_text(), str(source))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                found.update(name.split(".")[0] for name in names if name.split(".")[0] in packages)
    return found


def test_dockerfile():
    instructions = _dockerfile_instructions()
    keywords = [keyword for keyword, _ in instructions]
    assert instructions[0] == ("FROM", "gcr.io/tfx-oss-public/tfx:1.16.0")
    assert "ENTRYPOINT" not in keywords and "CMD" not in keywords  # keep Beam's SDK harness for Dataflow
    env = " ".join(rest for keyword, rest in instructions if keyword == "ENV")
    assert re.search(r"(^|\s)TF_USE_LEGACY_KERAS=1(\s|$)", env)
    workdirs = [rest for keyword, rest in instructions if keyword == "WORKDIR"]
    assert workdirs == [runner.IMAGE_PROJECT_ROOT]

    copies = [shlex.split(rest) for keyword, rest in instructions if keyword == "COPY"]
    copied = {source.rstrip("/") for sources in copies for source in sources[:-1]}
    runs = [rest for keyword, rest in instructions if keyword == "RUN"]
    assert "requirements/lock.txt" in copied and "pyproject.toml" in copied
    assert any(re.search(r"pip install (.* )?-r requirements/lock\.txt", run) for run in runs)
    assert any("pip install" in run and "--no-deps" in run for run in runs)
    lock_run = next(i for i, (k, r) in enumerate(instructions) if k == "RUN" and "requirements/lock.txt" in r)
    env_at = next(i for i, (k, r) in enumerate(instructions) if k == "ENV" and "TF_USE_LEGACY_KERAS" in r)
    assert env_at < lock_run

    packages = _project_packages()
    assert {"components", "modules", "pipeline", "sasrec"} <= set(packages)
    assert set(packages) <= copied, f"not copied into the image: {sorted(set(packages) - copied)}"
    executor_code = {"components", "modules", "pipeline"}
    assert _imported_project_packages(packages) <= copied
    assert executor_code <= copied
    for source in copied:
        assert (ROOT / source).exists(), source


def test_dockerignore_keeps_local_state_out_but_not_the_sources():
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    assert {".venv", "output", ".git"} <= set(ignored)
    for keyword, rest in _dockerfile_instructions():
        if keyword == "COPY":
            for source in shlex.split(rest)[:-1]:
                top = source.split("/")[0]
                assert top not in ignored and source not in ignored, source


# ---------------------------------------------------------------------------------------------
# TensorFlow Serving manifests.

def test_serving_manifests():
    deployment, = yaml.safe_load_all((ROOT / "kubeflow" / "serving" / "deployment.yaml").read_text())
    service, = yaml.safe_load_all((ROOT / "kubeflow" / "serving" / "service.yaml").read_text())
    assert deployment["kind"] == "Deployment" and service["kind"] == "Service"

    container, = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"].startswith("tensorflow/serving:")
    env = {item["name"]: item["value"] for item in container.get("env", [])}
    args = [re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], arg) for arg in container["args"]]
    assert "--model_name=sasrec" in args
    assert "--port=8500" in args and "--rest_api_port=8501" in args
    base_path = next(arg.split("=", 1)[1] for arg in args if arg.startswith("--model_base_path="))
    assert "YOUR_BUCKET" in base_path  # a marked placeholder
    assert {port["containerPort"] for port in container["ports"]} == {8500, 8501}
    probe = container["readinessProbe"]["httpGet"]
    assert probe == {"path": "/v1/models/sasrec", "port": 8501}

    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == labels
    assert service["spec"]["selector"].items() <= labels.items()
    assert {(p["port"], p["targetPort"]) for p in service["spec"]["ports"]} == {(8500, 8500), (8501, 8501)}
