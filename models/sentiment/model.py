"""The fastText-style network: mean of hashed n-gram embeddings, dropout, small classifier."""

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
