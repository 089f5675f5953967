"""Text normalisation and hashed n-gram features for the sentiment classifier.

Pure functions only: the same text always gives the same feature ids, on any machine and
in any process, because hashing uses ``zlib.crc32`` (Python's ``hash()`` is salted per
process and must never be used here).

Features of one text, each hashed into ``n_buckets`` ids:

* word unigrams (``w:<token>``) and bigrams (``b:<token> <token>``);
* character n-grams of every word token wrapped in boundary marks (``<word>``), for
  ``n`` in ``char_ngrams`` (3 to 5 by default), which carry morphology and spelling
  variants across languages and scripts.
"""

from __future__ import annotations

import html
import itertools
import re
import unicodedata
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

USER = "<user>"
URL = "<url>"
NUM = "<num>"
PLACEHOLDERS = frozenset({USER, URL, NUM})

_URL_RE = re.compile(r"(?:https?://|www\.)\S+|https?(?=\s|$)")
_USER_RE = re.compile(r"@\w+")
_NUM_RE = re.compile(r"(?<!\w)(?>\d+(?:[.,:/]\d+)*)(?!\w)")
_ELONGATION_RE = re.compile(r"(.)\1{2,}")
# Typographic apostrophes, unified to "'".
_APOSTROPHE_RE = re.compile("[\u2018\u2019\u02bc`]")
# Emoji modifiers, variation selectors and the Arabic tatweel (a stretching character).
_DROP_RE = re.compile("[\ufe0e\ufe0f\U0001f3fb-\U0001f3ff\u0640]")
# Word characters: \w plus the combining marks that \w leaves out but that belong inside
# words (Latin diacritics, Arabic harakat, Devanagari vowel signs, zero-width joiners).
_WORD_CHAR = (
    r"[\w\u0300-\u036f\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed"
    r"\u0900-\u0963\u0966-\u097f\u200c\u200d]"
)
_WORD = rf"{_WORD_CHAR}+(?:'{_WORD_CHAR}+)*"
_EMOTICON = r"[:;=x][-o*']?[()\[\]dp/\\|*]"
_TOKEN_RE = re.compile(rf"<(?:user|url|num)>|{_EMOTICON}(?!\w)|{_WORD}|\S")


@dataclass(frozen=True)
class FeatureConfig:
    """Settings of the featuriser; stored in the artifact metadata."""

    n_buckets: int = 2**18
    char_ngrams: tuple[int, int] = (3, 5)
    word_bigrams: bool = True


def normalise(text: str) -> str:
    """Canonical form of a social-media text: HTML entities decoded, NFKC, lower case,
    placeholders, squashed runs.

    Mentions become ``<user>``, links ``<url>``, numbers ``<num>``; any character repeated
    three or more times is cut to two ("soooo!!!" -> "soo!!"); typographic apostrophes
    become ``'``, which may join a word ("don't" is one token).
    """
    text = unicodedata.normalize("NFKC", html.unescape(text))
    text = _APOSTROPHE_RE.sub("'", _DROP_RE.sub("", text)).lower()
    text = _URL_RE.sub(f" {URL} ", text)
    text = _USER_RE.sub(f" {USER} ", text)
    text = _NUM_RE.sub(NUM, text)
    return _ELONGATION_RE.sub(r"\1\1", text)


def tokenize(normalised: str) -> list[str]:
    """Split a normalised text into placeholders, emoticons, words and single symbols."""
    return _TOKEN_RE.findall(normalised)


def feature_strings(tokens: Sequence[str], config: FeatureConfig) -> list[str]:
    """The un-hashed feature strings of one tokenised text (exposed for inspection and tests)."""
    features = [f"w:{token}" for token in tokens]
    if config.word_bigrams:
        features += [f"b:{a} {b}" for a, b in itertools.pairwise(tokens)]
    low, high = config.char_ngrams
    for token in tokens:
        if token in PLACEHOLDERS or len(token) < 2:
            continue
        marked = f"<{token}>"
        for n in range(low, high + 1):
            features += [f"c:{marked[i : i + n]}" for i in range(len(marked) - n + 1)]
    return features


def stable_hash(feature: str, n_buckets: int) -> int:
    """Bucket of one feature string: CRC-32 of its UTF-8 bytes, modulo ``n_buckets``."""
    return zlib.crc32(feature.encode("utf-8")) % n_buckets


def featurise(text: str, config: FeatureConfig) -> np.ndarray:
    """Hashed feature ids (int64, possibly empty, duplicates kept) of one raw text."""
    tokens = tokenize(normalise(text))
    ids = [stable_hash(feature, config.n_buckets) for feature in feature_strings(tokens, config)]
    return np.asarray(ids, dtype=np.int64)


def featurise_batch(texts: Sequence[str], config: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """Flat ids and per-text start offsets, the input layout of ``nn.EmbeddingBag``."""
    per_text = [featurise(text, config) for text in texts]
    lengths = np.fromiter((len(ids) for ids in per_text), dtype=np.int64, count=len(per_text))
    offsets = np.zeros(len(per_text), dtype=np.int64)
    np.cumsum(lengths[:-1], out=offsets[1:])
    flat = np.concatenate(per_text) if per_text else np.zeros(0, dtype=np.int64)
    return flat, offsets
