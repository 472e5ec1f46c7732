"""AdamW with CLIP's parameter groups and a cosine schedule with linear warm-up.

Weight decay applies to matrices only: gains, biases, embeddings' 1-d vectors and the
temperature are exempt (Radford et al. 2021; open_clip's `exclude`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from train.config import TrainConfig

__all__ = ["param_groups", "create_optimizer", "CosineWithWarmup", "create_scheduler"]


def _no_decay(name: str, param: torch.Tensor) -> bool:
    """Whether a parameter is exempt from weight decay."""
    return param.ndim < 2 or "ln" in name or "bias" in name or "logit_scale" in name


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two groups: decayed matrices, and undecayed gains/biases/temperature."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (no_decay if _no_decay(name, param) else decay).append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def create_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW with beta2 0.98, eps 1e-6 (CLIP's values by default)."""
    return torch.optim.AdamW(
        param_groups(model, cfg.weight_decay),
        lr=cfg.lr,
        betas=(cfg.beta1, cfg.beta2),
        eps=cfg.eps,
    )


class CosineWithWarmup:
    """LR multiplier: linear from 1/warmup to 1 over `warmup` steps, then cosine to 0."""

    def __init__(self, warmup: int, total: int) -> None:
        self.warmup = max(0, warmup)
        self.total = max(1, total)

    def __call__(self, step: int) -> float:
        """The multiplier at `step` (0-based)."""
        if step < self.warmup:
            return (step + 1) / self.warmup
        span = max(1, self.total - self.warmup)
        progress = min(1.0, (step - self.warmup) / span)
        return 0.5 * (1 + math.cos(math.pi * progress))


def create_scheduler(
    optimizer: torch.optim.Optimizer, warmup: int, total: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """A LambdaLR whose state (including the schedule) goes into checkpoints."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, CosineWithWarmup(warmup, total))
