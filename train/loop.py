"""The training loop: `train(cfg)` runs a whole (possibly resumed, possibly torchrun) job.

    summary = train(TrainConfig(out="runs/tiny", data=DataConfig(shards=urls)))

Per step: normalise the uint8 batch on the device, forward under bf16 autocast on CUDA (fp32 on
CPU), ClipLoss over the global batch, AdamW, optional gradient clipping, schedule, temperature
clamp. Rank 0 prints a progress line, evaluates at each epoch end and writes checkpoints.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections import Counter
from collections.abc import Iterator

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from pipeline import storage
from pipeline.usage import UsageError
from train.checkpoint import save_checkpoint
from train.config import TrainConfig
from train.data import DataPosition, StreamingDataset, make_loader
from train.dist import DistEnv, all_true, barrier, cleanup, init_distributed, reduce_mean
from train.evaluate import evaluate, load_eval_set
from train.launch import check_finite
from train.loss import ClipLoss
from train.prepare import Run, prepare, unwrap
from train.shards import expand_urls
from train.transform import normalize

__all__ = ["train", "train_step"]


def train(cfg: TrainConfig) -> dict:
    """Run (or resume) a training job; returns a summary (also written to OUT/summary.json)."""
    env = init_distributed(cfg.device)
    try:
        if cfg.deterministic:
            torch.use_deterministic_algorithms(True)
        summary = _train(prepare(cfg, env), env)
        # Every rank finishes before any tears the group down: a rank leaving early closes its
        # gloo connections under a peer still reading them, and the peer aborts (SIGABRT).
        barrier(env)
        return summary
    finally:
        cleanup()


def _autocast(cfg: TrainConfig, env: DistEnv) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA (unless fp32 is asked for); nothing on CPU."""
    if env.device.type == "cuda" and cfg.precision != "fp32":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def train_step(run: Run, model: torch.nn.Module, batch: dict, env: DistEnv) -> torch.Tensor:
    """One optimiser step on one batch; returns the loss (a detached tensor: no host sync)."""
    images = normalize(batch["images"].to(env.device, non_blocking=True))
    tokens = batch["tokens"].to(env.device, non_blocking=True)
    with _autocast(run.cfg, env):
        image_f, text_f, scale = model(images, tokens)
        loss = ClipLoss()(image_f, text_f, scale)
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if run.cfg.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), run.cfg.grad_clip)
    run.optimizer.step()
    run.scheduler.step()
    unwrap(model).clamp_logit_scale()
    return loss.detach()


def _items(run: Run, env: DistEnv) -> Iterator[dict]:
    """Batches for this rank's current epoch, advancing its DataPosition as items arrive."""
    dataset = StreamingDataset(run.data, run.tokenizer, env.rank, env.world_size)
    position = run.positions[env.rank]
    if position.epoch != run.epoch:
        position = DataPosition(run.epoch)
    dataset.set_position(position)
    for item in make_loader(dataset):
        position = position.advance(item["worker"], dataset.workers)
        run.positions[env.rank] = position
        run.stats.update(item["stats"])
        if item["images"] is not None:
            yield item


def _epoch_limit(run: Run) -> int:
    """Steps after which an epoch ends even with data left (resampled or given); 0: none."""
    return run.steps_per_epoch if run.data.resampled or run.cfg.steps_per_epoch else 0


class _Meter:
    """Samples/s, time waiting on data, and the last loss, between two progress lines."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Start a new interval."""
        self.start = time.perf_counter()
        self.wait = 0.0
        self.samples = 0

    def line(self, run: Run, loss: float) -> str:
        """The progress line, and a reset."""
        elapsed = max(1e-9, time.perf_counter() - self.start)
        scale = float(run.model.logit_scale.detach().exp())
        text = (
            f"epoch {run.epoch} step {run.step}/{run.steps_per_epoch * run.cfg.epochs}"
            f" | {self.samples / elapsed:.1f} samples/s | data wait {self.wait / elapsed:.0%}"
            f" | loss {loss:.4f} | temperature {1 / scale:.4f} (scale {scale:.2f})"
            f" | lr {run.scheduler.get_last_lr()[0]:.2e}"
        )
        self.reset()
        return text


def _run_epoch(run: Run, model: torch.nn.Module, env: DistEnv) -> bool:
    """Train until this epoch's data (or step limit) ends; False if stopped early on request."""
    with contextlib.closing(_items(run, env)) as batches:  # closing stops the workers
        loss = _steps(run, model, env, batches)
    if loss is None:
        return False
    if run.step == 0:  # a model trained on nothing must not report "finished"
        raise UsageError(f"no training sample read from {len(run.data.shards)} shards")
    mean = reduce_mean(float(loss), env)
    check_finite(mean, run.step)
    run.history.append({"epoch": run.epoch, "step": run.step, "loss": mean})
    return True


def _steps(
    run: Run, model: torch.nn.Module, env: DistEnv, batches: Iterator[dict]
) -> torch.Tensor | None:
    """The step loop of one epoch; returns the last loss, or None when stopped on request."""
    limit, meter = _epoch_limit(run), _Meter()
    loss = torch.tensor(float("nan"))
    while not limit or run.epoch_step < limit:
        t0 = time.perf_counter()
        batch = next(batches, None)
        meter.wait += time.perf_counter() - t0
        if not all_true(batch is not None, env):
            break
        loss = train_step(run, model, batch, env)
        run.step, run.epoch_step = run.step + 1, run.epoch_step + 1
        meter.samples += len(batch["keys"]) * env.world_size
        if env.is_main and run.step % run.cfg.log_every == 0:
            check_finite(float(loss), run.step)
            print(meter.line(run, float(loss)), flush=True)
        if run.cfg.stop_after_steps and run.step >= run.cfg.stop_after_steps:
            _checkpoint(run, env)
            return None
        if run.cfg.save_every and run.step % run.cfg.save_every == 0:
            _checkpoint(run, env)
    return loss


def _gather(obj: object, env: DistEnv) -> list:
    """`obj` from every rank, in rank order."""
    if env.world_size == 1:
        return [obj]
    out: list = [None] * env.world_size
    dist.all_gather_object(out, obj)
    return out


def _checkpoint(run: Run, env: DistEnv) -> None:
    """Rank 0 writes the run's state with every rank's data position."""
    positions = _gather(run.positions[env.rank], env)
    stats = _gather(dict(run.stats), env)
    if env.is_main:
        state = {
            "model": unwrap(run.model).state_dict(),
            "optimizer": run.optimizer.state_dict(),
            "scheduler": run.scheduler.state_dict(),
            "step": run.step,
            "epoch": run.epoch,
            "epoch_step": run.epoch_step,
            "positions": positions,
            "stats": stats,
            "history": run.history,
            "model_config": run.model_cfg.to_dict(),
            "model_name": run.cfg.model,
        }
        path = save_checkpoint(run.cfg.out, state)
        print(f"checkpoint {path}", file=sys.stderr, flush=True)
    barrier(env)


def _evaluate(run: Run, env: DistEnv) -> None:
    """Zero-shot and retrieval on the held-out shards (rank 0), added to the history."""
    if env.is_main and run.cfg.eval_shards:
        urls = expand_urls(run.cfg.eval_shards)
        data = load_eval_set(urls, run.data.image_size, run.cfg.eval_samples)
        classes = _classes(run.cfg.classes)
        metrics = evaluate(unwrap(run.model), run.tokenizer, data, classes, env.device)
        run.history[-1].update(metrics)
        shown = " | ".join(f"{k} {v:.3f}" for k, v in metrics.items())
        print(f"eval epoch {run.epoch}: {shown}", flush=True)
    barrier(env)


def _classes(path: str) -> list[str]:
    """Zero-shot class names from a file (one per line), or [] for the held-out labels."""
    if not path:
        return []
    lines = storage.read_bytes(path).decode("utf-8").splitlines()
    return [line.strip() for line in lines if line.strip()]


def _train(run: Run, env: DistEnv) -> dict:
    """The epoch loop around `_run_epoch`, with evaluation and checkpoints."""
    model: torch.nn.Module = run.model
    if env.world_size > 1:
        ids = [env.device.index] if env.device.type == "cuda" else None
        model = DistributedDataParallel(run.model, device_ids=ids)
    started = time.perf_counter()
    while run.epoch < run.cfg.epochs:
        if not _run_epoch(run, model, env):
            return _summary(run, env, started, finished=False)
        _evaluate(run, env)
        run.epoch, run.epoch_step = run.epoch + 1, 0
        run.positions = [DataPosition(run.epoch)] * env.world_size
        _checkpoint(run, env)
    return _summary(run, env, started, finished=True)


def _summary(run: Run, env: DistEnv, started: float, finished: bool) -> dict:
    """What the run did; rank 0 writes it to OUT/summary.json."""
    stats = sum((Counter(s) for s in _gather(dict(run.stats), env)), Counter())
    summary = {
        "finished": finished,
        "step": run.step,
        "epoch": run.epoch,
        "seconds": time.perf_counter() - started,
        "history": run.history,
        "data": dict(sorted(stats.items())),
        "world_size": env.world_size,
        "model": run.cfg.model,
    }
    if env.is_main:
        text = json.dumps(summary, indent=1, sort_keys=True)
        storage.write_bytes(storage.join(run.cfg.out, "summary.json"), text.encode())
    return summary
