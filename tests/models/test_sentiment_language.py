"""Language detection, unsupported languages, model sources and the sentiment CLI formats."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from missionpulse.cli import main
from models.sentiment.artifact import ARTIFACT_DIR
from models.sentiment.language import UNDETERMINED, detect_language, detect_languages
from models.sentiment.predict import Prediction, SentimentScorer
from models.sentiment.source import (
    ENV_MODEL,
    HuggingFaceScorer,
    checkpoint_labels,
    load_scorer,
    resolve_source,
)

UNSUPPORTED = [
    "یہ بہت اچھا ہے، شکریہ",  # Urdu
    "yeh bohat bura service hai yaar",  # Roman Urdu
    "Спасибо большое за помощь",  # Russian
    "非常感谢大使馆的帮助",  # Chinese
    "asante sana kwa msaada wenu",  # Swahili
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Thank you so much for the quick help, embassy!", "en"),
        ("Merci beaucoup pour votre aide au consulat", "fr"),
        ("Muchas gracias por la ayuda de la embajada", "es"),
        ("Vielen Dank für die schnelle Hilfe der Botschaft", "de"),
        ("यह बहुत अच्छा काम है, धन्यवाद", "hi"),
        ("یہ بہت اچھا ہے، شکریہ", "ur"),
        ("😂😂👍", UNDETERMINED),
        ("@embassy https://t.co/abc 2026", UNDETERMINED),
        ("", UNDETERMINED),
    ],
)
def test_detect_language(text: str, expected: str) -> None:
    assert detect_language(text) == expected


def test_detect_languages_keeps_order() -> None:
    assert detect_languages(["Thank you very much", "", "Merci beaucoup à vous"]) == [
        "en",
        UNDETERMINED,
        "fr",
    ]


@pytest.fixture(scope="module")
def shipped() -> SentimentScorer:
    return SentimentScorer.load()


def test_unsupported_languages_are_scored_and_flagged(shipped: SentimentScorer) -> None:
    texts = [*UNSUPPORTED, "Thank you so much for the quick help, embassy!", "", "\x00\ufffd"]
    predictions = shipped.predict(texts, detect_language=True)
    assert len(predictions) == len(texts)
    for prediction in predictions:
        assert prediction.label in ("negative", "neutral", "positive")
        assert 0 < prediction.score <= 1
        assert prediction.language is not None and len(prediction.language) in (2, 3)
    assert [p.language_supported for p in predictions[: len(UNSUPPORTED)]] == [False] * 5
    assert predictions[len(UNSUPPORTED)].language_supported is True
    assert predictions[-2] == Prediction("neutral", 1.0, UNDETERMINED, False)


def test_language_detection_leaves_labels_unchanged(shipped: SentimentScorer) -> None:
    texts = ["I love this!", "worst consulate ever", *UNSUPPORTED]
    plain = shipped.predict(texts)
    tagged = shipped.predict(texts, detect_language=True)
    assert [(p.label, p.score) for p in plain] == [(p.label, p.score) for p in tagged]


def test_predict_tsv_with_language(shipped: SentimentScorer, tmp_path: Path) -> None:
    source = tmp_path / "in.tsv"
    source.write_text("id\ttext\n1\tThank you so much!\n2\tیہ بہت اچھا ہے\n3\t\n", encoding="utf-8")
    assert shipped.predict_tsv(source, tmp_path / "out.tsv", with_language=True) == 3
    with open(tmp_path / "out.tsv", encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    assert rows[0] == ["label", "score", "language", "language_supported"]
    assert [row[2:] for row in rows[1:]] == [["en", "true"], ["ur", "false"], ["und", "false"]]


# --- model source ----------------------------------------------------------------------


def test_resolve_source_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(ENV_MODEL, raising=False)
    assert resolve_source() == ARTIFACT_DIR
    monkeypatch.setenv(ENV_MODEL, str(tmp_path))
    assert resolve_source() == tmp_path
    assert resolve_source(ARTIFACT_DIR) == ARTIFACT_DIR


def test_load_scorer_default_is_the_shipped_artifact(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_MODEL, raising=False)
    scorer = load_scorer()
    assert isinstance(scorer, SentimentScorer)
    assert scorer.model_version == SentimentScorer.load().model_version


def test_load_scorer_rejects_a_directory_that_is_no_model(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a sentiment model directory"):
        load_scorer(tmp_path)


def test_checkpoint_labels() -> None:
    assert checkpoint_labels({0: "Negative", 1: "Neutral", 2: "Positive"}) == (
        "negative",
        "neutral",
        "positive",
    )
    assert checkpoint_labels({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}) == (
        "negative",
        "neutral",
        "positive",
    )
    with pytest.raises(ValueError, match="expected"):
        checkpoint_labels({0: "joy", 1: "anger"})


class _FakeTokenizer:
    def __call__(self, texts: list[str], **_: object) -> _FakeBatch:
        return _FakeBatch(texts)


class _FakeBatch(dict):  # type: ignore[type-arg]
    def __init__(self, texts: list[str]) -> None:
        import torch

        super().__init__(input_ids=torch.tensor([[len(t)] for t in texts]))

    def to(self, _: object) -> _FakeBatch:
        return self


class _FakeModel:
    """Positive for texts of even length, negative for odd: enough to check ordering."""

    def __call__(self, input_ids: object) -> object:
        import torch

        lengths = input_ids[:, 0]  # type: ignore[index]
        logits = torch.stack(
            [(lengths % 2).float() * 5, torch.zeros_like(lengths).float(), (1 - lengths % 2) * 5.0],
            dim=1,
        )
        return type("Output", (), {"logits": logits})()

    def to(self, _: object) -> _FakeModel:
        return self


def test_huggingface_scorer_restores_input_order_after_length_bucketing() -> None:
    scorer = HuggingFaceScorer(
        _FakeModel(), _FakeTokenizer(), ("negative", "neutral", "positive"), "hf-fake-0"
    )
    texts = ["abcd", "abc", "", "ab", "a" * 41, "Merci beaucoup à vous"]
    predictions = scorer.predict(texts, batch_size=2, detect_language=True)
    assert [p.label for p in predictions] == [
        "positive",
        "negative",
        "neutral",
        "positive",
        "negative",
        "negative",
    ]
    assert predictions[2].score == 1.0
    assert predictions[-1].language == "fr" and predictions[-1].language_supported


# --- command line ----------------------------------------------------------------------


def test_cli_predict_and_evaluate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_MODEL, raising=False)
    gold = tmp_path / "gold.tsv"
    gold.write_text(
        "lang\tlabel\ttext\n"
        "en\tpositive\tI love this, thank you so much!\n"
        "en\tnegative\tThis is terrible, worst service ever\n"
        "fr\tneutral\tLe consulat ouvre à neuf heures\n"
        "ur\tpositive\tیہ بہت اچھا ہے، شکریہ\n",
        encoding="utf-8",
    )
    runner = CliRunner()
    out = tmp_path / "out.tsv"
    result = runner.invoke(
        main, ["sentiment", "predict", "--input", str(gold), "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "label\tscore" and len(lines) == 5

    result = runner.invoke(main, ["sentiment", "evaluate", "--input", str(gold)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["model_version"] == SentimentScorer.load().model_version
    assert set(report["overall"]) == {"n", "macro_recall", "macro_f1", "accuracy"}
    assert set(report["per_lang"]) == {"en", "fr", "ur"}
    assert report["overall"]["n"] == 4

    result = runner.invoke(
        main,
        [
            "sentiment",
            "predict",
            "--input",
            str(gold),
            "--output",
            str(out),
            "--model",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 1
    assert "not a sentiment model directory" in result.output
