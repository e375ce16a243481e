"""The weight map between ``tfbert.BERT`` and ``keras_hub.models.BertBackbone``.

The two models hold the same numbers in the same layout, except that
keras-hub's attention kernels are split per head ([H, N, D] and [N, D, H]);
a reshape converts both ways, so the table below is plain name pairs.

Example:
>>> import keras_hub
>>> from tfbert import BERT, BertConfig
>>> from tfbert.checkpoints.keras_hub import load_from_backbone
>>> kh = keras_hub.models.BertBackbone(vocabulary_size=64, num_layers=2, num_heads=2,
...                                    hidden_dim=16, intermediate_dim=32, max_sequence_length=32)
>>> bert = BERT(BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
...                        intermediate_size=32, max_position_embeddings=32, hidden_act="gelu_new"))
>>> len(load_from_backbone(bert, kh).loaded)
39
"""

from tfbert.checkpoints.report import assign, relative_variables


def weight_pairs(num_layers):
    """(tfbert name, keras-hub name) for every backbone weight."""
    pairs = [
        ("embeddings/word_embeddings/embeddings", "token_embedding/embeddings"),
        ("embeddings/position_embeddings/embeddings", "position_embedding/embeddings"),
        ("embeddings/token_type_embeddings/embeddings", "segment_embedding/embeddings"),
        ("embeddings/layer_norm/gamma", "embeddings_layer_norm/gamma"),
        ("embeddings/layer_norm/beta", "embeddings_layer_norm/beta"),
    ]
    block = [
        ("attention/query", "self_attention_layer/query"),
        ("attention/key", "self_attention_layer/key"),
        ("attention/value", "self_attention_layer/value"),
        ("attention/output_dense", "self_attention_layer/attention_output"),
        ("intermediate_dense", "feedforward_intermediate_dense"),
        ("output_dense", "feedforward_output_dense"),
    ]
    norms = [
        ("attention_layer_norm", "self_attention_layer_norm"),
        ("output_layer_norm", "feedforward_layer_norm"),
    ]
    for i in range(num_layers):
        ours, theirs = f"layer_{i}/", f"transformer_layer_{i}/"
        for a, b in block:
            pairs += [(f"{ours}{a}/kernel", f"{theirs}{b}/kernel"), (f"{ours}{a}/bias", f"{theirs}{b}/bias")]
        for a, b in norms:
            pairs += [(f"{ours}{a}/gamma", f"{theirs}{b}/gamma"), (f"{ours}{a}/beta", f"{theirs}{b}/beta")]
    pairs += [("pooler/dense/kernel", "pooled_dense/kernel"), ("pooler/dense/bias", "pooled_dense/bias")]
    return pairs


def _values(model):
    return {name: variable.numpy() for name, variable in relative_variables(model).items()}


def load_from_backbone(bert, backbone, source_label="keras_hub.models.BertBackbone"):
    """Copy a keras-hub ``BertBackbone``'s weights into ``bert``; return a LoadReport."""
    pairs = weight_pairs(bert.config.num_hidden_layers)
    return assign(relative_variables(bert), _values(backbone), pairs, source_label)


def save_to_backbone(bert, backbone):
    """Copy ``bert``'s weights into a keras-hub ``BertBackbone`` of the same size."""
    pairs = [(theirs, ours) for ours, theirs in weight_pairs(bert.config.num_hidden_layers)]
    return assign(relative_variables(backbone), _values(bert), pairs, f"tfbert.BERT {bert.name!r}")
