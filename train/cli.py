"""`wit train`: parse flags into a TrainConfig and run the trainer.

    wit train --shards 'wit-demo/shards/{00000..00003}.tar' --config tiny --out runs/tiny
    torchrun --nproc_per_node 2 -m train --shards 's3://bucket/shards/{00000..09999}.tar' ...

`python -m train ...` takes the same flags (torchrun launches it as a module).
"""

from __future__ import annotations

import argparse
import json
import sys

from pipeline.usage import Parser, above, at_least, quiet_logging, run_cli
from train.config import DataConfig, TrainConfig, available_configs

__all__ = ["register", "add_arguments", "config_from_args", "main"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The trainer's flags."""
    p.add_argument(
        "--shards", nargs="+", required=True, help="shard URLs/patterns ({a..b}, *, s3://)"
    )
    p.add_argument(
        "--out", required=True, help="run folder (local or s3://): checkpoints, tokenizer"
    )
    p.add_argument(
        "--config", default="tiny", help=f"model: {', '.join(available_configs())} or a .json"
    )
    p.add_argument("--epochs", type=at_least(1), default=1)
    p.add_argument("--batch-size", type=at_least(1), default=32, help="per rank")
    p.add_argument("--lr", type=above(0), default=5e-4, help="peak learning rate")
    p.add_argument("--wd", type=at_least(0, float), default=0.2, help="weight decay")
    p.add_argument("--warmup", type=at_least(0), default=100, help="warm-up steps")
    p.add_argument(
        "--grad-clip", type=at_least(0, float), default=0.0, help="max grad norm; 0 = off"
    )
    p.add_argument("--workers", type=at_least(0), default=2, help="DataLoader workers per rank")
    p.add_argument("--seed", type=at_least(0), default=0)
    p.add_argument("--shuffle-buffer", type=at_least(1), default=1000)
    p.add_argument("--resampled", action="store_true", help="draw shards with replacement, endless")
    p.add_argument("--steps-per-epoch", type=at_least(0), default=0, help="0 = from sizes.json")
    p.add_argument("--exclude", default="", help="keys to skip (.txt or .parquet with `key`)")
    p.add_argument("--tokenizer", default="", help="a tokenizer.json (else one is trained)")
    p.add_argument("--resume", default="", help="checkpoint path, or 'latest'")
    p.add_argument(
        "--stop-after-steps", type=at_least(0), default=0, help="checkpoint and stop at step N"
    )
    p.add_argument("--save-every", type=at_least(0), default=0, help="checkpoint every N steps")
    p.add_argument("--log-every", type=at_least(1), default=10)
    p.add_argument("--eval-shards", nargs="*", default=[], help="held-out shards for evaluation")
    p.add_argument("--eval-samples", type=at_least(1), default=1000)
    p.add_argument("--classes", default="", help="zero-shot class names, one per line")
    p.add_argument("--device", default="", help="cpu, cuda, cuda:1 (default: cuda if present)")
    p.add_argument("--precision", choices=["auto", "fp32"], default="auto")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The typed config; from here on nothing reads `args`."""
    from train.shards import expand_urls

    data = DataConfig(
        shards=tuple(expand_urls(args.shards)),
        batch_size=args.batch_size,
        workers=args.workers,
        seed=args.seed,
        shuffle_buffer=args.shuffle_buffer,
        resampled=args.resampled,
        exclude=args.exclude,
    )
    return TrainConfig(
        out=args.out,
        model=args.config,
        epochs=args.epochs,
        lr=args.lr,
        weight_decay=args.wd,
        warmup_steps=args.warmup,
        grad_clip=args.grad_clip,
        steps_per_epoch=args.steps_per_epoch,
        stop_after_steps=args.stop_after_steps,
        log_every=args.log_every,
        save_every=args.save_every,
        resume=args.resume,
        tokenizer=args.tokenizer,
        eval_shards=tuple(args.eval_shards),
        eval_samples=args.eval_samples,
        classes=args.classes,
        device=args.device,
        precision=args.precision,
        data=data,
    )


def _handler(args: argparse.Namespace, extra: list[str]) -> int:
    """Run the trainer from parsed flags."""
    from train.launch import check_train

    cfg = config_from_args(args)
    check_train(cfg, args.shards)  # before torch is imported: a mistake is reported at once
    from train.loop import train

    summary = train(cfg)
    if summary.get("history"):
        print(json.dumps(summary["history"][-1], sort_keys=True))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `wit train` to the `wit` command."""
    p = subparsers.add_parser("train", help="train a CLIP model on the shards (torchrun-ready)")
    add_arguments(p)
    p.set_defaults(func=_handler)


def main(argv: list[str] | None = None) -> int:
    """`python -m train` (what torchrun launches)."""
    quiet_logging()
    parser = Parser(prog="python -m train", description=__doc__)
    add_arguments(parser)
    return run_cli(lambda: _handler(parser.parse_args(argv), []), "python -m train")


if __name__ == "__main__":
    sys.exit(main())
