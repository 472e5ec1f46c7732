"""Typed, frozen configuration for the trainer: model sizes (JSON files), data and the run.

Model sizes live in `train/configs/NAME.json` (open_clip's convention) and are read by
`load_model_config("tiny")` or from any JSON path. The CLI parses its flags into these
dataclasses; nothing below the CLI reads an argparse namespace.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace

__all__ = [
    "VisionConfig",
    "TextConfig",
    "ModelConfig",
    "DataConfig",
    "TrainConfig",
    "CONFIG_DIR",
    "available_configs",
    "load_model_config",
]

CONFIG_DIR = os.path.join(os.path.dirname(__file__), "configs")


@dataclass(frozen=True)
class VisionConfig:
    """A ViT image tower."""

    image_size: int = 224
    patch_size: int = 32
    width: int = 768
    layers: int = 12
    heads: int = 12


@dataclass(frozen=True)
class TextConfig:
    """A causal text transformer."""

    context_length: int = 77
    vocab_size: int = 49408
    width: int = 512
    layers: int = 12
    heads: int = 8


@dataclass(frozen=True)
class ModelConfig:
    """A CLIP model: two towers projected into one `embed_dim` space."""

    embed_dim: int = 512
    vision: VisionConfig = field(default_factory=VisionConfig)
    text: TextConfig = field(default_factory=TextConfig)

    def with_vocab(self, vocab_size: int) -> ModelConfig:
        """The same model with a text vocabulary of `vocab_size` tokens."""
        return replace(self, text=replace(self.text, vocab_size=vocab_size))

    def to_dict(self) -> dict:
        """Plain-JSON form (as stored in checkpoints)."""
        return {
            "embed_dim": self.embed_dim,
            "vision": vars(self.vision).copy(),
            "text": vars(self.text).copy(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        """Inverse of `to_dict`."""
        return cls(
            embed_dim=int(data["embed_dim"]),
            vision=VisionConfig(**data["vision"]),
            text=TextConfig(**data["text"]),
        )


def available_configs() -> list[str]:
    """Names of the bundled model configs."""
    return sorted(n[: -len(".json")] for n in os.listdir(CONFIG_DIR) if n.endswith(".json"))


def load_model_config(name: str) -> ModelConfig:
    """A bundled config by name (`tiny`, `ViT-B-32`) or a JSON file path."""
    path = name if name.endswith(".json") else os.path.join(CONFIG_DIR, f"{name}.json")
    if not os.path.exists(path):
        raise ValueError(f"unknown model config {name!r}; bundled: {available_configs()}")
    with open(path, encoding="utf-8") as f:
        return ModelConfig.from_dict(json.load(f))


@dataclass(frozen=True)
class DataConfig:
    """What the streaming loader reads and how it shuffles, splits and augments."""

    shards: tuple[str, ...] = ()
    batch_size: int = 32
    image_size: int = 224
    context_length: int = 77
    workers: int = 0
    seed: int = 0
    shuffle_shards: bool = True
    shuffle_buffer: int = 1000
    resampled: bool = False
    crop_scale: tuple[float, float] = (0.9, 1.0)
    exclude: str = ""  # path of a key list (.txt, one per line, or .parquet with a `key` column)
    train_crop: bool = True


@dataclass(frozen=True)
class TrainConfig:
    """One training run."""

    out: str
    model: str = "tiny"
    epochs: int = 1
    lr: float = 5e-4
    weight_decay: float = 0.2
    beta1: float = 0.9
    beta2: float = 0.98
    eps: float = 1e-6
    warmup_steps: int = 100
    grad_clip: float = 0.0  # 0: off
    steps_per_epoch: int = 0  # 0: from sizes.json (required > 0 when resampled)
    stop_after_steps: int = 0  # 0: run to the end (else stop early, as a pre-emption would)
    log_every: int = 10
    save_every: int = 0  # steps between checkpoints; 0: at epoch ends only
    resume: str = ""  # checkpoint path, or "latest" for OUT/checkpoints/latest.pt
    tokenizer: str = ""  # an existing tokenizer.json; else one is trained on the captions
    eval_shards: tuple[str, ...] = ()
    eval_samples: int = 1000
    classes: str = ""  # zero-shot class names file (one per line); else the eval queries
    device: str = ""  # "" picks cuda when present
    precision: str = "auto"  # auto: bf16 autocast on CUDA, fp32 on CPU; or "fp32"
    deterministic: bool = False
    data: DataConfig = field(default_factory=DataConfig)
