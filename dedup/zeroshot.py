"""Per-image zero-shot predictions of a checkpoint from the bundled trainer (`train/`).

`load_clip` restores the model (its config is stored in the checkpoint) and the tokenizer
(`tokenizer.json` of the run, two levels above `checkpoints/step_N.pt`, or a given path);
`predict` classifies image bytes by template-averaged class embeddings, as
`train.evaluate.zero_shot` does, but returns each image's prediction so that accuracy can be
split by overlap.

    model, tok = load_clip("runs/tiny/checkpoints/latest.pt")
    pred = predict(model, tok, images, ["cat", "dog"], TEMPLATES)
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch

from pipeline import storage
from train.checkpoint import load_checkpoint
from train.config import ModelConfig
from train.evaluate import TEMPLATES
from train.model import CLIP, create_model
from train.tokenizer import CaptionTokenizer, load_tokenizer
from train.transform import center_box, load_image, normalize

__all__ = ["TEMPLATES", "load_clip", "class_weights", "predict", "tokenizer_path"]


def tokenizer_path(checkpoint: str) -> str:
    """The run's `tokenizer.json` for `OUT/checkpoints/step_N.pt` (`OUT/tokenizer.json`)."""
    parent = os.path.dirname(os.path.dirname(checkpoint.rstrip("/")))
    return storage.join(parent, "tokenizer.json") if parent else "tokenizer.json"


def load_clip(
    checkpoint: str, tokenizer: str = "", device: str = "cpu"
) -> tuple[CLIP, CaptionTokenizer]:
    """The checkpoint's model (eval mode, on `device`) and its tokenizer."""
    state = load_checkpoint(checkpoint)
    if "model_config" not in state:
        raise ValueError(f"{checkpoint}: no model_config (not a checkpoint of `wit train`)")
    model = create_model(ModelConfig.from_dict(state["model_config"]))
    model.load_state_dict(state["model"])
    tok = load_tokenizer(tokenizer or tokenizer_path(checkpoint))
    return model.to(device).eval(), tok


@torch.no_grad()
def class_weights(
    model: CLIP,
    tok: CaptionTokenizer,
    classes: Sequence[str],
    templates: Sequence[str],
    device: str = "cpu",
) -> torch.Tensor:
    """(classes, dim) normalised means of each class's template embeddings."""
    prompts = [t.format(c) for c in classes for t in templates]
    ctx = model.config.text.context_length
    emb = torch.cat(
        [
            model.encode_text(tok.encode_batch(prompts[i : i + 256], ctx).to(device)).float()
            for i in range(0, len(prompts), 256)
        ]
    )
    mean = emb.view(len(classes), len(templates), -1).mean(dim=1)
    return torch.nn.functional.normalize(mean, dim=-1)


@torch.no_grad()
def predict(
    model: CLIP,
    tok: CaptionTokenizer,
    images: Sequence[bytes],
    classes: Sequence[str],
    templates: Sequence[str] = TEMPLATES,
    device: str = "cpu",
    batch: int = 128,
) -> np.ndarray:
    """Top-1 class index per image (centre crop), -1 where the image does not decode."""
    weights = class_weights(model, tok, classes, templates, device)
    size = model.config.vision.image_size
    out = np.full(len(images), -1, np.int64)
    for start in range(0, len(images), batch):
        arrays, rows = [], []
        for i in range(start, min(start + batch, len(images))):
            try:
                arrays.append(load_image(images[i], size, center_box))
                rows.append(i)
            except Exception:  # noqa: BLE001 - an undecodable eval image counts as wrong
                continue
        if arrays:
            x = normalize(torch.from_numpy(np.stack(arrays)).to(device))
            logits = model.encode_image(x).float() @ weights.T
            out[rows] = logits.argmax(dim=1).cpu().numpy()
    return out
