"""The self-trained InfoNCE descriptor: loss, augmentation, and a TorchScript that plugs in."""

from __future__ import annotations

import math
import random

import numpy as np
import torch
from PIL import Image

from dedup.embed import EmbedConfig, make_embedder
from dedup.train_descriptor import (
    DescriptorNet,
    TrainDescriptorConfig,
    augment,
    info_nce,
    train,
)


def test_info_nce_prefers_twins() -> None:
    a = torch.eye(4) * 5
    assert info_nce(a, a.clone(), 0.1) < 1e-3  # twins identical, others orthogonal
    assert info_nce(a, a[[1, 2, 3, 0]], 0.1) > 1.0


def test_augment_is_seeded_and_changes_the_image() -> None:
    img = Image.effect_noise((120, 90), 50).convert("RGB")
    one, two = augment(img, random.Random(1)), augment(img, random.Random(1))
    assert np.array_equal(np.asarray(one), np.asarray(two))
    assert one.mode == "RGB"
    assert one.size != img.size or not np.array_equal(np.asarray(one), np.asarray(img))


def test_short_training_run_learns_and_saves_the_trained_network(tmp_path) -> None:
    out = str(tmp_path / "cnn.pt")
    cfg = TrainDescriptorConfig(
        out=out, procedural=12, input_size=32, batch=6, max_steps=25, width=8, workers=0
    )
    summary = train(cfg)
    assert summary["steps"] == 25 and summary["sources"] == 12
    # InfoNCE over 2 x 6 views: chance is ln(11) = 2.40; 25 steps bring the last 20 well below
    # the first batch's loss (measured 1.72 -> 0.97; an untrained or 2-step network does not)
    assert summary["last_loss"] < 0.75 * summary["first_loss"] < 0.75 * math.log(11)
    torch.manual_seed(cfg.seed)
    untrained = DescriptorNet(width=cfg.width).state_dict()
    saved = torch.jit.load(out).state_dict()
    assert any(not torch.equal(untrained[k], saved[k]) for k in untrained)  # the trained weights
    emb = make_embedder(EmbedConfig(kind="torchscript", model_path=out, input_size=32))
    vecs = emb.embed([Image.new("RGB", (50, 40), (200, 10, 10)), Image.effect_noise((50, 40), 60)])
    assert vecs.shape == (2, 128) and np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert vecs[0] @ vecs[1] < 0.999  # not a constant map
