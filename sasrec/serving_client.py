"""Calling a pushed model that TensorFlow Serving serves, over REST (port 8501) or gRPC (port 8500).

The REST path uses only the standard library, so `recommend_remote(..., protocol="rest")` works
without TensorFlow installed. The gRPC path imports `grpc`, `tensorflow_serving.apis` and TensorFlow
when it is first used.

Every failure is a `ServingError` whose message is one sentence naming the server, and whose `kind`
says which failure it was:

| kind | when |
|---|---|
| `unreachable` | connection refused, unknown host, timeout, or not speaking the expected protocol |
| `model_not_found` | REST 404 / gRPC NOT_FOUND (e.g. `Servable not found for request: Latest(x)`) |
| `signature_not_found` | REST 400 / gRPC INVALID_ARGUMENT or FAILED_PRECONDITION about the signature |
| `bad_request` | any other rejection of the request (wrong inputs for the signature, ...) |
| `server_error` | any other status from the server (5xx, INTERNAL, ...) |
| `malformed_response` | not JSON, no `outputs`, missing output, wrong shapes or types |
"""
from __future__ import annotations

import http.client
import json
import math
import re
import socket
from typing import Any, Dict, List, Optional, Sequence, Tuple

DEFAULT_MODEL_NAME = "sasrec"
REST_PORT = 8501
GRPC_PORT = 8500
PROTOCOLS = ("rest", "grpc")
DOCKER_HINT = ('docker run -p 8500:8500 -p 8501:8501 -v "$PWD/output/serving:/models/sasrec" '
               "-e MODEL_NAME=sasrec tensorflow/serving:2.16.1")


class ServingError(RuntimeError):
    """A call to TensorFlow Serving failed; `str(error)` is one sentence for the user."""

    def __init__(self, message: str, kind: str = "server_error", server: Optional[str] = None):
        super().__init__(message)
        self.kind = kind
        self.server = server


class ServerAddressError(ServingError, ValueError):
    """`--server` is not `HOST:PORT`."""

    def __init__(self, message: str):
        super().__init__(message, kind="bad_address")


_HOST = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?)$")


def parse_server(text: str) -> Tuple[str, int]:
    """`"HOST:PORT"` (or `"[IPv6]:PORT"`) -> `(host, port)`; `ServerAddressError` (a ValueError) otherwise."""
    if not isinstance(text, str) or not text.strip():
        raise ServerAddressError(f"server address {text!r} is empty; give HOST:PORT, e.g. localhost:{REST_PORT}")
    text = text.strip()
    if "://" in text:
        raise ServerAddressError(f"server address {text!r} has a scheme; give HOST:PORT without it, "
                                 f"e.g. localhost:{REST_PORT} for REST or localhost:{GRPC_PORT} for gRPC")
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise ServerAddressError(f"server address {text!r} is not HOST:PORT, e.g. localhost:{REST_PORT} "
                                 f"(REST) or localhost:{GRPC_PORT} (gRPC)")
    if not _HOST.match(host) or (":" in host and not host.startswith("[")):
        raise ServerAddressError(f"server address {text!r} has an invalid host {host!r} "
                                 "(IPv6 addresses go in brackets, e.g. [::1]:8501)")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ServerAddressError(f"server address {text!r} has an invalid port {port_text!r}; "
                                 "it must be a number from 1 to 65535")
    return host.strip("[]") if host.startswith("[") else host, int(port_text)


def _format_server(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _check_protocol(protocol: str) -> str:
    protocol = (protocol or "").lower()
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, not {protocol!r}")
    return protocol


def _clean_ids(ids: Sequence[Any], what: str) -> List[str]:
    if isinstance(ids, (str, bytes)):
        raise TypeError(f"{what} must be a list of item IDs, not a single string")
    return [i.decode("utf-8") if isinstance(i, bytes) else str(i) for i in ids]


def recommend_remote(server: str, history: Sequence[str], protocol: str = "rest",
                     model_name: str = DEFAULT_MODEL_NAME, signature: str = "serving_default",
                     timeout: float = 10.0, version: Optional[int] = None) -> List[Tuple[str, float]]:
    """Top-k `(item ID, score)` pairs, best first, for one history (raw IDs, oldest first).

    Calls `signature` (default `serving_default`) of `model_name` on TensorFlow Serving at `server`
    (`HOST:PORT`: REST usually on 8501, gRPC on 8500). Empty item IDs (slots left when fewer than k
    items can be recommended) are dropped. Raises `ServingError`.
    """
    history = _clean_ids(history, "history") or [""]
    inputs = {"history": [history]}
    outputs = _predict(server, protocol, model_name, signature, inputs, timeout, version, ("item_ids", "scores"))
    where = _where(server, model_name, signature)
    item_ids = _row(outputs, "item_ids", str, where, server)
    scores = _row(outputs, "scores", float, where, server)
    if len(item_ids) != len(scores):
        raise ServingError(f"{where} returned a malformed response: {len(item_ids)} item_ids but "
                           f"{len(scores)} scores", kind="malformed_response", server=server)
    return [(item, score) for item, score in zip(item_ids, scores) if item]


def score_remote(server: str, history: Sequence[str], candidates: Sequence[str], protocol: str = "rest",
                 model_name: str = DEFAULT_MODEL_NAME, signature: str = "score_items",
                 timeout: float = 10.0, version: Optional[int] = None) -> List[float]:
    """The model's score of each candidate after `history`, from its `score_items` signature.

    One float per candidate, in the candidates' order; an unknown candidate gets the lowest finite
    float32. Raises `ServingError`.
    """
    history = _clean_ids(history, "history") or [""]
    candidates = _clean_ids(candidates, "candidates")
    if not candidates:
        parse_server(server)
        _check_protocol(protocol)
        return []
    outputs = _predict(server, protocol, model_name, signature,
                       {"history": [history], "candidates": [candidates]}, timeout, version, ("scores",))
    where = _where(server, model_name, signature)
    scores = _row(outputs, "scores", float, where, server)
    if len(scores) != len(candidates):
        raise ServingError(f"{where} returned a malformed response: {len(scores)} scores for "
                           f"{len(candidates)} candidates (is {signature!r} a score_items signature?)",
                           kind="malformed_response", server=server)
    return scores


def _where(server: str, model_name: str, signature: str) -> str:
    return f"TensorFlow Serving at {server} (model {model_name!r}, signature {signature!r})"


def _row(outputs: Dict[str, Any], name: str, kind: type, where: str, server: str) -> list:
    """The single batch row of output `name`, checked to be a flat list of `kind`."""
    if name not in outputs:
        raise ServingError(f"{where} returned a malformed response: no output {name!r} "
                           f"(outputs: {sorted(outputs)})", kind="malformed_response", server=server)
    value = outputs[name]
    if not (isinstance(value, list) and len(value) == 1 and isinstance(value[0], list)):
        raise ServingError(f"{where} returned a malformed response: output {name!r} is not a "
                           f"[1, k] list of lists", kind="malformed_response", server=server)
    row = value[0]
    if kind is str:
        if not all(isinstance(v, str) for v in row):
            raise ServingError(f"{where} returned a malformed response: output {name!r} holds "
                               f"non-string values", kind="malformed_response", server=server)
        return list(row)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in row):
        raise ServingError(f"{where} returned a malformed response: output {name!r} holds "
                           f"non-numeric values", kind="malformed_response", server=server)
    row = [float(v) for v in row]
    if any(math.isnan(v) for v in row):
        raise ServingError(f"{where} returned a malformed response: output {name!r} holds NaN",
                           kind="malformed_response", server=server)
    return row


def _predict(server: str, protocol: str, model_name: str, signature: str, inputs: Dict[str, list],
             timeout: float, version: Optional[int], expected: Tuple[str, ...]) -> Dict[str, Any]:
    """Named outputs of one Predict call, each as nested Python lists (strings decoded).

    `expected` names the outputs the caller reads; when it is a single name, TF Serving's REST answer
    for a one-output signature (`{"outputs": <value>}`, the name omitted) is read as that output.
    """
    host, port = parse_server(server)
    protocol = _check_protocol(protocol)
    if protocol == "rest":
        return _predict_rest(host, port, model_name, signature, inputs, timeout, version, expected)
    return _predict_grpc(host, port, model_name, signature, inputs, timeout, version)


# ------------------------------------------------------------------------------------------ REST

def _predict_rest(host: str, port: int, model_name: str, signature: str, inputs: Dict[str, list],
                  timeout: float, version: Optional[int], expected: Tuple[str, ...]) -> Dict[str, Any]:
    address = _format_server(host, port)
    where = _where(address, model_name, signature)
    path = f"/v1/models/{model_name}" + (f"/versions/{int(version)}" if version is not None else "") + ":predict"
    body = json.dumps({"signature_name": signature, "inputs": inputs}).encode("utf-8")
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        status, payload = response.status, response.read()
    except ConnectionRefusedError:
        raise ServingError(f"cannot reach TensorFlow Serving's REST API at {address}: connection refused; "
                           f"TensorFlow Serving must be running there, e.g. `{DOCKER_HINT}`",
                           kind="unreachable", server=address) from None
    except socket.gaierror as error:
        raise ServingError(f"cannot reach TensorFlow Serving's REST API at {address}: unknown host "
                           f"({error.strerror or error})", kind="unreachable", server=address) from None
    except (socket.timeout, TimeoutError):
        raise ServingError(f"TensorFlow Serving's REST API at {address} did not answer within {timeout:g} s; "
                           f"check that the server is up and the port is its REST port ({REST_PORT} by default)",
                           kind="unreachable", server=address) from None
    except (http.client.HTTPException, ConnectionError) as error:
        raise ServingError(f"{address} did not answer like TensorFlow Serving's REST API "
                           f"({type(error).__name__}); is it the gRPC port? REST is on {REST_PORT} by default",
                           kind="unreachable", server=address) from None
    except OSError as error:
        raise ServingError(f"cannot reach TensorFlow Serving's REST API at {address}: "
                           f"{error.strerror or error}", kind="unreachable", server=address) from None
    finally:
        connection.close()

    text = payload.decode("utf-8", errors="replace")
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if status != 200:
        _raise_rest_error(status, document, text, address, where, model_name, signature, path)
    if not isinstance(document, dict):
        raise ServingError(f"{where} returned a malformed response: the body is not a JSON object "
                           f"({_snippet(text)})", kind="malformed_response", server=address)
    if "outputs" not in document:
        raise ServingError(f"{where} returned a malformed response: no 'outputs' in the JSON "
                           f"(keys: {sorted(document)})", kind="malformed_response", server=address)
    outputs = document["outputs"]
    if isinstance(outputs, dict):
        return outputs
    # TF Serving omits the name when a signature has one output: {"outputs": <value>}.
    if isinstance(outputs, list) and len(expected) == 1:
        return {expected[0]: outputs}
    raise ServingError(f"{where} returned a malformed response: 'outputs' is not an object of named "
                       f"outputs", kind="malformed_response", server=address)


# TF Serving: REST `Serving signature name: "x" not found in signature def` (INVALID_ARGUMENT),
# gRPC `Serving signature key "x" not found.` (FAILED_PRECONDITION). Not `input size does not match signature`.
_SIGNATURE_NOT_FOUND = re.compile(r"signature\b.*\bnot found", re.IGNORECASE | re.DOTALL)


def _snippet(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _raise_rest_error(status: int, document: Any, text: str, address: str, where: str,
                      model_name: str, signature: str, path: str) -> None:
    message = document.get("error") if isinstance(document, dict) else None
    if not isinstance(message, str):
        if status == 404:
            raise ServingError(f"{address} answered 404 for POST {path} without TensorFlow Serving's error "
                               f"JSON, so it is not TensorFlow Serving's REST API (REST is on {REST_PORT} "
                               f"by default)", kind="unreachable", server=address)
        raise ServingError(f"{where} answered HTTP {status} without TensorFlow Serving's error JSON "
                           f"({_snippet(text)})", kind="server_error", server=address)
    if status == 404:
        raise ServingError(f"model {model_name!r} not found on TensorFlow Serving at {address} "
                           f"(HTTP 404: {message}); check --model_name / MODEL_NAME of the server",
                           kind="model_not_found", server=address)
    if status == 400 and _SIGNATURE_NOT_FOUND.search(message):
        raise ServingError(f"signature {signature!r} not found in model {model_name!r} on TensorFlow "
                           f"Serving at {address} (HTTP 400: {message})", kind="signature_not_found", server=address)
    if 400 <= status < 500:
        raise ServingError(f"{where} rejected the request (HTTP {status}: {message})",
                           kind="bad_request", server=address)
    raise ServingError(f"{where} failed (HTTP {status}: {message})", kind="server_error", server=address)


# ------------------------------------------------------------------------------------------ gRPC

def _predict_grpc(host: str, port: int, model_name: str, signature: str, inputs: Dict[str, list],
                  timeout: float, version: Optional[int]) -> Dict[str, Any]:
    import grpc

    import sasrec  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    address = _format_server(host, port)
    where = _where(address, model_name, signature)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = int(version)
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value, dtype=tf.string))

    with grpc.insecure_channel(address) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        try:
            response = stub.Predict(request, timeout=timeout)
        except grpc.RpcError as error:
            _raise_grpc_error(error, address, where, model_name, signature, timeout)

    outputs = {}
    for name, proto in response.outputs.items():
        try:
            array = tf.make_ndarray(proto)
        except Exception as error:  # noqa: BLE001 - any undecodable TensorProto
            raise ServingError(f"{where} returned a malformed response: output {name!r} is not a valid "
                               f"TensorProto ({error})", kind="malformed_response", server=address) from None
        if array.dtype == object:
            array = _decode_strings(array)
        outputs[name] = array.tolist()
    return outputs


def _decode_strings(array):
    import numpy as np

    return np.vectorize(lambda b: b.decode("utf-8", errors="replace") if isinstance(b, bytes) else b,
                        otypes=[object])(array) if array.size else array


def _raise_grpc_error(error, address: str, where: str, model_name: str, signature: str, timeout: float) -> None:
    import grpc

    code = error.code() if hasattr(error, "code") else None
    details = (error.details() if hasattr(error, "details") else None) or str(error)
    name = code.name if code is not None else "UNKNOWN"
    if code == grpc.StatusCode.UNAVAILABLE and "HTTP/2" in details:
        raise ServingError(f"{address} did not answer like TensorFlow Serving's gRPC API (it does not speak "
                           f"HTTP/2); is it the REST port? gRPC is on {GRPC_PORT} by default",
                           kind="unreachable", server=address) from None
    if code == grpc.StatusCode.UNAVAILABLE:
        raise ServingError(f"cannot reach TensorFlow Serving's gRPC API at {address} (UNAVAILABLE: "
                           f"{details}); TensorFlow Serving must be running there, e.g. `{DOCKER_HINT}`",
                           kind="unreachable", server=address) from None
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        raise ServingError(f"TensorFlow Serving's gRPC API at {address} did not answer within {timeout:g} s; "
                           f"check that the server is up and the port is its gRPC port ({GRPC_PORT} by default)",
                           kind="unreachable", server=address) from None
    if code == grpc.StatusCode.UNIMPLEMENTED:
        raise ServingError(f"{address} does not implement TensorFlow Serving's PredictionService "
                           f"(UNIMPLEMENTED: {details}); gRPC is on {GRPC_PORT} by default",
                           kind="unreachable", server=address) from None
    if code == grpc.StatusCode.NOT_FOUND:
        raise ServingError(f"model {model_name!r} not found on TensorFlow Serving at {address} "
                           f"(NOT_FOUND: {details}); check --model_name / MODEL_NAME of the server",
                           kind="model_not_found", server=address) from None
    if code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION):
        if _SIGNATURE_NOT_FOUND.search(details):
            raise ServingError(f"signature {signature!r} not found in model {model_name!r} on TensorFlow "
                               f"Serving at {address} ({name}: {details})",
                               kind="signature_not_found", server=address) from None
        raise ServingError(f"{where} rejected the request ({name}: {details})",
                           kind="bad_request", server=address) from None
    raise ServingError(f"{where} failed ({name}: {details})", kind="server_error", server=address) from None
