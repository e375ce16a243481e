"""Send one of the JSON request bodies in this folder to TF Serving over gRPC.

The same files are the REST bodies (``POST /v1/models/<name>:predict``); this
script turns one into a ``PredictRequest`` for the gRPC port (8500):

    pip install tensorflow-serving-api   # not a tfbert dependency
    python examples/serving/grpc_predict.py --model sentiment \\
        --request examples/serving/classifier_request.json --server localhost:8500

``--dry-run`` builds and prints the request without a server. The conversion
from a request body to named arrays (``request_to_inputs``) needs only numpy;
tests use it to call the exported signatures with every request file.
"""

import argparse
import json
import sys

import numpy as np


def _array(values):
    array = np.asarray(values)
    if array.dtype.kind in "US":
        return np.asarray(values, dtype=object)
    if array.dtype.kind in "iu":
        return array.astype(np.int32)  # the signatures take int32 ids
    if array.dtype.kind == "f":
        return array.astype(np.float32)
    raise ValueError(f"unsupported JSON values {values!r}: use strings or integers.")


def request_to_inputs(body):
    """``(signature_name, {input_name: numpy array})`` from a TF Serving REST body.

    Accepts the row format (``{"instances": [{"text": ...}, ...]}``, the form
    used in this folder) and the columnar format (``{"inputs": {"text": [...]}}``).
    String inputs become object arrays of ``str``, integers int32.
    """
    signature = body.get("signature_name", "serving_default")
    if "instances" in body:
        instances = body["instances"]
        if not instances or not all(isinstance(row, dict) for row in instances):
            raise ValueError("'instances' must be a non-empty list of objects, one per example, "
                             "each naming every input (e.g. {\"text\": \"a great movie\"}).")
        names = list(instances[0])
        for row in instances:
            if sorted(row) != sorted(names):
                raise ValueError(f"every instance needs the same inputs {sorted(names)}; got {sorted(row)}.")
        return signature, {name: _array([row[name] for row in instances]) for name in names}
    if "inputs" in body:
        inputs = body["inputs"]
        if not isinstance(inputs, dict):
            raise ValueError("'inputs' (columnar format) must be an object {input_name: values}.")
        return signature, {name: _array(values) for name, values in inputs.items()}
    raise ValueError("a TF Serving predict body needs 'instances' (row format) or 'inputs' (columnar format).")


def build_predict_request(model_name, signature, inputs):
    """A ``tensorflow_serving.apis.predict_pb2.PredictRequest`` for the named arrays."""
    try:
        from tensorflow_serving.apis import predict_pb2
    except ImportError as error:  # an optional client package, never a tfbert dependency
        raise SystemExit(
            f"this example needs tensorflow-serving-api ({error}). Install it in your client environment with "
            "`pip install tensorflow-serving-api` (tfbert itself does not depend on it)."
        )
    import tensorflow as tf

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature
    for name, array in inputs.items():
        dtype = tf.string if array.dtype == object else tf.as_dtype(array.dtype)
        request.inputs[name].CopyFrom(tf.make_tensor_proto(array.tolist() if array.dtype == object else array,
                                                           dtype=dtype, shape=array.shape))
    return request


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="the MODEL_NAME the server was started with")
    parser.add_argument("--request", required=True, help="a JSON request body from this folder")
    parser.add_argument("--server", default="localhost:8500", help="host:port of TF Serving's gRPC port")
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--dry-run", action="store_true", help="print the PredictRequest, send nothing")
    args = parser.parse_args(argv)

    with open(args.request, encoding="utf-8") as f:
        signature, inputs = request_to_inputs(json.load(f))
    request = build_predict_request(args.model, signature, inputs)
    if args.dry_run:
        print(request)
        return 0
    try:
        import grpc
        import tensorflow as tf
        from tensorflow_serving.apis import prediction_service_pb2_grpc
    except ImportError as error:
        raise SystemExit(f"sending needs grpcio and tensorflow-serving-api ({error}): "
                         "`pip install tensorflow-serving-api`.")
    with grpc.insecure_channel(args.server) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        response = stub.Predict(request, timeout=args.timeout)
    for name, proto in sorted(response.outputs.items()):
        value = tf.make_ndarray(proto)
        if value.dtype == object:
            value = np.vectorize(lambda b: b.decode("utf-8", "replace"), otypes=[object])(value)
        print(f"{name} {list(value.shape)}: {value.tolist()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
