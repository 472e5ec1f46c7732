"""End-of-epoch evaluation on held-out shards: zero-shot classification and retrieval R@1/R@5.

Zero-shot classes are the held-out samples' first query (the pipeline's `KEY.json` `queries`),
or a given class list; each class's text embedding is the normalised mean over CLIP-style prompt
templates. A sample counts for classification when its label is one of the classes.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch

from train.model import CLIP
from train.shards import iter_samples
from train.tokenizer import CaptionTokenizer
from train.transform import center_box, load_image, normalize

__all__ = ["EvalSet", "TEMPLATES", "load_eval_set", "zero_shot", "retrieval", "evaluate"]

TEMPLATES = (
    "a photo of a {}.",
    "a picture of a {}.",
    "an image of the {}.",
    "a {}.",
    "{}",
)


@dataclass(frozen=True)
class EvalSet:
    """Decoded held-out samples."""

    images: torch.Tensor  # uint8 (N, H, W, 3)
    captions: tuple[str, ...]
    labels: tuple[str, ...]  # first query, or ""


def _label(sample: dict) -> str:
    """The sample's first matched query from its metadata, or ''."""
    try:
        queries = json.loads(sample.get("json", b"{}")).get("queries") or []
        return str(queries[0]) if queries else ""
    except (ValueError, AttributeError):
        return ""


def load_eval_set(urls: list[str], image_size: int, limit: int) -> EvalSet:
    """Up to `limit` decodable samples from `urls`, centre-cropped, in shard order."""
    stats: Counter[str] = Counter()
    images, captions, labels = [], [], []
    for url in urls:
        if len(images) >= limit:
            break
        for sample in iter_samples(url, stats):
            if len(images) >= limit:
                break
            try:
                images.append(load_image(sample["jpg"], image_size, center_box))
                captions.append(sample["txt"].decode("utf-8"))
            except Exception:  # noqa: BLE001 - skip what does not decode
                del images[len(captions) :]
                continue
            labels.append(_label(sample))
    stacked = (
        torch.from_numpy(np.stack(images))
        if images
        else torch.zeros(0, image_size, image_size, 3, dtype=torch.uint8)
    )
    return EvalSet(stacked, tuple(captions), tuple(labels))


@torch.no_grad()
def _image_embeddings(model: CLIP, images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Normalised image embeddings, in chunks."""
    out = [model.encode_image(normalize(chunk.to(device))).float() for chunk in images.split(256)]
    return torch.cat(out)


@torch.no_grad()
def _text_embeddings(
    model: CLIP, tok: CaptionTokenizer, texts: list[str], device: torch.device
) -> torch.Tensor:
    """Normalised text embeddings, in chunks."""
    ctx = model.config.text.context_length
    chunks = [texts[i : i + 256] for i in range(0, len(texts), 256)]
    return torch.cat(
        [model.encode_text(tok.encode_batch(c, ctx).to(device)).float() for c in chunks]
    )


def zero_shot(
    model: CLIP, tok: CaptionTokenizer, data: EvalSet, classes: list[str], device: torch.device
) -> dict[str, float]:
    """Top-1/top-5 accuracy with template-averaged class embeddings, and chance level."""
    index = {name: i for i, name in enumerate(classes)}
    rows = [i for i, label in enumerate(data.labels) if label in index]
    if not rows or not classes:
        return {}
    prompts = [t.format(c) for c in classes for t in TEMPLATES]
    text = _text_embeddings(model, tok, prompts, device).view(len(classes), len(TEMPLATES), -1)
    weights = torch.nn.functional.normalize(text.mean(dim=1), dim=-1)
    image = _image_embeddings(model, data.images[rows], device)
    target = torch.tensor([index[data.labels[i]] for i in rows], device=device)
    topk = (image @ weights.T).topk(min(5, len(classes)), dim=1).indices
    return {
        "zeroshot_top1": float((topk[:, 0] == target).float().mean()),
        "zeroshot_top5": float((topk == target[:, None]).any(dim=1).float().mean()),
        "zeroshot_chance": 1.0 / len(classes),
        "zeroshot_samples": float(len(rows)),
    }


def _recall(sims: torch.Tensor, k: int) -> float:
    """Fraction of rows whose own column (the diagonal) is in the top k."""
    topk = sims.topk(min(k, sims.shape[1]), dim=1).indices
    own = torch.arange(sims.shape[0], device=sims.device)[:, None]
    return float((topk == own).any(dim=1).float().mean())


def retrieval(
    model: CLIP, tok: CaptionTokenizer, data: EvalSet, device: torch.device
) -> dict[str, float]:
    """Image->text and text->image recall at 1 and 5 (each sample's own caption is the match)."""
    if not data.captions:
        return {}
    sims = (
        _image_embeddings(model, data.images, device)
        @ _text_embeddings(model, tok, list(data.captions), device).T
    )
    return {
        "image_to_text_R@1": _recall(sims, 1),
        "image_to_text_R@5": _recall(sims, 5),
        "text_to_image_R@1": _recall(sims.T, 1),
        "text_to_image_R@5": _recall(sims.T, 5),
    }


def evaluate(
    model: CLIP, tok: CaptionTokenizer, data: EvalSet, classes: list[str], device: torch.device
) -> dict[str, float]:
    """Both evaluations; classes default to the held-out labels (sorted)."""
    was_training = model.training
    model.eval()
    try:
        names = classes or sorted({label for label in data.labels if label})
        return {**zero_shot(model, tok, data, names, device), **retrieval(model, tok, data, device)}
    finally:
        model.train(was_training)
