"""Warm-up requests: ``assets.extra/tf_serving_warmup_requests`` inside an export.

TF Serving reads this file when it loads a version and runs every request in
it before the version receives traffic, so the first real request does not
pay for kernel set-up, memory pools or (``--xla`` exports) compilation. The
file is a TFRecord of ``tensorflow.serving.PredictionLog`` protos, one
``PredictRequest`` each (TF Serving runs at most 1,000).

tfbert writes the records itself: the few protobuf fields involved
(``PredictionLog.predict_log`` -> ``PredictLog.request`` -> ``PredictRequest``
with ``model_spec.signature_name`` and the ``inputs`` map of ``TensorProto``)
are encoded here in protobuf's wire format, and each tensor is TensorFlow's
own ``TensorProto`` (``tf.make_tensor_proto``). So exporting needs no
``tensorflow-serving-api``; the tests parse the file with it and replay each
request through the loaded model.

``warmup_requests`` builds, per signature, two requests from its input specs:
one short row, and four rows of which one fills the longest window (so a
dynamic export also warms its largest shapes; QA and token-classifier
contexts span several windows).

Example:
>>> import numpy as np
>>> from tfbert.serving.warmup import encode_prediction_log, decode_prediction_log
>>> record = encode_prediction_log("serving_default", {"text": np.array([b"a great movie"], object)})
>>> name, inputs = decode_prediction_log(record)
>>> name, inputs["text"].tolist()
('serving_default', [b'a great movie'])
"""

import os

import numpy as np

#: where TF Serving looks for warm-up requests, relative to a version directory.
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
#: the most records TF Serving replays from the file.
MAX_RECORDS = 1000

SENTENCE = "Ada Lovelace wrote the first program for the Analytical Engine in London, in 1843."
QUESTION = "Who wrote the first program?"
MASKED = "Ada Lovelace wrote the first [MASK] for the Analytical Engine."


# ---- the requests -------------------------------------------------------------
def warmup_requests(serving, signatures):
    """``[(signature_name, {input_name: numpy array})]``: two requests per signature.

    Args:
        serving: the ``ServingModule`` being exported (its tokenizer ids,
            ``max_length`` and ``sequence_length`` shape the requests).
        signatures: ``{name: concrete function}`` as ``serving.signatures()`` returns.
    """
    import tensorflow as tf

    requests = []
    for name in sorted(signatures):
        # before saving, the inputs are positional TensorSpecs that carry their names
        specs = {spec.name: spec for spec in tf.nest.flatten(signatures[name].structured_input_signature)}
        for rows, long in ((1, False), (4, True)):
            requests.append((name, {key: _example(serving, key, spec, rows, long) for key, spec in specs.items()}))
    return requests


def _example(serving, key, spec, rows, long):
    shape = spec.shape.as_list()
    if spec.dtype.name == "string":
        return _strings(serving, key, rows, long, shape)
    return _token_ids(serving, key, spec, rows, long, shape)


def _strings(serving, key, rows, long, shape):
    repeat = max(1, serving.max_length // 8)  # a text longer than one window
    base = {"question": QUESTION, "choices": "the Analytical Engine"}.get(key, SENTENCE)
    texts = [base] * rows
    texts[0] = MASKED if key == "text" else base  # the masked LM has a [MASK] to fill
    if long and key != "question":
        texts[-1] = " ".join([SENTENCE] * repeat)
    if len(shape) == 2:  # multiple choice: [B, C] candidates, the last slot unused
        return np.array([[text, "a machine", ""] for text in texts], object)
    return np.array(texts, object)


def _token_ids(serving, key, spec, rows, long, shape):
    width = shape[-1] or (serving.max_length if long else min(8, serving.max_length))
    vocab = serving.config.vocab_size
    tok = serving.tokenizer
    cls, sep = (tok.cls_token_id, tok.sep_token_id) if tok is not None else (1 % vocab, 2 % vocab)
    filler = 1 + np.arange(width) % max(vocab - 1, 1)
    ids = np.zeros((rows, width), "int32")
    lengths = [width if long and r == rows - 1 else min(width, 6) for r in range(rows)]
    for r, n in enumerate(lengths):
        ids[r, :n] = filler[:n]
        ids[r, 0], ids[r, n - 1] = cls, sep
    if key == "token_ids":
        value = ids
    elif key == "segment_ids":  # QA windows read segment 1 as the context
        value = np.where(np.arange(width)[None, :] >= 2, 1, 0).astype("int32") * (ids > 0)
    else:
        value = (np.arange(width)[None, :] < np.array(lengths)[:, None]).astype("int32")
    if len(shape) == 3:  # multiple choice: [B, C, S]
        value = np.repeat(value[:, None, :], 2, axis=1)
    return value.astype(spec.dtype.as_numpy_dtype)


# ---- the file -----------------------------------------------------------------
def write_warmup_requests(version_dir, requests):
    """Write ``requests`` as ``version_dir/assets.extra/tf_serving_warmup_requests``; return its path.

    Called by ``export_saved_model`` on the hidden temporary directory
    before it is renamed into place, so the file appears with the version.
    """
    import tensorflow as tf

    if len(requests) > MAX_RECORDS:
        raise ValueError(f"{len(requests)} warm-up requests: TF Serving replays at most {MAX_RECORDS}.")
    path = os.path.join(version_dir, WARMUP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for name, inputs in requests:
            writer.write(encode_prediction_log(name, inputs))
    return path


def read_warmup_requests(version_dir):
    """The requests of an export's warm-up file: ``[(signature_name, {input_name: numpy array})]``."""
    import tensorflow as tf

    path = os.path.join(version_dir, WARMUP_FILE)
    return [decode_prediction_log(record.numpy()) for record in tf.data.TFRecordDataset(path)]


# ---- protobuf wire format -----------------------------------------------------------
# PredictionLog.predict_log = 6; PredictLog.request = 1; PredictRequest.model_spec = 1,
# PredictRequest.inputs = 2 (map<string, TensorProto>: entries with key = 1, value = 2);
# ModelSpec.signature_name = 3 (tensorflow_serving/apis/{prediction_log,predict,model}.proto).
_LENGTH_DELIMITED = 2


def _varint(value):
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number, payload):
    return _varint(number << 3 | _LENGTH_DELIMITED) + _varint(len(payload)) + payload


def encode_prediction_log(signature_name, inputs):
    """One serialized ``PredictionLog`` holding a ``PredictRequest`` for ``signature_name``."""
    import tensorflow as tf

    request = _field(1, _field(3, signature_name.encode("utf-8")))
    for key in sorted(inputs):
        value = np.asarray(inputs[key])
        proto = tf.make_tensor_proto(value.astype(bytes) if value.dtype == object else value)
        request += _field(2, _field(1, key.encode("utf-8")) + _field(2, proto.SerializeToString()))
    return _field(6, _field(1, request))


def _fields(data):
    """``[(field_number, bytes)]`` of a message whose fields are all length-delimited."""
    out, i = [], 0
    while i < len(data):
        key, i = _read_varint(data, i)
        if key & 7 != _LENGTH_DELIMITED:
            raise ValueError(f"unexpected wire type {key & 7} in a warm-up record (field {key >> 3}).")
        size, i = _read_varint(data, i)
        out.append((key >> 3, data[i:i + size]))
        i += size
    return out


def _read_varint(data, i):
    value = shift = 0
    while True:
        byte = data[i]
        value |= (byte & 0x7F) << shift
        i, shift = i + 1, shift + 7
        if not byte & 0x80:
            return value, i


def decode_prediction_log(record):
    """``(signature_name, {input_name: numpy array})`` of a record ``encode_prediction_log`` wrote."""
    import tensorflow as tf
    from tensorflow.core.framework import tensor_pb2

    logs = [payload for number, payload in _fields(record) if number == 6]
    if not logs:
        raise ValueError("the warm-up record holds no predict_log (the only kind tfbert writes).")
    request = dict(_fields(logs[0])).get(1, b"")
    signature, inputs = "serving_default", {}
    for number, payload in _fields(request):
        if number == 1:
            spec = dict(_fields(payload))
            signature = spec.get(3, b"").decode("utf-8") or signature
        elif number == 2:
            entry = dict(_fields(payload))
            proto = tensor_pb2.TensorProto()
            proto.ParseFromString(entry.get(2, b""))
            inputs[entry.get(1, b"").decode("utf-8")] = tf.make_ndarray(proto)
    return signature, inputs
