"""Where the sentiment model comes from: the shipped artifact, or a Hugging Face checkpoint.

``load_scorer(source)`` resolves, in order: the ``source`` argument, the
``MISSIONPULSE_SENTIMENT_MODEL`` environment variable, then the shipped artifact
(``models/sentiment/artifact``). A directory with ``metadata.json`` + ``model.pt`` is one of
our artifacts; a directory with ``config.json`` is a Hugging Face sequence-classification
checkpoint (for a deployment that mounts a larger multilingual model, e.g. an XLM-T
sentiment model), which needs the ``transformers`` package, installed separately.

Every scorer has a ``model_version`` that is written beside each score: ours is named after
the weights' hash, a checkpoint's is ``hf-<directory name>-<sha256 of its weights>[:8]``,
so swapping the weights under the same name is a new version.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import torch

from models.sentiment.artifact import ARTIFACT_DIR, METADATA_FILE
from models.sentiment.model import LABELS
from models.sentiment.predict import EMPTY_LABEL, Prediction, Scorer, SentimentScorer

ENV_MODEL = "MISSIONPULSE_SENTIMENT_MODEL"
HF_CONFIG = "config.json"
HF_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def resolve_source(source: str | Path | None = None) -> Path:
    """The model directory to load: argument, then environment, then the shipped artifact."""
    chosen = source or os.environ.get(ENV_MODEL) or ARTIFACT_DIR
    return Path(chosen)


def load_scorer(source: str | Path | None = None, device: str | None = None) -> Scorer:
    """A scorer for ``source`` (see the module docstring), on ``device`` if given."""
    path = resolve_source(source)
    if (path / METADATA_FILE).is_file():
        scorer: Scorer = SentimentScorer.load(path)
    elif (path / HF_CONFIG).is_file():
        scorer = HuggingFaceScorer.load(path)
    else:
        raise ValueError(
            f"{path}: not a sentiment model directory (expected {METADATA_FILE} of a "
            f"MissionPulse artifact or {HF_CONFIG} of a Hugging Face checkpoint); "
            f"check --model or {ENV_MODEL}"
        )
    return scorer.to(device) if device else scorer


def default_device() -> str:
    """``cuda`` when a GPU is visible to torch, else ``cpu``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def checkpoint_version(path: Path) -> str:
    """``hf-<dir name>-<sha256[:8]>`` of the checkpoint's weights (and config)."""
    digest = hashlib.sha256()
    for name in (HF_CONFIG, *HF_WEIGHT_FILES):
        file = path / name
        if file.is_file():
            with open(file, "rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
    return f"hf-{path.resolve().name}-{digest.hexdigest()[:8]}"


def checkpoint_labels(id2label: dict[int, str]) -> tuple[str, ...]:
    """Our label names for a checkpoint's classes: its own names when they are ours
    (any case), else ``LABEL_0..2`` read as negative, neutral, positive (the order of
    cardiffnlp's TweetEval/XLM-T sentiment checkpoints)."""
    names = [id2label[i].lower() for i in sorted(id2label)]
    if set(names) <= set(LABELS):
        return tuple(names)
    if len(names) == len(LABELS):
        return LABELS
    raise ValueError(f"checkpoint has classes {names}; expected {list(LABELS)}")


class HuggingFaceScorer(Scorer):
    """A Hugging Face sequence-classification checkpoint, batched by length.

    Texts are sorted by length before batching (length-bucketed batching: a batch pads to
    its own longest text, not the longest of the whole input) and returned in input order.
    """

    default_batch_size = 64

    def __init__(
        self, model: torch.nn.Module, tokenizer: object, labels: tuple[str, ...], version: str
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.labels = labels
        self.model_version = version
        self.device = torch.device("cpu")
        self.max_length = 128

    @classmethod
    def load(cls, path: Path) -> HuggingFaceScorer:
        """Load a checkpoint directory offline (no Hub access)."""
        try:
            from transformers import AutoModelForSequenceClassification, AutoTokenizer
        except ImportError as err:
            raise ValueError(
                f"{path} is a Hugging Face checkpoint, which needs the transformers package: "
                "pip install -c requirements/constraints.txt transformers"
            ) from err
        config = json.loads((path / HF_CONFIG).read_text(encoding="utf-8"))
        id2label = {int(k): v for k, v in config.get("id2label", {}).items()}
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModelForSequenceClassification.from_pretrained(path, local_files_only=True)
        model.eval()
        return cls(model, tokenizer, checkpoint_labels(id2label), checkpoint_version(path))

    def to(self, device: str | torch.device) -> HuggingFaceScorer:
        self.device = torch.device(device)
        self.model.to(self.device)
        return self

    def predict(
        self, texts: Sequence[str], batch_size: int | None = None, *, detect_language: bool = False
    ) -> list[Prediction]:
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        ordered = super().predict([texts[i] for i in order], batch_size)
        result: list[Prediction] = [Prediction(EMPTY_LABEL, 1.0)] * len(texts)
        for position, index in enumerate(order):
            result[index] = ordered[position]
        if not detect_language:
            return result
        from models.sentiment.language import detect_languages

        return [
            Prediction(p.label, p.score, lang, lang in self.supported_languages)
            for p, lang in zip(result, detect_languages(texts), strict=True)
        ]

    def _predict_batch(self, texts: Sequence[str]) -> list[Prediction]:
        live = [i for i, text in enumerate(texts) if text.strip()]
        result = [Prediction(EMPTY_LABEL, 1.0)] * len(texts)
        if not live:
            return result
        encoded = self.tokenizer(  # type: ignore[operator]
            [texts[i] for i in live],
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        ).to(self.device)
        with torch.inference_mode():
            probabilities = torch.softmax(self.model(**encoded).logits.float(), dim=1)
        best_p, best_i = probabilities.max(dim=1)
        for i, p, k in zip(live, best_p.tolist(), best_i.tolist(), strict=True):
            result[i] = Prediction(self.labels[k], round(p, 6))
        return result
