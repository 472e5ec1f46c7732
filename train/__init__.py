"""The bundled CLIP trainer: streams WebDataset shards (local or s3://) and trains with torchrun.

Run it as `wit train --shards ... --out DIR` or `torchrun --nproc_per_node N -m train ...`;
see docs/training.md.
"""

from train.config import DataConfig, ModelConfig, TrainConfig, load_model_config

__all__ = ["DataConfig", "ModelConfig", "TrainConfig", "load_model_config", "train"]


def train(cfg: TrainConfig) -> dict:
    """Run (or resume) a training job; see `train.loop.train`."""
    from train.loop import train as _train

    return _train(cfg)
