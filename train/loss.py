"""The symmetric contrastive (InfoNCE) loss, with features gathered across ranks under DDP.

Each rank scores its *local* rows against the *global* batch (open_clip's `local_loss` with
`gather_with_grad`): the all-gather keeps gradients, so after DDP averages gradients the update
equals the one for the full global batch on one device, at 1/world of the logits memory.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

__all__ = ["ClipLoss", "gather_features"]


class _GatherWithGrad(torch.autograd.Function):
    """all_gather whose backward sums each slice's gradient over ranks and returns the local one."""

    @staticmethod
    def forward(ctx, features: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """Concatenate every rank's `features` in rank order."""
        parts = [torch.empty_like(features) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, features.contiguous())
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """Every rank's gradient for this rank's rows, summed."""
        grad = grad.contiguous()
        dist.all_reduce(grad)
        n = grad.shape[0] // dist.get_world_size()
        return grad[dist.get_rank() * n : (dist.get_rank() + 1) * n]


def gather_features(features: torch.Tensor) -> torch.Tensor:
    """Concatenate `features` from every rank, rank order, keeping gradients to the local part."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return features
    return _GatherWithGrad.apply(features)


class ClipLoss(nn.Module):
    """Mean of the image->text and text->image cross-entropies over the similarity matrix."""

    def forward(
        self, image_features: torch.Tensor, text_features: torch.Tensor, logit_scale: torch.Tensor
    ) -> torch.Tensor:
        """Loss of the local rows against the global batch (the same as local when not DDP)."""
        all_images = gather_features(image_features)
        all_texts = gather_features(text_features)
        logits_per_image = logit_scale * image_features @ all_texts.T
        logits_per_text = logit_scale * text_features @ all_images.T
        labels = self._labels(image_features.shape[0], image_features.device)
        return (
            F.cross_entropy(logits_per_image.float(), labels)
            + F.cross_entropy(logits_per_text.float(), labels)
        ) / 2

    @staticmethod
    def _labels(n: int, device: torch.device) -> torch.Tensor:
        """Positions of this rank's pairs in the global batch."""
        rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
        return torch.arange(n, device=device) + rank * n
