"""The CLIP model: shapes, temperature initialisation and clamp, config factory."""

from __future__ import annotations

import math

import pytest
import torch

from train.config import ModelConfig, available_configs, load_model_config
from train.model import MAX_LOGIT_SCALE, create_model


def _tiny() -> ModelConfig:
    return load_model_config("tiny").with_vocab(300)


def test_bundled_configs_load() -> None:
    assert {"tiny", "ViT-B-32"} <= set(available_configs())
    b32 = load_model_config("ViT-B-32")
    assert (b32.vision.patch_size, b32.vision.width, b32.text.context_length) == (32, 768, 77)
    assert ModelConfig.from_dict(b32.to_dict()) == b32
    with pytest.raises(ValueError, match="unknown model config"):
        load_model_config("nope")


def test_forward_shapes_and_normalised_features() -> None:
    model = create_model(_tiny(), seed=0)
    images = torch.randn(3, 3, 32, 32)
    tokens = torch.tensor([[1, 5, 6, 2, 0, 0], [1, 7, 2, 0, 0, 0], [1, 2, 0, 0, 0, 0]])
    img, txt, scale = model(images, tokens)
    assert img.shape == txt.shape == (3, 64)
    assert torch.allclose(img.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert math.isclose(float(scale.detach()), 1 / 0.07, rel_tol=1e-5)


def test_text_features_ignore_padding_and_future_tokens() -> None:
    model = create_model(_tiny(), seed=0).eval()
    short = torch.tensor([[1, 5, 2, 0, 0]])
    padded = torch.tensor([[1, 5, 2, 0, 0, 0, 0, 0]])
    assert torch.allclose(model.encode_text(short), model.encode_text(padded), atol=1e-5)


def test_temperature_is_clamped_at_100() -> None:
    model = create_model(_tiny(), seed=0)
    with torch.no_grad():
        model.logit_scale.fill_(10.0)
    _, _, scale = model(torch.randn(1, 3, 32, 32), torch.tensor([[1, 2]]))
    assert math.isclose(float(scale.detach()), 100.0, rel_tol=1e-5)
    model.clamp_logit_scale()
    assert float(model.logit_scale.detach()) == pytest.approx(MAX_LOGIT_SCALE)


def test_seeded_factory_is_reproducible() -> None:
    a, b = create_model(_tiny(), seed=3), create_model(_tiny(), seed=3)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
