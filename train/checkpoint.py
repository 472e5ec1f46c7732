"""Checkpoints that resume exactly: model, optimiser, scheduler, step, data position and RNG.

Written atomically through `pipeline.storage` (local or s3://) as `OUT/checkpoints/step_N.pt`,
with `latest.pt` beside it (a copy, since S3 has no links).
"""

from __future__ import annotations

import dataclasses
import io
import pickle
import random
from typing import Any

import numpy as np
import torch

from pipeline import storage
from pipeline.usage import UsageError
from train.data import DataPosition

__all__ = ["capture_rng", "restore_rng", "save_checkpoint", "load_checkpoint", "resolve_resume"]


def capture_rng() -> dict[str, Any]:
    """Every RNG state a training step may touch."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Inverse of `capture_rng`."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(out: str, state: dict[str, Any]) -> str:
    """Write `state` (`step`, `positions`: a DataPosition per rank, ...) as step_N.pt, latest.pt."""
    positions = [dataclasses.asdict(p) for p in state["positions"]]
    payload = dict(state, positions=positions, rng=capture_rng())
    buf = io.BytesIO()
    torch.save(payload, buf)
    path = storage.join(out, "checkpoints", f"step_{state['step']:08d}.pt")
    storage.write_bytes(path, buf.getvalue())
    storage.write_bytes(storage.join(out, "checkpoints", "latest.pt"), buf.getvalue())
    return path


def load_checkpoint(path: str) -> dict[str, Any]:
    """Read a checkpoint (on CPU) with `positions` as DataPositions; RNG not yet restored."""
    try:
        state = torch.load(
            io.BytesIO(storage.read_bytes(path)), map_location="cpu", weights_only=False
        )
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError) as err:
        raise UsageError(f"{path}: not a `wit train` checkpoint ({err})") from None
    if not isinstance(state, dict) or not {"model", "positions", "step"} <= state.keys():
        raise UsageError(f"{path}: not a `wit train` checkpoint (no model, step or positions)")
    state["positions"] = [
        DataPosition(p["epoch"], tuple(p["taken"]), p["next_worker"]) for p in state["positions"]
    ]
    return state


def resolve_resume(resume: str, out: str) -> str:
    """The checkpoint to resume from: a path, or `latest` (empty if there is none yet)."""
    if resume != "latest":
        return resume
    path = storage.join(out, "checkpoints", "latest.pt")
    return path if storage.exists(path) else ""
