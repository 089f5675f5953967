"""Scoring the sentiment model against a labelled TSV, with pure-Python metrics.

Metric conventions follow scikit-learn's defaults: the classes averaged over are those that
occur in the gold labels or the predictions, and a ratio with a zero denominator counts as
0. Macro-recall is the SemEval-2017 Task 4A metric; macro-F1 is the UMSAB one.

Command line: ``python -m models.sentiment.evaluate FILE.tsv [--artifact DIR]``; the file
needs ``label`` and ``text`` columns, and gets per-language figures if it has ``lang``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from models.sentiment.predict import Scorer
from models.sentiment.source import load_scorer
from models.sentiment.tsvio import column, read_tsv


def _check(y_true: Sequence[str], y_pred: Sequence[str]) -> None:
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} gold labels but {len(y_pred)} predictions")
    if not y_true:
        raise ValueError("no labels to score")


def _per_class(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, tuple[float, float]]:
    """Precision and recall of every class seen in either sequence."""
    _check(y_true, y_pred)
    result = {}
    for label in sorted(set(y_true) | set(y_pred)):
        hits = sum(1 for t, p in zip(y_true, y_pred, strict=True) if t == label and p == label)
        gold = sum(1 for t in y_true if t == label)
        predicted = sum(1 for p in y_pred if p == label)
        result[label] = (_ratio(hits, predicted), _ratio(hits, gold))
    return result


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def macro_recall(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    """Unweighted mean of per-class recall."""
    per_class = _per_class(y_true, y_pred)
    return sum(recall for _, recall in per_class.values()) / len(per_class)


def macro_f1(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    """Unweighted mean of per-class F1 (harmonic mean of precision and recall)."""
    per_class = _per_class(y_true, y_pred)
    f1s = [_ratio(2 * p * r, p + r) for p, r in per_class.values()]
    return sum(f1s) / len(f1s)


def accuracy(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    """Share of predictions equal to the gold label."""
    _check(y_true, y_pred)
    return sum(1 for t, p in zip(y_true, y_pred, strict=True) if t == p) / len(y_true)


def scores(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, float | int]:
    """Row count, macro-recall, macro-F1 and accuracy, rounded to 4 decimals."""
    return {
        "n": len(y_true),
        "macro_recall": round(macro_recall(y_true, y_pred), 4),
        "macro_f1": round(macro_f1(y_true, y_pred), 4),
        "accuracy": round(accuracy(y_true, y_pred), 4),
    }


def scores_by_lang(
    y_true: Sequence[str], y_pred: Sequence[str], langs: Sequence[str] | None = None
) -> dict[str, Any]:
    """Overall scores, plus ``per_lang`` scores when languages are given."""
    result: dict[str, Any] = {"overall": scores(y_true, y_pred)}
    if langs is not None:
        triples = list(zip(y_true, y_pred, langs, strict=True))
        result["per_lang"] = {
            lang: scores(
                [t for t, _, g in triples if g == lang], [p for _, p, g in triples if g == lang]
            )
            for lang in sorted(set(langs))
        }
    return result


def evaluate(path: Path, scorer: Scorer | None = None) -> dict[str, Any]:
    """Score a labelled TSV with ``scorer`` (default: ``load_scorer()``, the shipped artifact
    unless ``MISSIONPULSE_SENTIMENT_MODEL`` names another)."""
    header, rows = read_tsv(path)
    labels = [row[column(header, "label", path)] for row in rows]
    texts = [row[column(header, "text", path)] for row in rows]
    langs = [row[header.index("lang")] for row in rows] if "lang" in header else None
    scorer = scorer or load_scorer()
    predicted = [prediction.label for prediction in scorer.predict(texts)]
    return {"model_version": scorer.model_version, **scores_by_lang(labels, predicted, langs)}


def main() -> None:
    """Command-line entry point: print the evaluation of one file as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="TSV with label and text columns")
    parser.add_argument(
        "--artifact", type=Path, default=None, help="artifact or Hugging Face checkpoint directory"
    )
    args = parser.parse_args()
    print(json.dumps(evaluate(args.path, load_scorer(args.artifact)), indent=2))


if __name__ == "__main__":
    main()
