"""A byte-level BPE tokenizer for captions (HuggingFace `tokenizers`), trained or loaded.

    tok = train_tokenizer(captions, vocab_size=1000)
    tok.save("out/tokenizer.json")
    ids = tok.encode_batch(["a red circle"], context_length=77)  # LongTensor (1, 77)

Ids 0, 1, 2 are `<pad>`, `<start_of_text>`, `<end_of_text>`; a caption becomes
`[sot] + bpe(caption)[: context_length - 2] + [eot]` padded with 0 (the text tower reads the
state at the last non-pad position).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

__all__ = ["CaptionTokenizer", "train_tokenizer", "load_tokenizer", "SPECIAL_TOKENS"]

SPECIAL_TOKENS = ["<pad>", "<start_of_text>", "<end_of_text>"]
PAD, SOT, EOT = 0, 1, 2


class CaptionTokenizer:
    """Wraps a `tokenizers.Tokenizer` with CLIP's framing and fixed-length padding."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer
        for i, tok in enumerate(SPECIAL_TOKENS):
            if tokenizer.token_to_id(tok) != i:
                raise ValueError(f"tokenizer must map {tok} to id {i}")

    @property
    def vocab_size(self) -> int:
        """Number of ids, special tokens included."""
        return self.tokenizer.get_vocab_size()

    def to_json(self) -> str:
        """The tokenizer as a JSON string (picklable, for DataLoader workers)."""
        return self.tokenizer.to_str()

    @classmethod
    def from_json(cls, data: str) -> CaptionTokenizer:
        """Inverse of `to_json`."""
        return cls(Tokenizer.from_str(data))

    def save(self, path: str) -> None:
        """Write `tokenizer.json` (local or s3://)."""
        from pipeline import storage

        storage.write_bytes(path, self.to_json().encode("utf-8"))

    def encode(self, text: str, context_length: int) -> list[int]:
        """Framed ids of one caption, truncated to `context_length` (not padded)."""
        ids = self.tokenizer.encode(text, add_special_tokens=False).ids
        return [SOT, *ids[: context_length - 2], EOT]

    def encode_batch(self, texts: list[str], context_length: int) -> torch.Tensor:
        """A (len(texts), context_length) LongTensor, zero-padded."""
        out = torch.zeros(len(texts), context_length, dtype=torch.long)
        encodings = self.tokenizer.encode_batch(texts, add_special_tokens=False)
        for row, enc in enumerate(encodings):
            ids = [SOT, *enc.ids[: context_length - 2], EOT]
            out[row, : len(ids)] = torch.tensor(ids)
        return out


def _empty_tokenizer() -> Tokenizer:
    """An untrained byte-level BPE with lower-casing and NFC normalisation."""
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.decoder = decoders.ByteLevel()
    return tok


def train_tokenizer(captions: Iterable[str], vocab_size: int) -> CaptionTokenizer:
    """Train a BPE tokenizer of at most `vocab_size` ids on `captions`."""
    tok = _empty_tokenizer()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(captions, trainer=trainer)
    return CaptionTokenizer(tok)


def load_tokenizer(path: str) -> CaptionTokenizer:
    """Load a `tokenizer.json` (local or s3://)."""
    from pipeline import storage

    return CaptionTokenizer.from_json(storage.read_bytes(path).decode("utf-8"))
