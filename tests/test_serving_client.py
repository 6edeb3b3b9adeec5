"""sasrec.serving_client against TensorFlow Serving's contract.

(a) the pushed SavedModel loads through the Session/SignatureDef loader TF Serving's C++ server uses,
    and every signature run by tensor names equals the TF2 `signatures[...]` path;
(b) a PredictRequest (tensorflow-serving-api protos) through that loader gives a PredictResponse;
(c) the client over REST and gRPC against `tests/serving_double.py` on loopback (and against a real
    `tensorflow_model_server` when one is on PATH), and its errors.

The tests marked slow share one pipeline run (~60 s) that produces the model.
"""
import contextlib
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

import sasrec  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
from sasrec import serving_client
from sasrec.serving_client import ServingError

REPO = Path(__file__).resolve().parents[1]
HISTORIES = [["1", "2", "3"], [], ["no-such-item"], ["7", "no-such-item", "12", "30", "7", "44", "5", "18", "2",
                                                      "9", "11", "26", "13", "40", "3", "21", "15", "50", "33", "8",
                                                      "19", "22", "60"]]
CANDIDATES = ["4", "no-such-item", "1", "59", ""]


# ------------------------------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def model_base(tmp_path_factory):
    """A TF Serving model base path (`<base>/<integer version>/`) holding the pipeline's model."""
    from sasrec import cli
    from sasrec.data import synthetic

    root = tmp_path_factory.mktemp("serving_client")
    synthetic.generate_ratings(root / "ratings.dat", num_users=120, num_items=60, num_ratings=3000, seed=5)
    assert cli.main(["run", "--ratings", str(root / "ratings.dat"), "--output-dir", str(root / "out"),
                     "--epochs", "3", "--max-len", "20", "--bless-min-lift", "0"]) == 0
    pushed = root / "out" / "serving"
    if pushed.is_dir() and any(p.name.isdigit() for p in pushed.iterdir()):
        return pushed
    # Not blessed (a 3-epoch model may not beat popularity): serve the Trainer's export instead,
    # laid out as TF Serving expects.
    exports = sorted((root / "out" / "pipeline_root" / "Trainer" / "model").glob("*/Format-Serving"))
    assert exports, "the run left neither a pushed model nor a Trainer export"
    base = root / "serving_base"
    shutil.copytree(exports[-1], base / "1")
    return base


@pytest.fixture(scope="module")
def export_dir(model_base):
    return max((p for p in model_base.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))


@pytest.fixture(scope="module")
def signatures(export_dir):
    import tensorflow as tf

    return tf.saved_model.load(str(export_dir)).signatures


@pytest.fixture(scope="module")
def double(model_base):
    import serving_double

    with serving_double.serve(model_base, model_name="sasrec") as server:
        yield server


class _Server:
    def __init__(self, kind, rest_address, grpc_address):
        self.kind, self.rest_address, self.grpc_address = kind, rest_address, grpc_address

    def address(self, protocol):
        return self.rest_address if protocol == "rest" else self.grpc_address


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def _model_server(binary, model_base, log_path):
    """A real tensorflow_model_server on the model (TF Serving itself binds all interfaces)."""
    grpc_port, rest_port = _free_port(), _free_port()
    with open(log_path, "w") as log:
        process = subprocess.Popen([binary, f"--port={grpc_port}", f"--rest_api_port={rest_port}",
                                    "--model_name=sasrec", f"--model_base_path={model_base.resolve()}"],
                                   stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, f"tensorflow_model_server exited: {log_path.read_text()[-2000:]}"
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{rest_port}/v1/models/sasrec", timeout=2) as r:
                        if "AVAILABLE" in r.read().decode():
                            break
                except OSError:
                    pass
                assert time.monotonic() < deadline, f"model not AVAILABLE in 60 s: {log_path.read_text()[-2000:]}"
                time.sleep(0.5)
            yield _Server("tensorflow_model_server", f"127.0.0.1:{rest_port}", f"127.0.0.1:{grpc_port}")
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module", params=["double", "tensorflow_model_server"])
def server(request, tmp_path_factory):
    """The serving double, and a real TF Serving when its binary is on PATH."""
    if request.param == "double":
        d = request.getfixturevalue("double")
        yield _Server("double", d.rest_address, d.grpc_address)
        return
    binary = shutil.which("tensorflow_model_server")
    if binary is None:
        pytest.skip("tensorflow_model_server is not on PATH; the client is tested against tests/serving_double.py")
    model_base = request.getfixturevalue("model_base")
    with _model_server(binary, model_base, tmp_path_factory.mktemp("tfs") / "server.log") as real:
        yield real


def _tf2_recommend(signatures, history):
    import tensorflow as tf

    out = signatures["serving_default"](history=tf.constant([history or [""]], dtype=tf.string))
    return [(i.decode(), float(s)) for i, s in zip(out["item_ids"].numpy()[0], out["scores"].numpy()[0]) if i]


def _tf2_score(signatures, history, candidates):
    import tensorflow as tf

    out = signatures["score_items"](history=tf.constant([history or [""]], dtype=tf.string),
                                    candidates=tf.constant([candidates], dtype=tf.string))
    return out["scores"].numpy()[0].tolist()


def _assert_same_ranking(got, expected):
    assert [item for item, _ in got] == [item for item, _ in expected]
    assert [score for _, score in got] == pytest.approx([score for _, score in expected], rel=1e-5, abs=1e-6)


def _http(address, method, path, body=None):
    import http.client

    host, port = serving_client.parse_server(address)
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        connection.request(method, path, body=None if body is None else json.dumps(body),
                           headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        text = response.read().decode()
    finally:
        connection.close()
    try:
        return response.status, json.loads(text)
    except ValueError:
        return response.status, text


# ------------------------------------------------ (a) the SignatureDef loader equals the TF2 path

def _padded(rows):
    width = max(1, max(len(r) for r in rows))
    return np.array([r + [""] * (width - len(r)) for r in rows], dtype=object)


@pytest.mark.slow
def test_session_loader_runs_every_signature_like_tf2(double, signatures):
    import tensorflow as tf

    model = double.model  # tf.compat.v1.saved_model.load(session, ["serve"], export_dir)
    assert {"serving_default", "score_items", "serving_examples"} <= set(model.signature_defs)
    assert set(model.signature_defs) >= set(signatures)

    def check(name, feeds):
        by_names = model.run(name, {k: v for k, v in feeds.items()})
        tf2 = signatures[name](**{k: tf.constant(v.tolist(), dtype=tf.string) for k, v in feeds.items()})
        assert set(by_names) == set(tf2) == set(model.signature_defs[name].outputs)
        for key, value in by_names.items():
            expected = tf2[key].numpy()
            assert value.shape == expected.shape, (name, key)
            if value.dtype == object:
                assert value.tolist() == expected.tolist(), (name, key)
            else:
                np.testing.assert_allclose(value, expected, rtol=1e-5, atol=1e-6, err_msg=f"{name}/{key}")
                assert np.isfinite(value).all()
        return by_names

    for history in HISTORIES:
        check("serving_default", {"history": _padded([history])})
    batch = check("serving_default", {"history": _padded(HISTORIES)})
    assert batch["item_ids"].shape[0] == len(HISTORIES)
    for history in HISTORIES:
        check("score_items", {"history": _padded([history]), "candidates": np.array([CANDIDATES], dtype=object)})
    examples = [tf.train.Example(features=tf.train.Features(feature={"item_ids": tf.train.Feature(
        bytes_list=tf.train.BytesList(value=[i.encode() for i in history]))})).SerializeToString()
        for history in HISTORIES]
    check("serving_examples", {"examples": np.array(examples, dtype=object)})


# ------------------------------------------------------ (b) PredictRequest -> PredictResponse

@pytest.mark.slow
def test_predict_request_gives_predict_response(double):
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    import serving_double

    request = predict_pb2.PredictRequest()
    request.model_spec.name = "sasrec"
    request.model_spec.signature_name = "serving_default"
    request.inputs["history"].CopyFrom(tf.make_tensor_proto([["1", "2", "3"]], dtype=tf.string))
    response = double.predict(request)
    assert isinstance(response, predict_pb2.PredictResponse)
    assert response.model_spec.name == "sasrec" and response.model_spec.signature_name == "serving_default"
    assert response.model_spec.version.value == double.version
    assert set(response.outputs) == {"item_ids", "scores"}
    item_ids, scores = (tf.make_ndarray(response.outputs[k]) for k in ("item_ids", "scores"))
    k = item_ids.shape[1]
    assert item_ids.shape == (1, k) and scores.shape == (1, k) and k > 0
    assert response.outputs["item_ids"].dtype == tf.string.as_datatype_enum
    assert response.outputs["scores"].dtype == tf.float32.as_datatype_enum
    assert list(scores[0]) == sorted(scores[0], reverse=True)
    assert not {b"1", b"2", b"3"} & set(item_ids[0])  # the history is never recommended

    request.output_filter.append("scores")
    assert set(double.predict(request).outputs) == {"scores"}
    del request.output_filter[:]

    def status_of(mutate):
        bad = predict_pb2.PredictRequest()
        bad.CopyFrom(request)
        mutate(bad)
        with pytest.raises(serving_double.ServingStatus) as error:
            double.predict(bad)
        return error.value

    missing_model = status_of(lambda r: setattr(r.model_spec, "name", "nope"))
    assert missing_model.code == grpc.StatusCode.NOT_FOUND and missing_model.http_status == 404
    assert missing_model.message == "Servable not found for request: Latest(nope)"
    missing_signature = status_of(lambda r: setattr(r.model_spec, "signature_name", "nope"))
    assert missing_signature.code == grpc.StatusCode.FAILED_PRECONDITION
    assert missing_signature.message == 'Serving signature key "nope" not found.'
    missing_input = status_of(lambda r: setattr(r.model_spec, "signature_name", "score_items"))
    assert missing_input.code == grpc.StatusCode.INVALID_ARGUMENT and "Missing but required: {candidates}" in \
        missing_input.message
    wrong_type = status_of(lambda r: r.inputs["history"].CopyFrom(tf.make_tensor_proto([[1.0]])))
    assert wrong_type.code == grpc.StatusCode.INVALID_ARGUMENT and "to be string" in wrong_type.message
    wrong_version = status_of(lambda r: setattr(r.model_spec.version, "value", double.version + 1))
    assert wrong_version.code == grpc.StatusCode.NOT_FOUND


# ------------------------------------------------------------- (c) the client on loopback

@pytest.mark.slow
def test_recommend_remote_rest_and_grpc_agree_with_in_process(server, signatures):
    for history in HISTORIES:
        rest = serving_client.recommend_remote(server.rest_address, history, protocol="rest")
        grpc_ = serving_client.recommend_remote(server.grpc_address, history, protocol="grpc")
        assert rest and all(item for item, _ in rest)
        _assert_same_ranking(rest, grpc_)
        _assert_same_ranking(rest, _tf2_recommend(signatures, history))


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["rest", "grpc"])
def test_score_remote(server, signatures, protocol):
    for history in HISTORIES:
        got = serving_client.score_remote(server.address(protocol), history, CANDIDATES, protocol=protocol)
        assert got == pytest.approx(_tf2_score(signatures, history, CANDIDATES), rel=1e-5, abs=1e-6)
        assert got[1] == float(np.finfo(np.float32).min)  # an unknown candidate
    assert serving_client.score_remote(server.address(protocol), ["1"], [], protocol=protocol) == []


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["rest", "grpc"])
def test_missing_model_and_signature(server, protocol):
    address = server.address(protocol)
    with pytest.raises(ServingError, match=r"^model 'nope' not found on TensorFlow Serving at ") as error:
        serving_client.recommend_remote(address, ["1"], protocol=protocol, model_name="nope")
    assert error.value.kind == "model_not_found" and "Servable not found for request" in str(error.value)
    with pytest.raises(ServingError, match=r"^signature 'nope' not found in model 'sasrec'") as error:
        serving_client.recommend_remote(address, ["1"], protocol=protocol, signature="nope")
    assert error.value.kind == "signature_not_found"
    with pytest.raises(ServingError, match="model 'sasrec' not found") as error:
        serving_client.recommend_remote(address, ["1"], protocol=protocol, version=999)
    assert error.value.kind == "model_not_found"
    # The right signature's inputs are checked by the server (gRPC) or its outputs by the client (REST).
    with pytest.raises(ServingError) as error:
        serving_client.score_remote(address, ["1"], ["2"], protocol=protocol, signature="serving_default")
    assert error.value.kind == ("bad_request" if protocol == "grpc" else "malformed_response")


@pytest.mark.slow
def test_rest_contract_of_the_server(server):
    """The REST surface the client relies on, raw: formats, status codes, error bodies."""
    address = server.rest_address
    status, body = _http(address, "GET", "/v1/models/sasrec")
    assert status == 200 and body["model_version_status"][0]["state"] == "AVAILABLE"
    assert _http(address, "GET", "/v1/models/nope")[0] == 404

    rows = [["1", "2", "3"], ["5", "", ""]]
    status, columnar = _http(address, "POST", "/v1/models/sasrec:predict", {"inputs": {"history": rows}})
    assert status == 200 and set(columnar["outputs"]) == {"item_ids", "scores"}
    status, row = _http(address, "POST", "/v1/models/sasrec:predict",
                        {"signature_name": "serving_default", "instances": rows})
    assert status == 200 and len(row["predictions"]) == 2
    assert [p["item_ids"] for p in row["predictions"]] == columnar["outputs"]["item_ids"]
    status, named_rows = _http(address, "POST", f"/v1/models/sasrec/versions/{_version(address)}:predict",
                               {"instances": [{"history": r} for r in rows]})
    assert status == 200 and named_rows["predictions"] == row["predictions"]

    # A one-output signature: TF Serving leaves the output's name out.
    status, scores = _http(address, "POST", "/v1/models/sasrec:predict",
                           {"signature_name": "score_items",
                            "inputs": {"history": [["1"]], "candidates": [["2", "3"]]}})
    assert status == 200 and isinstance(scores["outputs"], list) and len(scores["outputs"][0]) == 2
    status, scores_rows = _http(address, "POST", "/v1/models/sasrec:predict",
                                {"signature_name": "score_items",
                                 "instances": [{"history": ["1"], "candidates": ["2", "3"]}]})
    assert status == 200 and scores_rows["predictions"] == scores["outputs"]

    for path, body, expected in [
            ("/v1/models/nope:predict", {"inputs": {"history": [["1"]]}}, 404),
            ("/v1/models/sasrec:predict", {"signature_name": "nope", "inputs": {"history": [["1"]]}}, 400),
            ("/v1/models/sasrec:predict", {"signature_name": "score_items", "inputs": {"history": [["1"]]}}, 400),
            ("/v1/models/sasrec:predict", {"instances": [["1"], ["1", "2"]]}, 400),
            ("/v1/models/sasrec:predict", {"history": [["1"]]}, 400)]:
        status, body = _http(address, "POST", path, body)
        assert status == expected and isinstance(body, dict) and isinstance(body.get("error"), str), (path, body)


def _version(address):
    return _http(address, "GET", "/v1/models/sasrec")[1]["model_version_status"][0]["version"]


# -------------------------------------------------------------- errors without a model (fast)

@pytest.fixture
def closed_port():
    return _free_port()  # bound, then closed: nothing listens there


@pytest.mark.parametrize("protocol", ["rest", "grpc"])
def test_unreachable_server(closed_port, protocol):
    address = f"127.0.0.1:{closed_port}"
    with pytest.raises(ServingError, match=rf"^cannot reach TensorFlow Serving's .* at {address}") as error:
        serving_client.recommend_remote(address, ["1"], protocol=protocol, timeout=5)
    assert error.value.kind == "unreachable" and "must be running" in str(error.value)
    assert "docker run" in str(error.value)


@pytest.mark.parametrize("protocol", ["rest", "grpc"])
def test_server_that_never_answers(protocol):
    with socket.socket() as listener:  # accepts connections (backlog), never replies
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        address = f"127.0.0.1:{listener.getsockname()[1]}"
        started = time.monotonic()
        with pytest.raises(ServingError, match="did not answer within 0.5 s") as error:
            serving_client.recommend_remote(address, ["1"], protocol=protocol, timeout=0.5)
        assert error.value.kind == "unreachable" and time.monotonic() - started < 5


def test_parse_server():
    assert serving_client.parse_server("localhost:8501") == ("localhost", 8501)
    assert serving_client.parse_server(" 10.0.0.2:8500 ") == ("10.0.0.2", 8500)
    assert serving_client.parse_server("[::1]:8500") == ("::1", 8500)
    assert serving_client.parse_server("tf-serving.default.svc.cluster.local:8501")[1] == 8501
    for bad, reason in [("localhost", "is not HOST:PORT"), ("http://localhost:8501", "has a scheme"),
                        ("localhost:0", "invalid port"), ("localhost:http", "invalid port"),
                        (":8501", "is not HOST:PORT"), ("::1:8501", "invalid host"), ("a b:1", "invalid host"),
                        ("", "is empty")]:
        with pytest.raises(ValueError, match=reason):
            serving_client.parse_server(bad)
        with pytest.raises(ServingError):
            serving_client.recommend_remote(bad, ["1"])
    with pytest.raises(ValueError, match="protocol must be one of rest, grpc"):
        serving_client.recommend_remote("localhost:8501", ["1"], protocol="http")


def test_rest_client_imports_without_tensorflow(closed_port):
    script = (
        "import sys\n"
        "from sasrec import serving_client as c\n"
        "try:\n"
        f"    c.recommend_remote('127.0.0.1:{closed_port}', ['1'], protocol='rest', timeout=5)\n"
        "except c.ServingError as e:\n"
        "    assert e.kind == 'unreachable', e\n"
        "assert 'tensorflow' not in sys.modules and 'grpc' not in sys.modules, 'imported TF/gRPC'\n"
        "print('ok')\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]


@contextlib.contextmanager
def _canned_http(status, body, content_type="application/json"):
    """A tiny HTTP server on loopback answering every request with `status` and `body`."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


@pytest.mark.parametrize("status, body, kind, message", [
    (200, "<html>garbage</html>", "malformed_response", "the body is not a JSON object"),
    (200, "[1, 2]", "malformed_response", "the body is not a JSON object"),
    (200, '{"predictions": [{"item_ids": ["1"], "scores": [1.0]}]}', "malformed_response", "no 'outputs'"),
    (200, '{"outputs": [[1.0]]}', "malformed_response", "'outputs' is not an object"),
    (200, '{"outputs": {"item_ids": [["1"]]}}', "malformed_response", "no output 'scores'"),
    (200, '{"outputs": {"item_ids": [["1", "2"]], "scores": [[1.0]]}}', "malformed_response",
     "2 item_ids but 1 scores"),
    (200, '{"outputs": {"item_ids": [["1"]], "scores": [["x"]]}}', "malformed_response", "non-numeric"),
    (200, '{"outputs": {"item_ids": [[1]], "scores": [[1.0]]}}', "malformed_response", "non-string"),
    (200, '{"outputs": {"item_ids": ["1"], "scores": [1.0]}}', "malformed_response", r"not a \[1, k\] list"),
    (200, '{"outputs": {"item_ids": [["1"], ["2"]], "scores": [[1.0], [2.0]]}}', "malformed_response", r"\[1, k\]"),
    (200, '{"outputs": {"item_ids": [["1"]], "scores": [[NaN]]}}', "malformed_response", "NaN"),
    (404, "<html>Not Found</html>", "unreachable", "not TensorFlow Serving's REST API"),
    (400, '{"error": "input size does not match signature"}', "bad_request", "rejected the request"),
    (500, '{"error": "boom"}', "server_error", r"failed \(HTTP 500: boom\)"),
    (503, "<html>down</html>", "server_error", "HTTP 503 without TensorFlow Serving's error JSON"),
])
def test_malformed_or_failed_rest_responses(status, body, kind, message):
    with _canned_http(status, body) as address:
        with pytest.raises(ServingError, match=message) as error:
            serving_client.recommend_remote(address, ["1"], protocol="rest", timeout=5)
    assert error.value.kind == kind and address in str(error.value)


def test_malformed_grpc_responses():
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    responses = []

    class Servicer(prediction_service_pb2_grpc.PredictionServiceServicer):
        def Predict(self, request, context):  # noqa: N802
            return responses.pop(0)

    def response(**outputs):
        message = predict_pb2.PredictResponse()
        for name, value in outputs.items():
            message.outputs[name].CopyFrom(tf.make_tensor_proto(value))
        return message

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(Servicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        address = f"127.0.0.1:{port}"
        for bad, message in [
                (response(scores=np.ones((1, 3), np.float32)), "no output 'item_ids'"),
                (response(item_ids=np.array([[b"1"], [b"2"]], dtype=object), scores=np.ones((2, 1), np.float32)),
                 r"\[1, k\]"),
                (response(item_ids=np.array([[b"1", b"2"]], dtype=object), scores=np.ones((1, 1), np.float32)),
                 "2 item_ids but 1 scores"),
                (response(item_ids=np.ones((1, 2), np.float32), scores=np.ones((1, 2), np.float32)), "non-string")]:
            responses.append(bad)
            with pytest.raises(ServingError, match=message) as error:
                serving_client.recommend_remote(address, ["1"], protocol="grpc", timeout=5)
            assert error.value.kind == "malformed_response"
    finally:
        server.stop(grace=None).wait(timeout=10)


@pytest.mark.slow
def test_rest_and_grpc_ports_swapped(double):
    with pytest.raises(ServingError, match="did not answer like TensorFlow Serving's REST API.*is it the gRPC port"):
        serving_client.recommend_remote(double.grpc_address, ["1"], protocol="rest", timeout=5)
    with pytest.raises(ServingError, match="did not answer like TensorFlow Serving's gRPC API.*is it the REST port"):
        serving_client.recommend_remote(double.rest_address, ["1"], protocol="grpc", timeout=5)


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["rest", "grpc"])
def test_recommend_command_against_a_server(server, signatures, protocol, capsys):
    from sasrec import cli

    history = HISTORIES[0]
    address = server.rest_address if protocol == "rest" else server.grpc_address
    assert cli.main(["recommend", "--server", address, "--protocol", protocol, "--history", ",".join(history)]) == 0
    printed = [line.split()[1] for line in capsys.readouterr().out.strip().splitlines()]
    assert printed == [item for item, _ in _tf2_recommend(signatures, history)]
