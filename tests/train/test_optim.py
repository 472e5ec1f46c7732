"""AdamW parameter groups and the cosine schedule with warm-up."""

from __future__ import annotations

import pytest

from train.config import TrainConfig, load_model_config
from train.model import create_model
from train.optim import CosineWithWarmup, create_optimizer, param_groups


def test_no_weight_decay_on_gains_biases_and_temperature() -> None:
    model = create_model(load_model_config("tiny").with_vocab(300), seed=0)
    decay, no_decay = param_groups(model, 0.2)
    names = {id(p): n for n, p in model.named_parameters()}
    no_decay_names = {names[id(p)] for p in no_decay["params"]}
    decay_names = {names[id(p)] for p in decay["params"]}
    assert "logit_scale" in no_decay_names
    assert all(p.ndim >= 2 for p in decay["params"])
    assert not any("bias" in n or "ln" in n for n in decay_names)
    assert "visual.conv1.weight" in decay_names and "text.text_projection" in decay_names
    assert (decay["weight_decay"], no_decay["weight_decay"]) == (0.2, 0.0)
    assert len(decay_names) + len(no_decay_names) == len(list(model.parameters()))


def test_adamw_uses_clip_hyperparameters() -> None:
    model = create_model(load_model_config("tiny").with_vocab(300), seed=0)
    opt = create_optimizer(model, TrainConfig(out="x"))
    assert opt.defaults["betas"] == (0.9, 0.98) and opt.defaults["eps"] == 1e-6


def test_cosine_with_warmup() -> None:
    sched = CosineWithWarmup(warmup=10, total=110)
    assert sched(0) == pytest.approx(0.1)
    assert sched(9) == pytest.approx(1.0)
    assert sched(60) == pytest.approx(0.5)
    assert sched(110) == pytest.approx(0.0, abs=1e-12)
    assert sched(500) == pytest.approx(0.0, abs=1e-12)
    values = [sched(s) for s in range(10, 111)]
    assert values == sorted(values, reverse=True)
