"""Tests of the sentiment model package; none needs the research data under /work/shared."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from models.sentiment.artifact import ARTIFACT_DIR, METADATA_FILE, WEIGHTS_FILE
from models.sentiment.evaluate import accuracy, evaluate, macro_f1, macro_recall, scores_by_lang
from models.sentiment.features import (
    FeatureConfig,
    featurise,
    featurise_batch,
    normalise,
    stable_hash,
    tokenize,
)
from models.sentiment.model import E5_ENCODER, HybridClassifier, ModelConfig
from models.sentiment.predict import Prediction, SentimentScorer
from models.sentiment.train import TRAIN_FILES, VALIDATION_FILE, Example, example_weights, train
from models.sentiment.tsvio import TsvFormatError, read_tsv

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY_FEATURES = FeatureConfig(n_buckets=2**12)
TINY_MODEL = ModelConfig(dim=8)
TINY_HYBRID = ModelConfig(
    dim=8, encoder=E5_ENCODER, encoder_layers=1, proj=8, cascade_threshold=1.01
)

AWKWARD_TEXTS = [
    "I love this, thank you so much!",
    'She said "no"\tthen left',
    '"Quoted" at the start',
    "",
    "   ",
    "emoji only 😂😂😂 👍🏽",
    "یہ بہت اچھا ہے، شکریہ",
    "هذا سيء جدا",
    "line one\nline two",
    'trailing quote"',
]


# --- features -------------------------------------------------------------------------


def test_normalise_placeholders_and_elongation() -> None:
    text = normalise("@Embassy_UK Sooooo GOOD!!!! see https://t.co/x1 at 10:30, 3.5k")
    assert text.split() == ["<user>", "soo", "good!!", "see", "<url>", "at", "<num>,", "3.5k"]


def test_tokenize_keeps_words_emoticons_and_scripts() -> None:
    assert tokenize(normalise("Don’t go :( #sad")) == ["don't", "go", ":(", "#", "sad"]
    assert tokenize(normalise("यह बहुत अच्छा है!")) == ["यह", "बहुत", "अच्छा", "है", "!"]


def test_stable_hash_is_crc32_of_utf8() -> None:
    # Golden values: changing them silently invalidates every trained artifact.
    assert stable_hash("w:good", 2**18) == 28618099 % 2**18 == 44403
    assert stable_hash("c:<سلام", 2**18) == 53417
    assert stable_hash("", 7) == 0


def test_featurise_is_deterministic_across_processes() -> None:
    text = "Thank you @user, great visit! 😂 http://x.y"
    here = featurise(text, FeatureConfig()).tolist()
    code = (
        "from models.sentiment.features import FeatureConfig, featurise;"
        f"print(featurise({text!r}, FeatureConfig()).tolist())"
    )
    outputs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO_ROOT)}
        result = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        outputs.add(result.stdout.strip())
    assert outputs == {str(here)}


def test_featurise_contents() -> None:
    config = FeatureConfig(n_buckets=2**20)
    ids = featurise("good day", config)
    # 2 unigrams + 1 bigram + char n-grams of "<good>" (4+3+2) and "<day>" (3+2+1).
    assert len(ids) == 2 + 1 + 9 + 6
    assert ids.dtype.name == "int64" and (ids >= 0).all() and (ids < 2**20).all()
    assert len(featurise("   ", config)) == 0


def test_featurise_batch_offsets() -> None:
    flat, offsets = featurise_batch(["good day", "", "ok"], TINY_FEATURES)
    assert offsets.tolist() == [0, 18, 18]
    assert len(flat) == 18 + len(featurise("ok", TINY_FEATURES))


# --- metrics --------------------------------------------------------------------------


def test_metrics_on_hand_computed_example() -> None:
    gold = ["positive", "positive", "negative", "neutral", "neutral", "negative", "neutral"]
    pred = ["positive", "neutral", "negative", "neutral", "positive", "positive", "neutral"]
    # positive: P 1/3, R 1/2, F1 0.4 | negative: P 1, R 1/2, F1 2/3 | neutral: P 2/3, R 2/3.
    assert macro_recall(gold, pred) == pytest.approx((1 / 2 + 1 / 2 + 2 / 3) / 3)
    assert macro_f1(gold, pred) == pytest.approx((0.4 + 2 / 3 + 2 / 3) / 3)
    assert accuracy(gold, pred) == pytest.approx(4 / 7)


def test_metrics_count_predicted_only_class_as_zero() -> None:
    assert macro_recall(["a", "a"], ["a", "b"]) == pytest.approx(0.25)
    assert macro_f1(["a", "a"], ["a", "b"]) == pytest.approx(1 / 3)


def test_metrics_reject_bad_input() -> None:
    with pytest.raises(ValueError):
        macro_f1([], [])
    with pytest.raises(ValueError):
        macro_recall(["a"], ["a", "b"])


def test_scores_by_lang() -> None:
    result = scores_by_lang(["a", "b", "a"], ["a", "a", "a"], ["en", "en", "fr"])
    assert result["overall"]["n"] == 3
    assert result["per_lang"]["fr"] == {
        "n": 1,
        "macro_recall": 1.0,
        "macro_f1": 1.0,
        "accuracy": 1.0,
    }
    assert result["per_lang"]["en"]["macro_recall"] == 0.5


# --- TSV reading ----------------------------------------------------------------------


def _write_quoted(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def test_read_tsv_quoted(tmp_path: Path) -> None:
    rows = [[str(i), text] for i, text in enumerate(AWKWARD_TEXTS)]
    _write_quoted(tmp_path / "in.tsv", ["id", "text"], rows)
    assert read_tsv(tmp_path / "in.tsv") == (["id", "text"], rows)


def test_read_tsv_plain_with_stray_quotes(tmp_path: Path) -> None:
    path = tmp_path / "plain.tsv"
    path.write_text(
        'lang\tlabel\ttext\nen\tneutral\t"Grexit" tests Merkel\nen\tpositive\tan "eggcellent" day\n'
        "en\tnegative\ttab\tinside the last column\n",
        encoding="utf-8",
    )
    header, rows = read_tsv(path)
    assert header == ["lang", "label", "text"]
    assert [row[2] for row in rows] == [
        '"Grexit" tests Merkel',
        'an "eggcellent" day',
        "tab\tinside the last column",
    ]


def test_read_tsv_bad_row_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text('text\tlang\n"x" y\n', encoding="utf-8")
    with pytest.raises(TsvFormatError, match=r"bad\.tsv: line 2"):
        read_tsv(path)


# --- training on a tiny fixture -------------------------------------------------------

POSITIVE = ["love it", "great work thank you", "wonderful visit", "so happy today", "best day"]
NEGATIVE = ["hate it", "terrible service", "awful and rude", "so sad today", "worst day"]
NEUTRAL = ["the office opens at nine", "meeting on monday", "visa forms are online"]


def _fixture_rows(langs: tuple[str, ...], copies: int, tag: str) -> list[list[str]]:
    rows = []
    for lang in langs:
        for label, texts in (("positive", POSITIVE), ("negative", NEGATIVE), ("neutral", NEUTRAL)):
            rows += [[lang, label, f"{text} {tag}{i}"] for text in texts for i in range(copies)]
    return rows


def _train_tiny(data: Path, out: Path, model_config: ModelConfig = TINY_MODEL) -> dict:
    """Write the 52-row fixture data set into ``data`` and train on it for 2 epochs."""
    header = ["lang", "label", "text"]
    _write_quoted(data / TRAIN_FILES[0], header, _fixture_rows(("en",), 2, "a"))
    _write_quoted(data / TRAIN_FILES[1], header, _fixture_rows(("fr",), 1, "b"))
    _write_quoted(data / VALIDATION_FILE, header, _fixture_rows(("en", "fr"), 1, "c")[::2])
    return train(
        data, out, seed=3, epochs=2, feature_config=TINY_FEATURES, model_config=model_config
    )


@pytest.fixture(scope="module")
def tiny_artifact(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("artifact")
    return out, _train_tiny(tmp_path_factory.mktemp("data"), out)


def test_tiny_training_writes_loadable_artifact(tiny_artifact: tuple[Path, dict]) -> None:
    out, metadata = tiny_artifact
    assert (out / WEIGHTS_FILE).stat().st_size == metadata["size_bytes"]
    assert json.loads((out / METADATA_FILE).read_text(encoding="utf-8")) == metadata
    assert [f["rows"] for f in metadata["data_files"]] == [26, 13, 13]
    assert metadata["rows"] == {
        "train": 38,
        "held_back_en": 1,
        "dropped_as_in_validation": 0,
        "validation": 13,
    }
    assert set(metadata["validation"]["umsab_val"]["per_lang"]) == {"en", "fr"}
    assert metadata["throughput"]["texts_per_second"] > 0
    scorer = SentimentScorer.load(out)
    assert scorer.model_version == metadata["model_version"]
    predictions = scorer.predict(AWKWARD_TEXTS)
    assert len(predictions) == len(AWKWARD_TEXTS)
    assert all(
        p.label in ("negative", "neutral", "positive") and 0 < p.score <= 1 for p in predictions
    )


def test_tiny_training_writes_model_card(tiny_artifact: tuple[Path, dict]) -> None:
    out, metadata = tiny_artifact
    card = (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert metadata["model_version"] in card
    for needle in ("## Data", "## Hyper-parameters", "## Validation scores", "texts/s"):
        assert needle in card
    assert "| fr | " in card and TRAIN_FILES[0] in card
    assert metadata["languages"] == ["en", "fr"]
    scorer = SentimentScorer.load(out)
    assert scorer.supported_languages == {"en", "fr"}
    tagged = scorer.predict(
        ["Vielen Dank für die schnelle Hilfe der Botschaft"], detect_language=True
    )
    assert (tagged[0].language, tagged[0].language_supported) == ("de", False)


def test_shipped_model_card_matches_artifact() -> None:
    card = (ARTIFACT_DIR / "MODEL_CARD.md").read_text(encoding="utf-8")
    metadata = json.loads((ARTIFACT_DIR / METADATA_FILE).read_text(encoding="utf-8"))
    assert f"`{metadata['model_version']}`" in card.splitlines()[0]


def test_shipped_artifact_stays_small() -> None:
    assert sum(f.stat().st_size for f in ARTIFACT_DIR.iterdir()) <= 25_000_000


def test_tiny_training_is_reproducible(tiny_artifact: tuple[Path, dict], tmp_path: Path) -> None:
    _, first = tiny_artifact
    assert _train_tiny(tmp_path, tmp_path / "out")["model_version"] == first["model_version"]


def test_tampered_metadata_is_rejected(tiny_artifact: tuple[Path, dict], tmp_path: Path) -> None:
    out, metadata = tiny_artifact
    (tmp_path / WEIGHTS_FILE).write_bytes((out / WEIGHTS_FILE).read_bytes())
    (tmp_path / METADATA_FILE).write_text(
        json.dumps({**metadata, "model_version": "fasttext-hash-v1-00000000"}), encoding="utf-8"
    )
    with pytest.raises(ValueError, match="fasttext-hash-v1-00000000"):
        SentimentScorer.load(tmp_path)


@pytest.fixture(scope="module")
def tiny_hybrid(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("hybrid")
    return out, _train_tiny(tmp_path_factory.mktemp("hybrid-data"), out, TINY_HYBRID)


def test_tiny_hybrid_trains_reproducibly_into_a_loadable_artifact(
    tiny_hybrid: tuple[Path, dict], tmp_path: Path
) -> None:
    out, metadata = tiny_hybrid
    assert metadata["model_version"].startswith("e5-hybrid-v2-")
    assert metadata["model"]["encoder"] == E5_ENCODER
    # Only the trained part is stored: bag, projection and heads, never the encoder.
    state = torch.load(out / WEIGHTS_FILE, weights_only=True)
    assert set(state) == {
        "embedding.weight", "proj.weight", "proj.bias", "head.weight", "head.bias",
        "aux.weight", "aux.bias",
    }  # fmt: skip
    card = (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "first 1 of 12 layers of multilingual-e5-small" in card
    scorer = SentimentScorer.load(out)
    assert isinstance(scorer.model, HybridClassifier)
    assert scorer.model_version == metadata["model_version"]
    predictions = scorer.predict(AWKWARD_TEXTS)
    assert predictions[3] == predictions[4] == Prediction("neutral", 1.0)
    assert all(0 < p.score <= 1 for p in predictions)
    assert scorer.predict(AWKWARD_TEXTS, batch_size=3) == predictions
    again = _train_tiny(tmp_path, tmp_path / "out", TINY_HYBRID)
    assert again["model_version"] == metadata["model_version"]


def test_hybrid_version_covers_its_settings(tiny_hybrid: tuple[Path, dict], tmp_path: Path) -> None:
    out, metadata = tiny_hybrid
    (tmp_path / WEIGHTS_FILE).write_bytes((out / WEIGHTS_FILE).read_bytes())
    edited = {**metadata, "model": {**metadata["model"], "cascade_threshold": 0.2}}
    (tmp_path / METADATA_FILE).write_text(json.dumps(edited), encoding="utf-8")
    # Same weights, another threshold: other scores, so it must not pass as the same version.
    with pytest.raises(ValueError, match=f"metadata says {metadata['model_version']}, but its"):
        SentimentScorer.load(tmp_path)


def test_hybrid_cascade_routes_only_unsure_texts_to_the_encoder(
    tiny_hybrid: tuple[Path, dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    out, _ = tiny_hybrid
    scorer = SentimentScorer.load(out)
    assert isinstance(scorer.model, HybridClassifier)
    texts = [t for t in AWKWARD_TEXTS if t.strip()]
    with torch.inference_mode():
        ids, offsets = featurise_batch(texts, scorer.feature_config)
        bag = scorer.model.aux(scorer.model.bag(torch.from_numpy(ids), torch.from_numpy(offsets)))
        bag_best = torch.softmax(bag, dim=1).max(dim=1)
    import models.sentiment.e5 as e5

    encoded: list[str] = []
    real_encode = e5.encode

    def counting_encode(batch: list[str], *args: object, **kwargs: object) -> object:
        encoded.extend(batch)
        return real_encode(batch, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(e5, "encode", counting_encode)
    # Threshold 0: every text keeps the bag head's label; nothing is encoded.
    scorer.model.config = replace(scorer.model.config, cascade_threshold=0.0)
    assert [p.score for p in scorer.predict(texts)] == [
        round(p, 6) for p in bag_best.values.tolist()
    ]
    assert encoded == []
    # A threshold between the bag's probabilities: exactly the texts under it are encoded.
    middle = float(bag_best.values.median())
    scorer.model.config = replace(scorer.model.config, cascade_threshold=middle)
    scorer.predict(texts)
    assert sorted(encoded) == sorted(
        t for t, p in zip(texts, bag_best.values.tolist(), strict=True) if p < middle
    )


def test_example_weights_balance_labels_and_languages() -> None:
    examples = [Example("en", "positive", "")] * 3 + [Example("en", "negative", "")]
    examples += [Example("fr", "positive", ""), Example("fr", "negative", "")]
    full = example_weights(examples, language_balance=1.0).tolist()
    # Every (language, label) pair gets the same total weight: 3*w_en_pos == w_en_neg == w_fr.
    assert full[0] * 3 == pytest.approx(full[3]) == pytest.approx(full[4]) == pytest.approx(full[5])
    none = example_weights(examples, language_balance=0.0).tolist()
    assert sum(none[:4]) == pytest.approx(2 * sum(none[4:]))


# --- the shipped artifact -------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> SentimentScorer:
    return SentimentScorer.load()


def test_shipped_artifact_is_small_and_consistent(shipped: SentimentScorer) -> None:
    metadata = json.loads((ARTIFACT_DIR / METADATA_FILE).read_text(encoding="utf-8"))
    size = (ARTIFACT_DIR / WEIGHTS_FILE).stat().st_size
    assert size <= 20 * 1024 * 1024
    assert metadata["size_bytes"] == size
    assert shipped.model_version == metadata["model_version"]
    assert shipped.model_version.startswith("e5-hybrid-v2-")


def test_shipped_artifact_on_obvious_examples(shipped: SentimentScorer) -> None:
    labels = [
        p.label
        for p in shipped.predict(
            [
                "I love this, thank you so much!",
                "This is terrible, worst service ever",
                "Great news, congratulations to the whole team!",
                "I hate this, it is awful and disgusting",
            ]
        )
    ]
    assert labels == ["positive", "negative", "positive", "negative"]


def test_empty_and_whitespace_texts_are_neutral(shipped: SentimentScorer) -> None:
    assert shipped.predict(["", " \t\n "]) == [Prediction("neutral", 1.0)] * 2
    assert shipped.predict([]) == []


def test_predict_batches_agree(shipped: SentimentScorer) -> None:
    assert shipped.predict(AWKWARD_TEXTS, batch_size=3) == shipped.predict(AWKWARD_TEXTS)


def test_predict_tsv_round_trip(shipped: SentimentScorer, tmp_path: Path) -> None:
    rows = [[f"id{i}", text, "x"] for i, text in enumerate(AWKWARD_TEXTS)]
    _write_quoted(tmp_path / "in.tsv", ["id", "text", "other"], rows)
    count = shipped.predict_tsv(tmp_path / "in.tsv", tmp_path / "out.tsv")
    with open(tmp_path / "out.tsv", encoding="utf-8", newline="") as handle:
        out = list(csv.reader(handle, delimiter="\t"))
    assert count == len(AWKWARD_TEXTS)
    assert out[0] == ["label", "score"]
    expected = shipped.predict(AWKWARD_TEXTS)
    assert [(row[0], float(row[1])) for row in out[1:]] == [(p.label, p.score) for p in expected]


def test_predict_tsv_plain_input(shipped: SentimentScorer, tmp_path: Path) -> None:
    texts = ['"Grexit" tests Merkel', "I love this, thank you so much!", ""]
    (tmp_path / "in.tsv").write_text("text\n" + "\n".join(texts) + "\n", encoding="utf-8")
    shipped.predict_tsv(tmp_path / "in.tsv", tmp_path / "out.tsv")
    lines = (tmp_path / "out.tsv").read_text(encoding="utf-8").splitlines()
    assert lines[1:] == [f"{p.label}\t{p.score:.6f}" for p in shipped.predict(texts)]


def test_predict_tsv_missing_text_column(shipped: SentimentScorer, tmp_path: Path) -> None:
    path = tmp_path / "comments.tsv"
    path.write_text("id\tbody\n1\thello\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"comments\.tsv.*'text'.*\['id', 'body'\]"):
        shipped.predict_tsv(path, tmp_path / "out.tsv")


def test_evaluate_file(shipped: SentimentScorer, tmp_path: Path) -> None:
    rows = [
        ["en", "positive", "I love this, thank you so much!"],
        ["en", "negative", "This is terrible, worst service ever"],
        ["fr", "neutral", "Le consulat ouvre à neuf heures"],
    ]
    _write_quoted(tmp_path / "gold.tsv", ["lang", "label", "text"], rows)
    result = evaluate(tmp_path / "gold.tsv", shipped)
    assert result["model_version"] == shipped.model_version
    assert result["overall"]["n"] == 3
    assert set(result["per_lang"]) == {"en", "fr"}
