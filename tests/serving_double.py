"""A test double of TensorFlow Serving, for tests only: the same Predict contract, in process.

There is no `tensorflow_model_server` binary on the test machines, so the client of
`sasrec.serving_client` is tested against this double. It stays close to what the C++ server does:

* **Loading.** `SignatureDefModel` loads the SavedModel the way the server's SavedModelBundle does:
  the MetaGraphDef tagged `serve`, into a graph-mode `tf.compat.v1.Session` (its own `tf.Graph`),
  with `tf.compat.v1.saved_model.load`; a signature runs as `session.run` of its SignatureDef's
  output tensor names fed at its input tensor names. The Keras/`tf.function` objects of the TF2
  loader are not used, so a model that only works through them fails here as it would in TF Serving.
  A base path with integer version folders serves its highest version, as TF Serving's default
  version policy does.
* **Predict.** `ServingDouble.predict(PredictRequest) -> PredictResponse` follows
  `tensorflow_serving/servables/tensorflow/predict_util.cc`: unknown model -> NOT_FOUND
  `Servable not found for request: Latest(<name>)`; unknown signature -> FAILED_PRECONDITION
  `Serving signature key "<sig>" not found.`; missing/extra inputs -> INVALID_ARGUMENT
  `input size does not match signature: ...`; `output_filter` honoured; outputs written as
  TensorProto fields (`float_val`, `string_val`), the response's `model_spec` filled in.
* **REST** (`http.server` on 127.0.0.1, an ephemeral port), following `http_rest_api_handler.cc`
  and `json_tensor.cc`: `POST /v1/models/<name>[/versions/<v>]:predict` with the columnar `inputs`
  (-> `{"outputs": ...}`) or row `instances` (-> `{"predictions": ...}`) format, a one-output
  signature answered without the output's name, `{"b64": ...}` strings, `GET
  /v1/models/<name>[/versions/<v>]` (model status). Errors are `{"error": "<message>"}` with TF
  Serving's status mapping (NOT_FOUND 404, INVALID_ARGUMENT / FAILED_PRECONDITION 400, ...); an
  unknown signature over REST is INVALID_ARGUMENT `Serving signature name: "<sig>" not found in
  signature def`, as there.
* **gRPC** (`grpc.server` with a thread pool on 127.0.0.1, an ephemeral port):
  `tensorflow.serving.PredictionService/Predict` with the same status codes; the other methods
  answer UNIMPLEMENTED.

Not implemented: classify/regress, model metadata, version labels, batching, model reloading.

Usage::

    with serving_double.serve(model_dir, model_name="sasrec") as server:
        server.rest_address   # "127.0.0.1:<port>"
        server.grpc_address   # "127.0.0.1:<port>"
        server.predict(request)

Both servers listen on loopback only and are shut down when the block ends.
"""
from __future__ import annotations

import base64
import contextlib
import json
import re
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, Iterator, Optional, Sequence

import numpy as np

import sasrec  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
import grpc
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

LOOPBACK = "127.0.0.1"
DEFAULT_SIGNATURE = "serving_default"
PREDICT_METHOD = "tensorflow/serving/predict"

# tensorflow_serving/model_servers/http_server.cc ToHTTPStatusCode.
HTTP_STATUS = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}
_GRPC_BY_VALUE = {code.value[0]: code for code in grpc.StatusCode}


class ServingStatus(Exception):
    """A non-OK status of the double, as TF Serving's `Status`: a gRPC code and a message."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 500)


def newest_version(model_path: Path) -> tuple:
    """(version, export dir): a SavedModel dir itself, else the highest integer version folder."""
    model_path = Path(model_path)
    if (model_path / "saved_model.pb").exists():
        return (int(model_path.name) if model_path.name.isdigit() else 1), model_path
    versions = [p for p in model_path.iterdir() if p.name.isdigit() and (p / "saved_model.pb").exists()]
    if not versions:
        raise FileNotFoundError(f"{model_path} holds no SavedModel and no integer version folder with one")
    newest = max(versions, key=lambda p: int(p.name))
    return int(newest.name), newest


class SignatureDefModel:
    """A SavedModel loaded by SignatureDefs into a TF1 Session, as TF Serving's C++ loader does."""

    def __init__(self, export_dir: Path, tags: Sequence[str] = ("serve",)):
        self.export_dir = Path(export_dir)
        self.graph = tf.Graph()
        self.session = tf.compat.v1.Session(graph=self.graph)
        with self.graph.as_default():
            meta_graph = tf.compat.v1.saved_model.load(self.session, list(tags), str(self.export_dir))
        self.signature_defs = dict(meta_graph.signature_def)

    def run(self, signature_name: str, inputs: Dict[str, np.ndarray],
            output_filter: Optional[Sequence[str]] = None) -> Dict[str, np.ndarray]:
        """Feed `inputs` at the signature's input tensor names, fetch its (filtered) outputs by name."""
        signature = self.signature_defs[signature_name]
        aliases = list(output_filter) if output_filter else list(signature.outputs)
        fetches = {alias: signature.outputs[alias].name for alias in aliases}
        feed = {signature.inputs[alias].name: value for alias, value in inputs.items()}
        return self.session.run(fetches, feed_dict=feed)

    def close(self) -> None:
        self.session.close()


def _tensor_proto(array: np.ndarray):
    """A TensorProto as TF Serving writes outputs (Tensor::AsProtoField: typed `*_val` fields)."""
    proto = tf.make_tensor_proto(array)
    if array.dtype == np.float32 and proto.tensor_content:
        proto.ClearField("tensor_content")
        proto.float_val.extend(array.ravel().tolist())
    return proto


class ServingDouble:
    """The double of one model: `predict()` in process, and REST/gRPC servers after `start()`."""

    def __init__(self, model_path: Path, model_name: str = "sasrec"):
        self.model_name = model_name
        self.version, self.export_dir = newest_version(model_path)
        self.model = SignatureDefModel(self.export_dir)
        self._rest: Optional[ThreadingHTTPServer] = None
        self._rest_thread: Optional[threading.Thread] = None
        self._grpc: Optional[grpc.Server] = None
        self.rest_port: Optional[int] = None
        self.grpc_port: Optional[int] = None

    @property
    def rest_address(self) -> str:
        return f"{LOOPBACK}:{self.rest_port}"

    @property
    def grpc_address(self) -> str:
        return f"{LOOPBACK}:{self.grpc_port}"

    # ----------------------------------------------------------------------------------- Predict

    def _check_model(self, name: str, version: Optional[int]) -> None:
        """NOT_FOUND as ServerCore::GetServableHandle answers it."""
        if name != self.model_name:
            request = f"Specific({name}, {version})" if version is not None else f"Latest({name})"
            raise ServingStatus(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: {request}")
        if version is not None and version != self.version:
            raise ServingStatus(grpc.StatusCode.NOT_FOUND,
                                f"Servable not found for request: Specific({name}, {version})")

    def predict(self, request: predict_pb2.PredictRequest) -> predict_pb2.PredictResponse:
        """A PredictRequest through the session; raises `ServingStatus` as TF Serving would fail."""
        spec = request.model_spec
        self._check_model(spec.name, spec.version.value if spec.HasField("version") else None)
        signature_name = spec.signature_name or DEFAULT_SIGNATURE
        signature = self.model.signature_defs.get(signature_name)
        if signature is None:
            raise ServingStatus(grpc.StatusCode.FAILED_PRECONDITION,
                                f'Serving signature key "{signature_name}" not found.')
        if signature.method_name != PREDICT_METHOD:
            raise ServingStatus(grpc.StatusCode.INTERNAL,
                                f"Expected prediction signature method_name to be {PREDICT_METHOD}. "
                                f"Was: {signature.method_name}")
        sent, wanted = set(request.inputs), set(signature.inputs)
        if sent != wanted:
            raise ServingStatus(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"input size does not match signature: {len(sent)}!={len(wanted)} "
                f"len({{{','.join(sorted(sent))}}}) != len({{{','.join(sorted(wanted))}}}). "
                f"Sent extra: {{{','.join(sorted(sent - wanted))}}}. "
                f"Missing but required: {{{','.join(sorted(wanted - sent))}}}.")
        inputs = {}
        for position, (alias, proto) in enumerate(sorted(request.inputs.items())):
            expected = tf.dtypes.as_dtype(signature.inputs[alias].dtype)
            if proto.dtype != expected.as_datatype_enum:
                got = tf.dtypes.as_dtype(proto.dtype).name if proto.dtype else "invalid"
                raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                                    f"Expects arg[{position}] to be {expected.name} but {got} is provided")
            try:
                inputs[alias] = tf.make_ndarray(proto)
            except Exception as error:  # noqa: BLE001 - an undecodable TensorProto
                raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                                    f"Could not parse input tensor {alias}: {error}") from None
        output_filter = list(request.output_filter)
        for alias in output_filter:
            if alias not in signature.outputs:
                raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                                    f"output tensor alias not found in signature: {alias} Outputs expected "
                                    f"to be in the set {{{','.join(sorted(signature.outputs))}}}.")
        if len(set(output_filter)) != len(output_filter):
            raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT, "duplicate output tensor alias")
        try:
            outputs = self.model.run(signature_name, inputs, output_filter)
        except tf.errors.OpError as error:
            raise ServingStatus(_GRPC_BY_VALUE.get(error.error_code, grpc.StatusCode.UNKNOWN),
                                error.message) from None
        except ValueError as error:  # feed shape/type rejected before running
            raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT, str(error)) from None

        response = predict_pb2.PredictResponse()
        response.model_spec.name = spec.name
        response.model_spec.version.value = self.version
        response.model_spec.signature_name = signature_name
        for alias, value in outputs.items():
            response.outputs[alias].CopyFrom(_tensor_proto(np.asarray(value)))
        return response

    def model_status(self, name: str, version: Optional[int] = None) -> dict:
        """GetModelStatusResponse as JSON (always_print_primitive_fields), or NOT_FOUND."""
        if name != self.model_name:
            raise ServingStatus(grpc.StatusCode.NOT_FOUND, f"Could not find any versions of model {name}")
        if version is not None and version != self.version:
            raise ServingStatus(grpc.StatusCode.NOT_FOUND, f"Could not find version {version} of model {name}")
        return {"model_version_status": [{"version": str(self.version), "state": "AVAILABLE",
                                          "status": {"error_code": "OK", "error_message": ""}}]}

    # -------------------------------------------------------------------------------- start/stop

    def start(self) -> "ServingDouble":
        double = self

        class Handler(_RestHandler):
            serving = double

        self._rest = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self._rest.daemon_threads = True
        self.rest_port = self._rest.server_address[1]
        self._rest_thread = threading.Thread(target=self._rest.serve_forever, kwargs={"poll_interval": 0.1},
                                             name="serving-double-rest", daemon=True)
        self._rest_thread.start()

        self._grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="serving-double-grpc"))
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(_PredictionServicer(self), self._grpc)
        self.grpc_port = self._grpc.add_insecure_port(f"{LOOPBACK}:0")
        if not self.grpc_port:
            raise RuntimeError("could not bind the gRPC server of the serving double on 127.0.0.1")
        self._grpc.start()
        return self

    def stop(self) -> None:
        if self._grpc is not None:
            self._grpc.stop(grace=None).wait(timeout=10)
            self._grpc = None
        if self._rest is not None:
            self._rest.shutdown()
            self._rest.server_close()
            self._rest_thread.join(timeout=10)
            self._rest = None
        self.model.close()

    def __enter__(self) -> "ServingDouble":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@contextlib.contextmanager
def serve(model_path: Path, model_name: str = "sasrec") -> Iterator[ServingDouble]:
    """Load the model, serve it on loopback REST and gRPC ports, stop both at the end."""
    double = ServingDouble(model_path, model_name)
    try:
        yield double.start()
    finally:
        double.stop()


# ------------------------------------------------------------------------------------------ gRPC

class _PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, double: ServingDouble):
        self.double = double

    def Predict(self, request, context):  # noqa: N802 - the gRPC method name
        try:
            return self.double.predict(request)
        except ServingStatus as status:
            context.abort(status.code, status.message)


# ------------------------------------------------------------------------------------------ REST

_PREDICT_PATH = re.compile(r"(?i)/v1/models/([^/:]+)(?:/versions/(\d+))?:(classify|regress|predict)")
_STATUS_PATH = re.compile(r"(?i)/v1/models(?:/([^/:]+))?(?:/versions/(\d+))?")
_API_PATH = re.compile(r"(?i)/v1/.*")


def _is_b64(value) -> bool:
    return isinstance(value, dict) and len(value) == 1 and "b64" in value


def _json_shape(value) -> list:
    """The dense shape of a nested JSON list (TF Serving's GetDenseTensorShape: first elements)."""
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return shape


def _json_leaves(value, shape: list, level: int = 0) -> list:
    if level == len(shape):
        if isinstance(value, list):
            raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT, "Expecting a scalar but got a list")
        return [value]
    if not isinstance(value, list) or len(value) != shape[level]:
        raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                            f"Expecting tensor size of {shape[level]} at level {level} (a dense, "
                            f"non-ragged list)")
    leaves = []
    for item in value:
        leaves.extend(_json_leaves(item, shape, level + 1))
    return leaves


def _json_to_array(value, dtype: tf.dtypes.DType) -> np.ndarray:
    """A JSON value of one input as an ndarray of `dtype`, or INVALID_ARGUMENT."""
    shape = _json_shape(value)
    leaves = _json_leaves(value, shape)
    if dtype == tf.string:
        converted = []
        for leaf in leaves:
            if _is_b64(leaf):
                try:
                    converted.append(base64.b64decode(leaf["b64"], validate=True))
                except (ValueError, TypeError):
                    raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                                        "Unable to base64 decode") from None
            elif isinstance(leaf, str):
                converted.append(leaf.encode("utf-8"))
            else:
                raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                                    f"JSON Value: {json.dumps(leaf)} not formatted correctly for "
                                    f"base64 data / Type: {type(leaf).__name__} is not of expected type: string")
        return np.array(converted, dtype=object).reshape(shape)
    numeric = [leaf for leaf in leaves if isinstance(leaf, (int, float)) and not isinstance(leaf, bool)]
    if dtype == tf.bool:
        numeric = [leaf for leaf in leaves if isinstance(leaf, bool)]
    if len(numeric) != len(leaves):
        raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                            f"JSON Value is not of expected type: {dtype.name}")
    return np.array(leaves, dtype=dtype.as_numpy_dtype).reshape(shape)


def _array_to_json(array: np.ndarray, as_b64: bool):
    def convert(value):
        if isinstance(value, bytes):
            if as_b64:
                return {"b64": base64.b64encode(value).decode("ascii")}
            return value.decode("utf-8", errors="replace")
        if isinstance(value, np.generic):
            return value.item()
        return value

    if array.ndim == 0:
        return convert(array.item() if array.dtype != object else array[()])
    return [_array_to_json(row, as_b64) if isinstance(row, np.ndarray) else convert(row) for row in array]


class _RestHandler(BaseHTTPRequestHandler):
    serving: ServingDouble  # set on the subclass made by ServingDouble.start
    protocol_version = "HTTP/1.1"
    server_version = "ServingDouble"

    def log_message(self, *args) -> None:  # quiet in tests
        pass

    def _reply(self, status: int, body: Optional[dict] = None) -> None:
        data = b"" if body is None else json.dumps(body, indent=1).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _fail(self, status: ServingStatus) -> None:
        self._reply(status.http_status, {"error": status.message})

    def _body(self) -> str:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length).decode("utf-8", errors="replace") if length else ""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        path = self.path.split("?", 1)[0]
        if not _API_PATH.fullmatch(path):
            return self._reply(404)
        match = _STATUS_PATH.fullmatch(path)
        try:
            if not match:
                raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT, f"Malformed request: GET {path}")
            name, version = match.group(1), match.group(2)
            if not name:
                raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT, "Missing model name in request.")
            self._reply(200, self.serving.model_status(name, int(version) if version else None))
        except ServingStatus as status:
            self._fail(status)

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        path = self.path.split("?", 1)[0]
        body = self._body()
        if not _API_PATH.fullmatch(path):
            return self._reply(404)
        match = _PREDICT_PATH.fullmatch(path)
        try:
            if not match:
                raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT, f"Malformed request: POST {path}")
            name, version, method = match.group(1), match.group(2), match.group(3).lower()
            if method != "predict":
                raise ServingStatus(grpc.StatusCode.UNIMPLEMENTED, f"the serving double does not implement {method}")
            self._reply(200, self._predict(name, int(version) if version else None, body))
        except ServingStatus as status:
            self._fail(status)

    def _predict(self, name: str, version: Optional[int], body: str) -> dict:
        """FillPredictRequestFromJson + Predict + MakeJsonFromTensors."""
        if not body:
            raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT, "JSON Parse error: The document is empty")
        try:
            document = json.loads(body)
        except ValueError as error:
            raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT, f"JSON Parse error: {error}") from None
        if not isinstance(document, dict):
            raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT, "JSON Value: Is not object")
        signature_name = document.get("signature_name", "")
        if not isinstance(signature_name, str):
            raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT, "'signature_name' key must be a string value.")
        # GetInfoMap: the servable first, then the signature by name.
        self.serving._check_model(name, version)
        signature_name = signature_name or DEFAULT_SIGNATURE
        signature = self.serving.model.signature_defs.get(signature_name)
        if signature is None:
            raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                                f'Serving signature name: "{signature_name}" not found in signature def')
        infos = {alias: tf.dtypes.as_dtype(info.dtype) for alias, info in signature.inputs.items()}

        if "instances" in document and "inputs" in document:
            raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                                "Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist")
        if "instances" in document:
            row_format, arrays = True, self._from_instances(document["instances"], infos)
        elif "inputs" in document:
            row_format, arrays = False, self._from_inputs(document["inputs"], infos)
        else:
            raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT, "Missing 'inputs' or 'instances' key")

        request = predict_pb2.PredictRequest()
        request.model_spec.name = name
        if version is not None:
            request.model_spec.version.value = version
        request.model_spec.signature_name = signature_name
        for alias, array in arrays.items():
            request.inputs[alias].CopyFrom(tf.make_tensor_proto(array, dtype=infos[alias]))
        response = self.serving.predict(request)

        outputs = {alias: tf.make_ndarray(proto) for alias, proto in sorted(response.outputs.items())}
        as_json = {alias: _array_to_json(array, alias.endswith("_bytes") and array.dtype == object)
                   for alias, array in outputs.items()}
        if not row_format:
            return {"outputs": as_json if len(as_json) > 1 else next(iter(as_json.values()))}
        batch = {array.shape[0] if array.ndim else None for array in outputs.values()}
        if len(batch) != 1 or None in batch:
            raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT, "Tensors have inconsistent batch sizes")
        size = batch.pop()
        if len(as_json) == 1:
            return {"predictions": next(iter(as_json.values()))}
        return {"predictions": [{alias: value[i] for alias, value in as_json.items()} for i in range(size)]}

    @staticmethod
    def _from_inputs(value, infos: Dict[str, tf.dtypes.DType]) -> Dict[str, np.ndarray]:
        if not isinstance(value, dict) or _is_b64(value):
            if len(infos) > 1:
                raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                                    "inputs is a plain value/list, but expecting an object as multiple "
                                    "input tensors required as per tensorinfo_map")
            alias, dtype = next(iter(infos.items()))
            return {alias: _json_to_array(value, dtype)}
        arrays = {}
        for alias, dtype in sorted(infos.items()):
            if alias not in value:
                raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                                    f"Missing named input: {alias} in 'inputs' object.")
            arrays[alias] = _json_to_array(value[alias], dtype)
        return arrays

    @staticmethod
    def _from_instances(value, infos: Dict[str, tf.dtypes.DType]) -> Dict[str, np.ndarray]:
        if not isinstance(value, list):
            raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT, "Excepting 'instances' to be an list/array")
        if not value:
            raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT, "No values in 'instances' array")
        objects = isinstance(value[0], dict) and not _is_b64(value[0])
        if not objects and len(infos) > 1:
            raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                                "instances is a plain list, but expecting list of objects as multiple "
                                "input tensors required as per tensorinfo_map")
        rows: Dict[str, list] = {alias: [] for alias in infos}
        for index, item in enumerate(value):
            is_object = isinstance(item, dict) and not _is_b64(item)
            if objects != is_object:
                raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                                    f"Expecting {'object' if objects else 'value/list'} but got "
                                    f"{'object' if is_object else 'list'} at item {index} of input list")
            if objects:
                if set(item) != set(infos):
                    raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                                        f"Failed to process element: {index} of 'instances' list. JSON object: "
                                        f"{json.dumps(item)} keys must be equal to: {','.join(sorted(infos))}")
                for alias in infos:
                    rows[alias].append(item[alias])
            else:
                rows[next(iter(infos))].append(item)
        arrays = {}
        for alias, items in rows.items():
            parts = [_json_to_array(item, infos[alias]) for item in items]
            if len({part.shape for part in parts}) != 1:
                raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                                    f"Failed to process 'instances' list: input {alias} has items of "
                                    f"different shapes {sorted({part.shape for part in parts})}")
            arrays[alias] = np.stack(parts)
        return arrays
