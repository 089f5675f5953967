"""Scoring texts with a trained sentiment artifact: in memory or TSV file to TSV file.

Command line: ``python -m models.sentiment.predict IN.tsv OUT.tsv [--artifact DIR]``.
``IN.tsv`` needs a header with a ``text`` column (other columns are ignored); plain and
CSV-quoted TSV are both accepted (see ``models.sentiment.tsvio``). ``OUT.tsv`` gets a
``label<TAB>score`` header and one row per input row, in input order; with
``--with-language`` two more columns, ``language`` (ISO 639-1 or ``und``) and
``language_supported`` (``true`` when the model was trained on that language).

``SentimentScorer`` is one of our artifacts (the bag alone, or the bag + multilingual-e5
hybrid, see ``models.sentiment.model``); ``models.sentiment.source`` picks between it and a
Hugging Face checkpoint (``HuggingFaceScorer``) for a deployment.
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from models.sentiment.artifact import ARTIFACT_DIR, load_artifact, read_metadata
from models.sentiment.features import FeatureConfig, featurise_batch
from models.sentiment.language import SUPPORTED_LANGUAGES, detect_languages
from models.sentiment.model import HashedBagClassifier, HybridClassifier
from models.sentiment.tsvio import column, read_tsv

if TYPE_CHECKING:
    from models.sentiment.e5 import E5Encoder, E5Tokenizer

EMPTY_LABEL = "neutral"


@dataclass(frozen=True)
class Prediction:
    """Predicted label and the model's probability for that label; with language detection,
    the text's language (ISO 639-1 or ``und``) and whether the model was trained on it."""

    label: str
    score: float
    language: str | None = None
    language_supported: bool | None = None


class Scorer:
    """What every model source offers: a version, ``predict`` and ``predict_tsv``.

    Subclasses implement ``_predict_batch`` (labels and scores of one batch, in order).
    """

    model_version: str
    supported_languages: frozenset[str] = SUPPORTED_LANGUAGES
    default_batch_size: int = 1024

    def _predict_batch(self, texts: Sequence[str]) -> list[Prediction]:
        raise NotImplementedError

    def to(self, device: str | torch.device) -> Scorer:
        """Move the model to ``device`` (``"cuda"`` when a GPU is present); returns self."""
        return self

    def predict(
        self, texts: Sequence[str], batch_size: int | None = None, *, detect_language: bool = False
    ) -> list[Prediction]:
        """One prediction per text, in order; ``detect_language`` adds language fields."""
        size = batch_size or self.default_batch_size
        predictions: list[Prediction] = []
        for start in range(0, len(texts), size):
            predictions += self._predict_batch(texts[start : start + size])
        if not detect_language:
            return predictions
        return [
            Prediction(p.label, p.score, lang, lang in self.supported_languages)
            for p, lang in zip(predictions, detect_languages(texts), strict=True)
        ]

    def predict_tsv(self, input_path: Path, output_path: Path, with_language: bool = False) -> int:
        """Score the ``text`` column of ``input_path`` into ``output_path``; return row count."""
        header, rows = read_tsv(input_path)
        text_index = column(header, "text", input_path)
        predictions = self.predict([row[text_index] for row in rows], detect_language=with_language)
        with open(output_path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
            if with_language:
                writer.writerow(["label", "score", "language", "language_supported"])
                writer.writerows(
                    [p.label, f"{p.score:.6f}", p.language, str(p.language_supported).lower()]
                    for p in predictions
                )
            else:
                writer.writerow(["label", "score"])
                writer.writerows([p.label, f"{p.score:.6f}"] for p in predictions)
        return len(predictions)


class SentimentScorer(Scorer):
    """A loaded sentiment artifact; thread count is left to the caller (``torch.set_num_threads``).

    A text with no features at all (empty or whitespace only) expresses no sentiment: it
    gets ``Prediction("neutral", 1.0)`` by rule, without consulting the network.

    A hybrid artifact scores in two stages: the bag head first; a text whose bag probability
    is under the artifact's ``cascade_threshold`` then goes through the encoder (loaded on
    first use: int8 on the CPU, float32 on a GPU) and gets the hybrid head's label.
    """

    def __init__(
        self,
        model: HashedBagClassifier | HybridClassifier,
        feature_config: FeatureConfig,
        labels: tuple[str, ...],
        model_version: str,
    ) -> None:
        self.model = model
        self.feature_config = feature_config
        self.labels = labels
        self.model_version = model_version
        self.device = torch.device("cpu")
        self._encoder: tuple[E5Tokenizer, E5Encoder] | None = None

    def to(self, device: str | torch.device) -> SentimentScorer:
        """Move the network to ``device``; featurising and tokenising stay on the CPU."""
        self.device = torch.device(device)
        self.model.to(self.device)
        self._encoder = None
        return self

    @classmethod
    def load(cls, path: Path | None = None) -> SentimentScorer:
        """Load the artifact in directory ``path`` (default: the shipped artifact).

        Its supported languages are those it was trained on (``languages`` in the metadata;
        ``SUPPORTED_LANGUAGES`` for an artifact that predates that field).
        """
        directory = Path(path) if path is not None else ARTIFACT_DIR
        scorer = cls(*load_artifact(directory))
        languages = read_metadata(directory).get("languages")
        if languages:
            scorer.supported_languages = frozenset(languages)
        return scorer

    def encoder(self) -> tuple[E5Tokenizer, E5Encoder]:
        """The hybrid's tokenizer and frozen encoder, built on first use."""
        if self._encoder is None:
            from models.sentiment import e5

            assert isinstance(self.model, HybridClassifier)
            config = self.model.config
            cpu = self.device.type == "cpu"
            tokenizer, encoder = e5.load(
                config.encoder_layers, config.encoder_max_tokens, cpu, config.encoder_prefix
            )
            self._encoder = (tokenizer, encoder if cpu else encoder.to(self.device))
        return self._encoder

    def probabilities(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Class probabilities (CPU, one row per text) and which texts had any feature."""
        flat, offsets = featurise_batch(texts, self.feature_config)
        present = torch.from_numpy(np.diff(offsets, append=len(flat)) > 0)
        ids = torch.from_numpy(flat).to(self.device)
        starts = torch.from_numpy(offsets).to(self.device)
        with torch.inference_mode():
            if not isinstance(self.model, HybridClassifier):
                return torch.softmax(self.model(ids, starts).float(), dim=1).cpu(), present
            bag = self.model.bag(ids, starts)
            probabilities = torch.softmax(self.model.aux(bag).float(), dim=1)
            threshold = self.model.config.cascade_threshold
            routed = ((probabilities.max(dim=1).values < threshold).cpu() & present).nonzero()
            chosen = routed.flatten().tolist()
            if chosen:
                from models.sentiment import e5

                tokenizer, encoder = self.encoder()
                encoded = e5.encode(
                    [texts[i] for i in chosen], tokenizer, encoder, device=self.device
                )
                logits = self.model.hybrid_logits(
                    bag[chosen], torch.from_numpy(encoded).to(self.device)
                )
                probabilities[chosen] = torch.softmax(logits.float(), dim=1)
            return probabilities.cpu(), present

    def _predict_batch(self, texts: Sequence[str]) -> list[Prediction]:
        probabilities, present = self.probabilities(texts)
        best_p, best_i = probabilities.max(dim=1)
        return [
            Prediction(self.labels[i], round(p, 6)) if live else Prediction(EMPTY_LABEL, 1.0)
            for i, p, live in zip(best_i.tolist(), best_p.tolist(), present.tolist(), strict=True)
        ]


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", type=Path, help="TSV with a header and a text column")
    parser.add_argument("output", type=Path, help="TSV to write (label, score)")
    parser.add_argument(
        "--artifact", type=Path, default=None, help="artifact or Hugging Face checkpoint directory"
    )
    parser.add_argument("--with-language", action="store_true", help="add language columns")
    args = parser.parse_args()
    from models.sentiment.source import load_scorer

    count = load_scorer(args.artifact).predict_tsv(args.input, args.output, args.with_language)
    print(f"{count} rows scored into {args.output}")


if __name__ == "__main__":
    main()
