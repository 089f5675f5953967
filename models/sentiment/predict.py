"""Scoring texts with a trained sentiment artifact: in memory or TSV file to TSV file.

Command line: ``python -m models.sentiment.predict IN.tsv OUT.tsv [--artifact DIR]``.
``IN.tsv`` needs a header with a ``text`` column (other columns are ignored); plain and
CSV-quoted TSV are both accepted (see ``models.sentiment.tsvio``). ``OUT.tsv`` gets a
``label<TAB>score`` header and one row per input row, in input order.
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from models.sentiment.artifact import ARTIFACT_DIR, load_artifact
from models.sentiment.features import FeatureConfig, featurise_batch
from models.sentiment.model import HashedBagClassifier
from models.sentiment.tsvio import column, read_tsv

EMPTY_LABEL = "neutral"


@dataclass(frozen=True)
class Prediction:
    """Predicted label and the model's probability for that label."""

    label: str
    score: float


class SentimentScorer:
    """A loaded sentiment artifact; thread count is left to the caller (``torch.set_num_threads``).

    A text with no features at all (empty or whitespace only) expresses no sentiment: it
    gets ``Prediction("neutral", 1.0)`` by rule, without consulting the network.
    """

    def __init__(
        self,
        model: HashedBagClassifier,
        feature_config: FeatureConfig,
        labels: tuple[str, ...],
        model_version: str,
    ) -> None:
        self.model = model
        self.feature_config = feature_config
        self.labels = labels
        self.model_version = model_version

    @classmethod
    def load(cls, path: Path | None = None) -> SentimentScorer:
        """Load the artifact in directory ``path`` (default: the shipped artifact)."""
        return cls(*load_artifact(Path(path) if path is not None else ARTIFACT_DIR))

    def predict(self, texts: Sequence[str], batch_size: int = 1024) -> list[Prediction]:
        """One prediction per text, in order."""
        predictions: list[Prediction] = []
        for start in range(0, len(texts), batch_size):
            predictions += self._predict_batch(texts[start : start + batch_size])
        return predictions

    def _predict_batch(self, texts: Sequence[str]) -> list[Prediction]:
        flat, offsets = featurise_batch(texts, self.feature_config)
        ends = offsets[1:].tolist() + [len(flat)]
        with torch.inference_mode():
            logits = self.model(torch.from_numpy(flat), torch.from_numpy(offsets))
            best_p, best_i = torch.softmax(logits, dim=1).max(dim=1)
        return [
            Prediction(self.labels[i], round(p, 6)) if end > begin else Prediction(EMPTY_LABEL, 1.0)
            for i, p, begin, end in zip(
                best_i.tolist(), best_p.tolist(), offsets.tolist(), ends, strict=True
            )
        ]

    def predict_tsv(self, input_path: Path, output_path: Path) -> int:
        """Score the ``text`` column of ``input_path`` into ``output_path``; return row count."""
        header, rows = read_tsv(input_path)
        text_index = column(header, "text", input_path)
        predictions = self.predict([row[text_index] for row in rows])
        with open(output_path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
            writer.writerow(["label", "score"])
            writer.writerows([p.label, f"{p.score:.6f}"] for p in predictions)
        return len(predictions)


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", type=Path, help="TSV with a header and a text column")
    parser.add_argument("output", type=Path, help="TSV to write (label, score)")
    parser.add_argument("--artifact", type=Path, default=None, help="artifact directory")
    args = parser.parse_args()
    count = SentimentScorer.load(args.artifact).predict_tsv(args.input, args.output)
    print(f"{count} rows scored into {args.output}")


if __name__ == "__main__":
    main()
