"""The tokenizer is trained without the excluded keys: eval-set near-duplicates never reach it."""

from __future__ import annotations

import pytest

from train.config import DataConfig, TrainConfig
from train.dist import DistEnv
from train.prepare import prepare_tokenizer
from train.synthetic import write_tar

LEAK = "zqxjvk"  # a word only the excluded samples' captions hold


def _vocab_leaks(tmp_path, exclude: str) -> bool:
    members = []
    for i in range(40):
        members.append((f"keep{i:04d}.txt", f"a photo of a red circle number {i}".encode()))
        members.append((f"leak{i:04d}.txt", f"{LEAK} {LEAK} {LEAK}wq".encode()))
    write_tar(str(tmp_path / "00000.tar"), members)
    data = DataConfig(shards=(str(tmp_path / "00000.tar"),), exclude=exclude)
    cfg = TrainConfig(out=str(tmp_path / f"run-{bool(exclude)}"), data=data)
    tok = prepare_tokenizer(cfg, DistEnv(), vocab_size=400)
    return any("zq" in token for token in tok.tokenizer.get_vocab())


@pytest.mark.parametrize("excluded", [False, True])
def test_excluded_captions_do_not_shape_the_vocabulary(tmp_path, excluded):
    exclude = ""
    if excluded:
        keys = tmp_path / "keys.txt"
        keys.write_text("".join(f"leak{i:04d}\n" for i in range(40)))
        exclude = str(keys)
    assert _vocab_leaks(tmp_path, exclude) is not excluded
