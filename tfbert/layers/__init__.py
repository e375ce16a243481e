"""tfbert's Keras layers: embeddings, self-attention, encoder block, pooling."""

from tfbert.layers.attention import BertSelfAttention
from tfbert.layers.embeddings import BertEmbeddings
from tfbert.layers.encoder import TransformerEncoderBlock
from tfbert.layers.pooling import BertPooler, SequencePooling

__all__ = [
    "BertEmbeddings",
    "BertPooler",
    "BertSelfAttention",
    "SequencePooling",
    "TransformerEncoderBlock",
]
