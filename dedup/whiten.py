"""PCA whitening (score normalisation) of descriptors, fitted on the data being compared.

Whitening centres vectors on a background mean and rescales principal directions so that
no single direction (overall brightness layout, say) dominates the inner product; shrinkage
keeps it stable when fitted on few vectors.

    w = Whitening.fit(raw_vectors, dim=256)
    x = w.apply(raw_vectors)      # L2-normalised, float32
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from pipeline import storage

__all__ = ["Whitening", "l2n"]


def l2n(x: np.ndarray) -> np.ndarray:
    """Rows of `x` scaled to unit L2 norm, as float32."""
    x = np.asarray(x, dtype=np.float32)
    return x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-8)


@dataclass(frozen=True)
class Whitening:
    """A centring mean and a projection matrix (in_dim x out_dim)."""

    mean: np.ndarray
    proj: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray, dim: int = 256, shrink: float = 0.1) -> Whitening:
        """Fit on rows of `x`; eigenvalues are shrunk by `shrink` times their mean."""
        x = np.asarray(x, dtype=np.float64)
        mean = x.mean(axis=0)
        cov = np.cov((x - mean).T) if len(x) > 1 else np.eye(x.shape[1])
        vals, vecs = np.linalg.eigh(np.atleast_2d(cov))
        order = np.argsort(vals)[::-1][: min(dim, x.shape[1])]
        vals, vecs = np.clip(vals[order], 0, None), vecs[:, order]
        proj = vecs / np.sqrt(vals + shrink * max(vals.mean(), 1e-12))
        return cls(mean.astype(np.float32), proj.astype(np.float32))

    @property
    def dim(self) -> int:
        """Output dimension."""
        return int(self.proj.shape[1])

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Whitened, L2-normalised rows."""
        if len(x) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return l2n((np.asarray(x, dtype=np.float32) - self.mean) @ self.proj)

    def save(self, path: str) -> None:
        """Write as .npz (local or s3://)."""
        buf = io.BytesIO()
        np.savez(buf, mean=self.mean, proj=self.proj)
        storage.write_bytes(path, buf.getvalue())

    @classmethod
    def load(cls, path: str) -> Whitening:
        """Read a file written by `save` (a `mean` and optional `proj` array)."""
        data = np.load(io.BytesIO(storage.read_bytes(path)))
        mean = data["mean"].astype(np.float32)
        proj = data["proj"] if "proj" in data else np.eye(len(mean))
        return cls(mean, proj.astype(np.float32))
