"""The ops a tfbert export may contain: what every TF Serving release since 2.12 can run.

TF Serving's model server links all of core TensorFlow's kernels and, of the
add-on libraries, tensorflow-text's whole ``ops_lib`` (the
``SUPPORTED_TENSORFLOW_OPS`` list of ``tensorflow_serving/model_servers/BUILD``
names ``@org_tensorflow_text//tensorflow_text:ops_lib``). A SavedModel that
needs any other op fails to load there ("Op type not registered"), even though
it loads in Python. So every export must use only:

- ``CORE_OPS``: the core TensorFlow ops tfbert's exports use today. Each one
  was found registered in TensorFlow 2.12.1, 2.20.0 and 2.21.0 (the op
  registry of a plain ``import tensorflow``; ``benchmarks/serving_compat.py``
  re-checks this in each runtime it builds). It is an explicit list, not "all
  of core TensorFlow", because core TensorFlow adds ops in every release (86
  between 2.12 and 2.21) and an older server has none of them;
- ``TEXT_OPS``: the ops of tensorflow-text 2.12.1's kernel libraries (the
  oldest tensorflow-text pip installs for Python 3.11), as registered by
  ``tf.load_op_library`` of each ``tensorflow_text/python/ops/_*.so``.

``LATER_TEXT_OPS`` are tensorflow-text ops absent from 2.12.1 but present in
2.20.1 (measured the same way): using one would raise the oldest server an
export runs on, so tfbert does not use them (e.g. ``BertPreprocessor`` trims
pairs with its own index arithmetic instead of ``RoundRobinTrimmer``).
``PYTHON_ONLY_OPS`` call back into Python and can never be served.

``unsupported_ops(path)`` lists the op types of a SavedModel (graph and
function library) outside the allow-list; the export tests fail on any.

Example:
>>> from tfbert.serving.ops import CORE_OPS, TEXT_OPS, allowed
>>> allowed("MatMul"), allowed("FastWordpieceTokenizeWithOffsets"), allowed("TFText>RoundRobinTrim")
(True, True, False)
>>> allowed("EagerPyFunc"), "NormalizeUTF8" in TEXT_OPS, "NormalizeUTF8" in CORE_OPS
(False, True, False)
"""

import os

#: Core TensorFlow ops used by tfbert's exports, each registered in TF 2.12.1, 2.20.0 and 2.21.0.
CORE_OPS = frozenset("""
AddV2 All Any ArgMax Assert AssignVariableOp BatchMatMulV2 BiasAdd BitwiseAnd BitwiseOr BroadcastTo Cast
ConcatV2 Const Cumsum DenseBincount DisableCopyOnRead EnsureShape Equal Erfc ExpandDims Fill FloorDiv FloorMod
GatherNd GatherV2 Greater GreaterEqual Identity IdentityN If InvertPermutation Less LessEqual LogicalAnd
LogicalNot LogicalOr LowerBound MatMul Max Maximum Mean MergeV2Checkpoints Min Minimum Mul Neg NoOp NotEqual
OnesLike Pack Pad PartitionedCall Placeholder Prod RaggedGather RaggedRange RaggedTensorToTensor Range
ReadVariableOp RealDiv Reshape RestoreV2 RightShift Rsqrt SaveV2 Select SelectV2 Shape ShardedFilename Size
Softmax Sqrt Square SquaredDifference Squeeze StatefulPartitionedCall StatelessIf StaticRegexFullMatch
StaticRegexReplace StopGradient StridedSlice StringJoin StringLength StringLower StringSplitV2 StringStrip Sub
Substr Sum Tanh TensorScatterUpdate Tile TopKV2 Transpose UnicodeDecode UnicodeEncode UnsortedSegmentMax
UnsortedSegmentMin UnsortedSegmentSum UpperBound VarHandleOp Where ZerosLike
""".split())

#: Ops of tensorflow-text 2.12.1's kernel libraries (all in TF Serving's model server, which links ops_lib).
TEXT_OPS = frozenset("""
CaseFoldUTF8 ConstrainedSequence FastBertNormalize FastWordpieceTokenizeWithOffsets FindSourceOffsets
MaxSpanningTree NormalizeUTF8 NormalizeUTF8WithOffsetsMap PhraseTokenize RegexSplitWithOffsets SentenceFragments
SentenceFragmentsV2 SentencepieceDetokenizeOp SentencepieceIdToStringOp SentencepieceOp SentencepieceStringToIdOp
SentencepieceTokenizeOp SentencepieceTokenizeWithOffsetsOp SentencepieceVocabSizeOp SplitMergeTokenizeWithOffsets
TFText>BoiseTagsToOffsets TFText>ByteSplitByOffsets TFText>ByteSplitWithOffsets TFText>FastSentencepieceDetokenize
TFText>FastSentencepieceTokenize TFText>FastWordpieceDetokenize TFText>NgramsStringJoin TFText>OffsetsToBoiseTags
TFText>PhraseDetokenize TFText>WhitespaceTokenizeWithOffsetsV2 TokenizerFromLogits UnicodeScriptTokenizeWithOffsets
WhitespaceTokenizeWithOffsets WordpieceTokenizeWithOffsets
""".split())

#: tensorflow-text ops absent from 2.12.1 and present in 2.20.1: each would raise the minimum server.
LATER_TEXT_OPS = {
    "TFText>RoundRobinGenerateMasks": "tensorflow-text 2.20 (absent from 2.12)",
    "TFText>RoundRobinTrim": "tensorflow-text 2.20 (absent from 2.12)",
    "TFText>Utf8Binarize": "tensorflow-text 2.20 (absent from 2.12)",
}

#: Ops that call Python: registered in core TensorFlow, never runnable in a model server.
PYTHON_ONLY_OPS = frozenset({"PyFunc", "PyFuncStateless", "EagerPyFunc"})


def allowed(op_type):
    """Whether an op type may appear in a tfbert export."""
    return op_type in CORE_OPS or op_type in TEXT_OPS


def saved_model_ops(path):
    """``{op_type: sorted names of the graph/functions using it}`` for a SavedModel directory.

    Reads ``saved_model.pb`` directly: every node of every meta graph's
    graph and of every function in its library (the signatures' bodies, the
    model's call, the save/restore functions).
    """
    from tensorflow.core.protobuf import saved_model_pb2

    saved_model = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        saved_model.ParseFromString(f.read())
    where = {}
    for meta_graph in saved_model.meta_graphs:
        for node in meta_graph.graph_def.node:
            where.setdefault(node.op, set()).add("<graph>")
        for function in meta_graph.graph_def.library.function:
            for node in function.node_def:
                where.setdefault(node.op, set()).add(function.signature.name)
    return {op: sorted(names) for op, names in where.items()}


def unsupported_ops(path):
    """Op types of the SavedModel at ``path`` outside ``CORE_OPS`` and ``TEXT_OPS``, with a reason each.

    Returns ``{op_type: reason}`` (empty when TF Serving 2.12 and later can
    run every op).
    """
    found = {}
    for op, names in saved_model_ops(path).items():
        if allowed(op):
            continue
        if op in PYTHON_ONLY_OPS:
            reason = "calls back into Python: no model server can run it"
        elif op in LATER_TEXT_OPS:
            reason = f"only in {LATER_TEXT_OPS[op]}: it would raise the oldest TF Serving release"
        else:
            reason = ("not on tfbert's allow-list: check it is registered in the oldest runtime "
                      "(python benchmarks/serving_compat.py), then add it to tfbert/serving/ops.py")
        found[op] = f"{reason}; used in {', '.join(names[:3])}{' ...' if len(names) > 3 else ''}"
    return found
