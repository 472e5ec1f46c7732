"""Train a small copy-detection CNN with InfoNCE on augmented pairs (CLIP paper, Appendix C).

    python -m dedup.train_descriptor --photos DIR --out cnn.pt [--minutes 3] [--procedural 400]

Sources are photos (a folder of JPEGs, optionally only a slice of it so that a benchmark can
hold its own photos out) plus procedurally drawn pictures (`pipeline.sampleimages`). Each step
draws a batch of sources, makes two independently altered views of each (random crop, flip,
one or two of `dedup.transforms`' web alterations, a JPEG round trip) and minimises the
symmetric InfoNCE (NT-Xent) loss over the 2N views: a view's positive is its twin, every other
view in the batch is a negative. The result is saved as TorchScript, so it plugs into
`wit dedup --model cnn.pt --input-size 64` like any user-supplied descriptor (the embedder
feeds ImageNet-normalised squares and L2-normalises the output).
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import time
from dataclasses import dataclass

import torch
from PIL import Image, ImageOps
from torch import nn
from torch.nn import functional as F

from dedup import transforms
from dedup.descriptor import decode
from dedup.embed import _to_batch

__all__ = ["DescriptorNet", "TrainDescriptorConfig", "augment", "load_sources", "train"]

_ALTERATIONS = ("resize", "jpeg30", "rotate", "colour", "border", "text")


class DescriptorNet(nn.Module):
    """Five strided conv blocks, GeM pooling, a linear projection (1.5M parameters at width 32)."""

    def __init__(self, dim: int = 128, width: int = 32) -> None:
        super().__init__()
        chans = [3, width, width * 2, width * 4, width * 4, width * 8]
        layers: list[nn.Module] = []
        for cin, cout in zip(chans[:-1], chans[1:], strict=True):
            layers += [nn.Conv2d(cin, cout, 3, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
            layers += [nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
        self.features = nn.Sequential(*layers)
        self.proj = nn.Linear(chans[-1], dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) normalised images -> (N, dim) descriptors (not normalised)."""
        f = self.features(x).clamp(min=1e-6).pow(3.0).mean(dim=(2, 3)).pow(1.0 / 3.0)
        return self.proj(f)


@dataclass(frozen=True)
class TrainDescriptorConfig:
    """One descriptor training run."""

    out: str
    photos: str = ""
    photo_slice: tuple[int, int] = (0, 0)  # [start, stop) of the sorted photo list; (0, 0): all
    procedural: int = 400
    input_size: int = 64
    batch: int = 64
    minutes: float = 3.0
    max_steps: int = 0  # 0: until `minutes` run out
    lr: float = 2e-3
    width: int = 32
    workers: int = 1  # DataLoader workers making the augmented pairs
    temperature: float = 0.07
    seed: int = 0


def load_sources(cfg: TrainDescriptorConfig) -> list[Image.Image]:
    """The training pictures: the chosen photos and procedural pictures, shorter side ~96."""
    from pipeline.sampleimages import render_picture

    out = []
    if cfg.photos:
        files = sorted(f for f in os.listdir(cfg.photos) if f.lower().endswith((".jpg", ".jpeg")))
        start, stop = cfg.photo_slice
        for f in files[start : stop or None]:
            with open(os.path.join(cfg.photos, f), "rb") as fh:
                out.append(_shrink(decode(fh.read(), 96)))
    rng = random.Random(cfg.seed)
    for _ in range(cfg.procedural):
        w, h = rng.randint(96, 144), rng.randint(96, 144)
        out.append(render_picture(rng, w, h)[0].convert("RGB"))
    return out


def _shrink(img: Image.Image, side: int = 96) -> Image.Image:
    scale = side / min(img.size)
    if scale < 1:
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.BILINEAR)
    return img


def augment(img: Image.Image, rng: random.Random) -> Image.Image:
    """A web-style altered copy: crop, maybe flip, one or two alterations, JPEG round trip."""
    w, h = img.size
    keep = rng.uniform(0.75, 1.0)
    cw, ch = round(w * keep), round(h * keep * rng.uniform(0.9, 1.1))
    ch = min(ch, h)
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    img = img.crop((x, y, x + cw, y + ch))
    if rng.random() < 0.5:
        img = ImageOps.mirror(img)
    for name in rng.sample(_ALTERATIONS, rng.choice((0, 1, 1, 2))):
        img = transforms.TRANSFORMS[name](img, rng)
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=rng.randint(30, 95))
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def info_nce(a: torch.Tensor, b: torch.Tensor, temperature: float) -> torch.Tensor:
    """NT-Xent over 2N views: each view's positive is its twin, the other 2N - 2 negatives."""
    z = F.normalize(torch.cat([a, b]), dim=-1)
    sims = z @ z.T / temperature
    n = a.shape[0]
    sims.fill_diagonal_(float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return F.cross_entropy(sims, target)


def _batch(sources: list[Image.Image], cfg: TrainDescriptorConfig, rng: random.Random):  # type: ignore[no-untyped-def]
    picks = rng.sample(range(len(sources)), cfg.batch)
    views = [augment(sources[i], rng) for i in picks for _ in range(2)]
    x = torch.from_numpy(_to_batch(views, cfg.input_size))
    return x[0::2], x[1::2]


class _Pairs(torch.utils.data.IterableDataset):
    """Endless seeded batches of view pairs, made in a DataLoader worker beside the model."""

    def __init__(self, sources: list[Image.Image], cfg: TrainDescriptorConfig) -> None:
        self.sources, self.cfg = sources, cfg

    def __iter__(self):  # type: ignore[no-untyped-def]
        rng = random.Random(self.cfg.seed)
        while True:
            yield _batch(self.sources, self.cfg, rng)


def train(cfg: TrainDescriptorConfig) -> dict:
    """Train, save TorchScript to `cfg.out`, return a small summary."""
    torch.manual_seed(cfg.seed)
    sources = load_sources(cfg)
    batches = iter(torch.utils.data.DataLoader(_Pairs(sources, cfg), batch_size=None,
                                               num_workers=cfg.workers))  # fmt: skip
    model = DescriptorNet(width=cfg.width)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    t0, step, losses = time.perf_counter(), 0, []
    while (cfg.max_steps and step < cfg.max_steps) or (
        not cfg.max_steps and time.perf_counter() - t0 < cfg.minutes * 60
    ):
        a, b = next(batches)
        loss = info_nce(model(a), model(b), cfg.temperature)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        step += 1
        if step % 20 == 0:
            print(f"step {step} loss {sum(losses[-20:]) / 20:.3f}", file=sys.stderr)
    model.eval()
    torch.jit.script(model).save(cfg.out)
    return {"steps": step, "sources": len(sources), "seconds": time.perf_counter() - t0,
            "first_loss": losses[0], "last_loss": sum(losses[-20:]) / len(losses[-20:])}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--photos", default="")
    ap.add_argument("--photo-slice", default="0:0", help="START:STOP of the sorted photos")
    ap.add_argument("--procedural", type=int, default=400)
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--max-steps", type=int, default=0)
    ap.add_argument("--input-size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args(argv)
    start, _, stop = args.photo_slice.partition(":")
    cfg = TrainDescriptorConfig(
        out=args.out,
        photos=args.photos,
        photo_slice=(int(start or 0), int(stop or 0)),
        procedural=args.procedural,
        input_size=args.input_size,
        minutes=args.minutes,
        max_steps=args.max_steps,
        seed=args.seed,
        width=args.width,
        workers=args.workers,
    )
    print(train(cfg))
    return 0


if __name__ == "__main__":
    sys.exit(main())
