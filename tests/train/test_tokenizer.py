"""The BPE caption tokenizer: framing, padding, truncation, save/load."""

from __future__ import annotations

import pytest
import torch

from train.tokenizer import EOT, PAD, SOT, CaptionTokenizer, load_tokenizer, train_tokenizer


def test_frames_pads_and_truncates(tokenizer: CaptionTokenizer) -> None:
    ids = tokenizer.encode_batch(["a red circle", "a photo of a " + "blue " * 30], 12)
    assert ids.shape == (2, 12) and ids.dtype == torch.long
    assert ids[0, 0] == SOT and EOT in ids[0].tolist() and ids[0, -1] == PAD
    assert ids[1, 0] == SOT and ids[1, -1] == EOT
    assert tokenizer.encode("a red circle", 12) == [t for t in ids[0].tolist() if t != PAD]


def test_learns_merges_and_lowercases(tokenizer: CaptionTokenizer) -> None:
    assert tokenizer.vocab_size <= 300
    assert len(tokenizer.encode("circle", 20)) == 3  # one merged token between SOT and EOT
    assert tokenizer.encode("A RED Circle", 20) == tokenizer.encode("a red circle", 20)


def test_unseen_text_and_unicode_do_not_fail(tokenizer: CaptionTokenizer) -> None:
    ids = tokenizer.encode("Ünïcödé 日本 \U0001f600", 40)
    assert ids[0] == SOT and ids[-1] == EOT and len(ids) > 3


def test_save_and_load_roundtrip(tokenizer: CaptionTokenizer, tmp_path) -> None:
    path = str(tmp_path / "tokenizer.json")
    tokenizer.save(path)
    again = load_tokenizer(path)
    assert torch.equal(
        again.encode_batch(["a green square"], 8), tokenizer.encode_batch(["a green square"], 8)
    )


def test_special_tokens_required() -> None:
    tok = train_tokenizer(["a b c"], 280)
    from tokenizers import Tokenizer

    with pytest.raises(ValueError):
        CaptionTokenizer(Tokenizer.from_str(tok.to_json().replace("<pad>", "<nop>")))
