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


def gather_features(features: torch.Tensor) -> torch.Tensor:
    """Concatenate `features` from every rank, rank order, keeping gradients to the local part."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return features
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(features), dim=0)


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
