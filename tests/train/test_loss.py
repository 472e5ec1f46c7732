"""ClipLoss: symmetric, equal to a loop-by-loop reference, and exact under 2-rank gather."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from train.loss import ClipLoss


def naive_clip_loss(image: torch.Tensor, text: torch.Tensor, scale: float) -> float:
    """Reference: mean over pairs of -log softmax, rows and columns, one element at a time."""
    n = image.shape[0]
    sims = [[scale * float(image[i] @ text[j]) for j in range(n)] for i in range(n)]
    total = 0.0
    for i in range(n):
        row = torch.tensor(sims[i], dtype=torch.float64)
        col = torch.tensor([sims[j][i] for j in range(n)], dtype=torch.float64)
        total += float(torch.logsumexp(row, 0) - row[i] + torch.logsumexp(col, 0) - col[i])
    return total / (2 * n)


def _features(n: int = 6, d: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(n, d, generator=g), dim=-1), F.normalize(
        torch.randn(n, d, generator=g), dim=-1
    )


def test_matches_naive_reference() -> None:
    image, text = _features()
    loss = ClipLoss()(image, text, torch.tensor(14.3))
    assert float(loss) == pytest.approx(naive_clip_loss(image, text, 14.3), rel=1e-5)


def test_symmetric_in_image_and_text() -> None:
    image, text = _features()
    scale = torch.tensor(10.0)
    assert float(ClipLoss()(image, text, scale)) == pytest.approx(
        float(ClipLoss()(text, image, scale))
    )


def test_perfect_alignment_gives_low_loss() -> None:
    image, _ = _features(n=4, d=16)
    assert float(ClipLoss()(image, image, torch.tensor(100.0))) < 0.05


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_grads(rank: int, world: int, port: int, queue: mp.Queue) -> None:
    """One rank: local half of the batch, gathered loss, DDP-style averaged gradients."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(0)
    layer = torch.nn.Linear(8, 8)
    x, y = _features(n=8)
    rows = slice(rank * 4, rank * 4 + 4)
    loss = ClipLoss()(
        F.normalize(layer(x[rows]), dim=-1), F.normalize(layer(y[rows]), dim=-1), torch.tensor(10.0)
    )
    loss.backward()
    grad = layer.weight.grad.clone()
    dist.all_reduce(grad)
    queue.put((rank, (grad / world).tolist()))
    dist.destroy_process_group()


def test_two_rank_gather_with_grad_equals_global_batch() -> None:
    ctx = mp.get_context("spawn")
    queue, port = ctx.Queue(), _free_port()
    procs = [ctx.Process(target=_rank_grads, args=(r, 2, port, queue)) for r in range(2)]
    for p in procs:
        p.start()
    grads = dict(queue.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(timeout=30)
    torch.manual_seed(0)
    layer = torch.nn.Linear(8, 8)
    x, y = _features(n=8)
    ClipLoss()(
        F.normalize(layer(x), dim=-1), F.normalize(layer(y), dim=-1), torch.tensor(10.0)
    ).backward()
    assert torch.allclose(torch.tensor(grads[0]), layer.weight.grad, atol=1e-6)
    assert torch.allclose(torch.tensor(grads[1]), layer.weight.grad, atol=1e-6)
