"""Everything a run needs before its first step: tokenizer, model, optimiser, schedule, resume.

`prepare(cfg, env)` returns a `Run` whose fields the loop mutates; with `cfg.resume` set it is
restored from a checkpoint (weights, optimiser, scheduler, step, data positions, RNG).
"""

from __future__ import annotations

import itertools
import sys
from collections import Counter
from dataclasses import dataclass, field, replace

import torch
from torch import nn

from pipeline import storage
from pipeline.usage import UsageError
from train.checkpoint import load_checkpoint, resolve_resume, restore_rng
from train.config import DataConfig, ModelConfig, TrainConfig, load_model_config
from train.data import DataPosition, load_exclusion
from train.dist import DistEnv, barrier
from train.model import CLIP, create_model
from train.optim import create_optimizer, create_scheduler
from train.shards import count_samples, iter_samples
from train.tokenizer import CaptionTokenizer, load_tokenizer, train_tokenizer

__all__ = ["Run", "prepare", "prepare_tokenizer", "captions", "steps_per_epoch"]

TOKENIZER_CAPTIONS = 200_000  # captions read to train a tokenizer (from the first shards)


@dataclass
class Run:
    """The mutable state of a run (what a checkpoint holds, plus live objects)."""

    cfg: TrainConfig
    data: DataConfig
    model_cfg: ModelConfig
    model: CLIP
    tokenizer: CaptionTokenizer
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    steps_per_epoch: int
    step: int = 0
    epoch: int = 0
    epoch_step: int = 0
    positions: list[DataPosition] = field(default_factory=list)  # one per rank
    stats: Counter[str] = field(default_factory=Counter)
    history: list[dict] = field(default_factory=list)


def captions(urls: list[str], limit: int, exclude: frozenset[str] = frozenset()) -> list[str]:
    """Up to `limit` captions from the shards, in order, skipping the `exclude` keys (the
    eval-set near-duplicates must not reach the vocabulary either)."""
    stats: Counter[str] = Counter()
    samples = (s for url in urls for s in iter_samples(url, stats))
    texts = (
        s["txt"].decode("utf-8", "replace")
        for s in samples
        if "txt" in s and s["__key__"] not in exclude
    )
    return list(itertools.islice(texts, limit))


def prepare_tokenizer(cfg: TrainConfig, env: DistEnv, vocab_size: int) -> CaptionTokenizer:
    """The given tokenizer.json, the run's saved one, or one trained now by rank 0 and saved."""
    saved = storage.join(cfg.out, "tokenizer.json")
    if cfg.tokenizer:
        tok = load_tokenizer(cfg.tokenizer)
        if env.is_main:
            tok.save(saved)
        return tok
    if env.is_main and not storage.exists(saved):
        exclude = load_exclusion(cfg.data.exclude)
        texts = captions(list(cfg.data.shards), TOKENIZER_CAPTIONS, exclude)
        if not texts:
            raise UsageError(f"no captions in the {len(cfg.data.shards)} shards given (all empty?)")
        train_tokenizer(texts, vocab_size).save(saved)
        print(f"trained a BPE tokenizer on {len(texts)} captions -> {saved}", file=sys.stderr)
    barrier(env)
    return load_tokenizer(saved)


def steps_per_epoch(cfg: TrainConfig, env: DistEnv) -> int:
    """Optimiser steps per epoch: given, or samples (sizes.json) / global batch."""
    if cfg.steps_per_epoch > 0:
        return cfg.steps_per_epoch
    total = count_samples(list(cfg.data.shards))
    return max(1, total // (cfg.data.batch_size * env.world_size))


def _build(cfg: TrainConfig, env: DistEnv) -> Run:
    """A fresh run: tokenizer, seeded model on the device, optimiser and schedule."""
    base = load_model_config(cfg.model)
    tok = prepare_tokenizer(cfg, env, base.text.vocab_size)
    model_cfg = base.with_vocab(tok.vocab_size)
    model = create_model(model_cfg, seed=cfg.data.seed).to(env.device)
    data = replace(
        cfg.data,
        image_size=model_cfg.vision.image_size,
        context_length=model_cfg.text.context_length,
    )
    optimizer = create_optimizer(model, cfg)
    per_epoch = steps_per_epoch(cfg, env)
    scheduler = create_scheduler(optimizer, cfg.warmup_steps, per_epoch * cfg.epochs)
    positions = [DataPosition(0)] * env.world_size
    return Run(
        cfg, data, model_cfg, model, tok, optimizer, scheduler, per_epoch, positions=positions
    )


def _restore(run: Run, path: str, env: DistEnv) -> None:
    """Load a checkpoint into `run`."""
    state = load_checkpoint(path)
    run.model.load_state_dict(state["model"])
    run.optimizer.load_state_dict(state["optimizer"])
    run.scheduler.load_state_dict(state["scheduler"])
    run.step, run.epoch, run.epoch_step = state["step"], state["epoch"], state["epoch_step"]
    run.history = list(state.get("history", []))
    positions, stats = state["positions"], state.get("stats", [])
    if len(positions) != env.world_size:
        print("world size changed: this epoch's data restarts", file=sys.stderr)
        positions, stats = [DataPosition(run.epoch)] * env.world_size, []
    run.positions = positions
    run.stats = Counter(stats[env.rank] if len(stats) == env.world_size else {})
    restore_rng(state["rng"])


def prepare(cfg: TrainConfig, env: DistEnv) -> Run:
    """Build a run, restoring it from `cfg.resume` when given."""
    if not cfg.data.shards:
        raise UsageError("no shards given")
    run = _build(cfg, env)
    readers = env.world_size * max(1, cfg.data.workers)
    if not cfg.data.resampled and len(cfg.data.shards) % readers and env.is_main:
        print(
            f"warning: {len(cfg.data.shards)} shards over {readers} readers (ranks x workers) split"
            " unevenly; an epoch ends when the first rank runs dry (or use --resampled)",
            file=sys.stderr,
        )
    path = resolve_resume(cfg.resume, cfg.out) if cfg.resume else ""
    if path:
        _restore(run, path, env)
        if env.is_main:
            print(f"resumed from {path} at step {run.step}", file=sys.stderr)
    return run


def unwrap(model: nn.Module) -> CLIP:
    """The CLIP module inside a DDP wrapper."""
    return getattr(model, "module", model)  # type: ignore[return-value]
