"""Embedders: one interface for the classical default and user-supplied descriptor models.

An `Embedder` maps a list of PIL images to L2-normalised float32 rows. `make_embedder(cfg)`
picks the classical descriptor (no weights), a TorchScript file, or an ONNX file (when
onnxruntime is importable). Models run batched on CUDA when available, else on CPU.
`eval_views` expands an eval image into the views indexed for it (flips, crops).

    emb = make_embedder(EmbedConfig())            # the default, offline
    vecs = emb.embed([Image.open("a.jpg")])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PIL import Image, ImageOps

from dedup.descriptor import DescriptorConfig, describe_batch
from dedup.whiten import l2n

__all__ = [
    "EmbedConfig",
    "Embedder",
    "ClassicalEmbedder",
    "TorchScriptEmbedder",
    "OnnxEmbedder",
    "make_embedder",
    "eval_views",
    "VIEW_NAMES",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
VIEW_NAMES = ("full", "centre", "tl", "tr", "bl", "br", "rot+7k", "rot-7k", "rot+7w", "rot-7w")


@dataclass(frozen=True)
class EmbedConfig:
    """Which descriptor to use and how to feed it."""

    kind: str = "classical"  # classical | torchscript | onnx
    model_path: str = ""
    input_size: int = 224
    batch_size: int = 64
    device: str = "auto"  # auto | cpu | cuda
    whiten: str = "auto"  # auto (fit on the data) | none | PATH.npz
    whiten_dim: int = 256
    views: tuple[str, ...] = VIEW_NAMES
    flip: bool = True


class Embedder(Protocol):
    """Anything that turns images into L2-normalised descriptor rows."""

    name: str

    def embed(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Descriptors of `images`, shape (n, dim), float32, unit norm."""
        ...


class ClassicalEmbedder:
    """The built-in DCT/gradient/colour descriptor (`dedup.descriptor`)."""

    def __init__(self, cfg: DescriptorConfig = DescriptorConfig()) -> None:
        self.cfg = cfg
        self.name = "classical-dct-grad-colour-v1"

    def embed(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Raw classical descriptors."""
        return describe_batch(list(images), self.cfg)


def _resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _to_batch(images: Sequence[Image.Image], size: int) -> np.ndarray:
    """Images as an NCHW float32 array, resized to size x size and ImageNet-normalised."""
    arr = np.stack(
        [np.asarray(im.convert("RGB").resize((size, size), Image.BILINEAR)) for im in images]
    ).astype(np.float32)
    arr = (arr / 255.0 - np.array(IMAGENET_MEAN, np.float32)) / np.array(IMAGENET_STD, np.float32)
    return np.ascontiguousarray(arr.transpose(0, 3, 1, 2))


class TorchScriptEmbedder:
    """A TorchScript descriptor model (SSCD, ISC21-style): NCHW float in, (n, d) out."""

    def __init__(self, cfg: EmbedConfig) -> None:
        import torch

        self.cfg = cfg
        self.device = _resolve_device(cfg.device)
        self.model = torch.jit.load(cfg.model_path, map_location=self.device).eval()
        self.name = f"torchscript:{cfg.model_path.rsplit('/', 1)[-1]}"

    def embed(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Run the model in batches of `cfg.batch_size`."""
        import torch

        out = []
        for i in range(0, len(images), self.cfg.batch_size):
            batch = torch.from_numpy(
                _to_batch(images[i : i + self.cfg.batch_size], self.cfg.input_size)
            )
            with torch.inference_mode():
                out.append(self.model(batch.to(self.device)).float().cpu().numpy())
        return l2n(np.concatenate(out)) if out else np.zeros((0, 0), np.float32)


class OnnxEmbedder:
    """An ONNX descriptor model run by onnxruntime (CUDA provider when present)."""

    def __init__(self, cfg: EmbedConfig) -> None:
        import onnxruntime as ort

        self.cfg = cfg
        wanted = ["CUDAExecutionProvider", "CPUExecutionProvider"]
        providers = [p for p in wanted if p in ort.get_available_providers()]
        self.session = ort.InferenceSession(cfg.model_path, providers=providers)
        self.input = self.session.get_inputs()[0].name
        self.name = f"onnx:{cfg.model_path.rsplit('/', 1)[-1]}"

    def embed(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Run the session in batches of `cfg.batch_size`."""
        out = []
        for i in range(0, len(images), self.cfg.batch_size):
            batch = _to_batch(images[i : i + self.cfg.batch_size], self.cfg.input_size)
            out.append(np.asarray(self.session.run(None, {self.input: batch})[0], np.float32))
        return l2n(np.concatenate(out)) if out else np.zeros((0, 0), np.float32)


def make_embedder(cfg: EmbedConfig) -> Embedder:
    """The embedder that `cfg.kind` names."""
    if cfg.kind == "classical":
        return ClassicalEmbedder()
    if cfg.kind == "torchscript":
        return TorchScriptEmbedder(cfg)
    if cfg.kind == "onnx":
        return OnnxEmbedder(cfg)
    raise ValueError(f"unknown embedder kind {cfg.kind!r} (classical, torchscript, onnx)")


def _crop(img: Image.Image, keep: float, ax: float, ay: float) -> Image.Image:
    w, h = img.size
    cw, ch = max(1, round(w * keep)), max(1, round(h * keep))
    x, y = round((w - cw) * ax), round((h - ch) * ay)
    return img.crop((x, y, x + cw, y + ch))


_VIEWS = {
    "full": (1.0, 0.5, 0.5),
    "centre": (0.85, 0.5, 0.5),
    "tl": (0.85, 0.0, 0.0),
    "tr": (0.85, 1.0, 0.0),
    "bl": (0.85, 0.0, 1.0),
    "br": (0.85, 1.0, 1.0),
}


# Turned views (degrees, corner fill): a copy rotated on a page keeps its flat corners, which
# the descriptor cannot trim; these views bring rotations up to ~10 degrees into range.
_ROTATED = {
    "rot+7k": (7.0, (0, 0, 0)),
    "rot-7k": (-7.0, (0, 0, 0)),
    "rot+7w": (7.0, (255, 255, 255)),
    "rot-7w": (-7.0, (255, 255, 255)),
}


def _view(img: Image.Image, name: str) -> Image.Image:
    if name == "full":
        return img
    if name in _ROTATED:
        angle, fill = _ROTATED[name]
        return img.rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor=fill)
    return _crop(img, *_VIEWS[name])


def eval_views(
    img: Image.Image, views: Sequence[str] = VIEW_NAMES, flip: bool = True
) -> list[Image.Image]:
    """The views of an eval image that get indexed: crops, turns (and their mirror images)."""
    out = []
    for name in views:
        view = _view(img, name)
        out.append(view)
        if flip:
            out.append(ImageOps.mirror(view))
    return out
