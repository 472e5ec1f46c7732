"""The CLIP model: a ViT image tower, a causal text transformer, projections and a temperature.

    model = create_model(load_model_config("tiny"))
    image_features, text_features, logit_scale = model(images, tokens)

Follows Radford et al. (2021): pre-LN transformer blocks, a class token for images, the
end-of-text token's state for text, linear projections without bias, and a learnable
temperature `logit_scale = log(1 / 0.07)` clamped so that `exp(logit_scale) <= 100`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from train.config import ModelConfig, TextConfig, VisionConfig

__all__ = ["CLIP", "VisionTransformer", "TextTransformer", "create_model", "MAX_LOGIT_SCALE"]

INIT_LOGIT_SCALE = math.log(1 / 0.07)
MAX_LOGIT_SCALE = math.log(100.0)


class Attention(nn.Module):
    """Multi-head self-attention over `scaled_dot_product_attention` (flash on GPU)."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, causal: bool) -> torch.Tensor:
        """Attend over the sequence; `causal` masks future positions."""
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        return self.out(y.transpose(1, 2).reshape(b, n, d))


class Block(nn.Module):
    """A pre-LN transformer block: attention then a 4x GELU MLP, each with a residual."""

    def __init__(self, width: int, heads: int, causal: bool) -> None:
        super().__init__()
        self.causal = causal
        self.ln_1 = nn.LayerNorm(width)
        self.attn = Attention(width, heads)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(
            nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """One block."""
        x = x + self.attn(self.ln_1(x), self.causal)
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    """A stack of blocks."""

    def __init__(self, width: int, layers: int, heads: int, causal: bool) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(Block(width, heads, causal) for _ in range(layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run every block in turn."""
        for block in self.blocks:
            x = block(x)
        return x


class VisionTransformer(nn.Module):
    """ViT: patches -> [class] + positions -> transformer -> projection of the class token."""

    def __init__(self, cfg: VisionConfig, embed_dim: int) -> None:
        super().__init__()
        if cfg.image_size % cfg.patch_size:
            raise ValueError("image_size must be a multiple of patch_size")
        grid = cfg.image_size // cfg.patch_size
        scale = cfg.width**-0.5
        self.conv1 = nn.Conv2d(3, cfg.width, cfg.patch_size, cfg.patch_size, bias=False)
        self.class_embedding = nn.Parameter(scale * torch.randn(cfg.width))
        self.positional_embedding = nn.Parameter(scale * torch.randn(grid * grid + 1, cfg.width))
        self.ln_pre = nn.LayerNorm(cfg.width)
        self.transformer = Transformer(cfg.width, cfg.layers, cfg.heads, causal=False)
        self.ln_post = nn.LayerNorm(cfg.width)
        self.proj = nn.Parameter(scale * torch.randn(cfg.width, embed_dim))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Image features (unnormalised), shape (batch, embed_dim)."""
        x = self.conv1(images).flatten(2).transpose(1, 2)
        cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)
        x = self.transformer(self.ln_pre(x))
        return self.ln_post(x[:, 0]) @ self.proj


class TextTransformer(nn.Module):
    """Causal transformer; the state at the end-of-text token (last non-pad) is projected."""

    def __init__(self, cfg: TextConfig, embed_dim: int) -> None:
        super().__init__()
        self.token_embedding = nn.Embedding(cfg.vocab_size, cfg.width)
        self.positional_embedding = nn.Parameter(torch.empty(cfg.context_length, cfg.width))
        self.transformer = Transformer(cfg.width, cfg.layers, cfg.heads, causal=True)
        self.ln_final = nn.LayerNorm(cfg.width)
        self.text_projection = nn.Parameter(torch.empty(cfg.width, embed_dim))
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        nn.init.normal_(self.text_projection, std=cfg.width**-0.5)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Text features (unnormalised) from padded token ids (pad id 0), (batch, embed_dim)."""
        x = self.token_embedding(tokens) + self.positional_embedding[: tokens.shape[1]]
        x = self.ln_final(self.transformer(x))
        eot = (tokens != 0).sum(dim=1).clamp(min=1) - 1
        return x[torch.arange(x.shape[0], device=x.device), eot] @ self.text_projection


class CLIP(nn.Module):
    """Both towers and the learnable temperature."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.config = cfg
        self.visual = VisionTransformer(cfg.vision, cfg.embed_dim)
        self.text = TextTransformer(cfg.text, cfg.embed_dim)
        self.logit_scale = nn.Parameter(torch.tensor(INIT_LOGIT_SCALE))
        _init_blocks(self.visual.transformer, cfg.vision.width, cfg.vision.layers)
        _init_blocks(self.text.transformer, cfg.text.width, cfg.text.layers)

    def encode_image(self, images: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        """Image embeddings, L2-normalised by default."""
        x = self.visual(images)
        return F.normalize(x, dim=-1) if normalize else x

    def encode_text(self, tokens: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        """Text embeddings, L2-normalised by default."""
        x = self.text(tokens)
        return F.normalize(x, dim=-1) if normalize else x

    def forward(
        self, images: torch.Tensor, tokens: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(image embeddings, text embeddings, exp(logit_scale)) with the scale clamped."""
        scale = self.logit_scale.clamp(max=MAX_LOGIT_SCALE).exp()
        return self.encode_image(images), self.encode_text(tokens), scale

    @torch.no_grad()
    def clamp_logit_scale(self) -> None:
        """Keep the temperature in [0.01, 1] after an optimiser step (the paper's clip at 100)."""
        self.logit_scale.clamp_(0.0, MAX_LOGIT_SCALE)


def _init_blocks(transformer: Transformer, width: int, layers: int) -> None:
    """CLIP's initialisation of attention and MLP weights (scaled by depth)."""
    proj_std = width**-0.5 * (2 * layers) ** -0.5
    attn_std = width**-0.5
    fc_std = (2 * width) ** -0.5
    for block in transformer.blocks:
        nn.init.normal_(block.attn.qkv.weight, std=attn_std)
        nn.init.normal_(block.attn.out.weight, std=proj_std)
        nn.init.normal_(block.mlp[0].weight, std=fc_std)
        nn.init.normal_(block.mlp[2].weight, std=proj_std)


def create_model(cfg: ModelConfig, seed: int | None = None) -> CLIP:
    """Build a CLIP model from a config; `seed` makes the initial weights reproducible."""
    if seed is None:
        return CLIP(cfg)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return CLIP(cfg)
