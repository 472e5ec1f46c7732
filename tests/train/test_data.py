"""The streaming loader: split by rank and worker, exclusions, corrupt samples, exact replay."""

from __future__ import annotations

import itertools
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from train.config import DataConfig
from train.data import DataPosition, StreamingDataset, assign_shards, load_exclusion, make_loader
from train.shards import iter_samples
from train.synthetic import write_concept_shards, write_tar


def _cfg(urls: list[str], **kw) -> DataConfig:
    base = dict(
        shards=tuple(urls),
        batch_size=8,
        image_size=16,
        context_length=12,
        workers=2,
        shuffle_buffer=20,
    )
    return DataConfig(**{**base, **kw})


def _items(ds: StreamingDataset) -> list[dict]:
    return list(make_loader(ds))


def _keys(items: list[dict]) -> list[str]:
    return [k for item in items if item["images"] is not None for k in item["keys"]]


def _stats(items: list[dict]) -> Counter[str]:
    return sum((Counter(item["stats"]) for item in items), Counter())


def test_assign_shards_is_disjoint_complete_and_reshuffled() -> None:
    urls = [f"s{i}" for i in range(13)]
    orders = []
    for epoch in range(3):
        parts = [assign_shards(urls, epoch, 7, r, 2, w, 3) for r in range(2) for w in range(3)]
        flat = [u for part in parts for u in part]
        assert sorted(flat) == sorted(urls) and len(flat) == len(set(flat))
        orders.append(flat)
    assert orders[0] != orders[1]
    assert assign_shards(urls, 0, 7, 0, 1, 0, 1, shuffle=False) == urls


def test_ranks_and_workers_read_every_sample_once(shard_urls, tokenizer) -> None:
    keys = []
    for rank in range(2):
        items = _items(StreamingDataset(_cfg(shard_urls), tokenizer, rank=rank, world_size=2))
        assert {item["worker"] for item in items} == {0, 1}
        keys += _keys(items)
    all_keys = {s["__key__"] for u in shard_urls for s in iter_samples(u, Counter())}
    assert len(keys) == len(set(keys)) == len(all_keys) == 192
    assert set(keys) == all_keys


def test_batches_have_images_tokens_and_keys(shard_urls, tokenizer) -> None:
    batch = next(iter(make_loader(StreamingDataset(_cfg(shard_urls, workers=0), tokenizer))))
    assert (
        tuple(batch["images"].shape) == (8, 16, 16, 3)
        and str(batch["images"].dtype) == "torch.uint8"
    )
    assert tuple(batch["tokens"].shape) == (8, 12) and len(batch["keys"]) == 8


@pytest.mark.parametrize("suffix", ["txt", "parquet"])
def test_exclusion_list_is_honoured(shard_urls, tokenizer, tmp_path, suffix: str) -> None:
    some = sorted(s["__key__"] for s in iter_samples(shard_urls[1], Counter()))[:5]
    path = tmp_path / f"exclude.{suffix}"
    if suffix == "txt":
        path.write_text("# dedup exclusions\n" + "\n".join(some) + "\n\n")
    else:
        pq.write_table(pa.table({"key": some, "similarity": [0.9] * 5}), str(path))
    assert load_exclusion(str(path)) == frozenset(some)
    items = _items(StreamingDataset(_cfg(shard_urls, exclude=str(path), batch_size=1), tokenizer))
    assert not set(some) & set(_keys(items))
    assert _stats(items)["excluded"] == 5 and len(_keys(items)) == 187


def test_corrupt_and_incomplete_samples_are_skipped_and_counted(
    shard_urls, tokenizer, tmp_path
) -> None:
    good = list(iter_samples(shard_urls[0], Counter()))[:6]
    members = []
    for i, s in enumerate(good):
        jpg = s["jpg"][:100] if i == 1 else b"garbage" if i == 2 else s["jpg"]
        if i != 3:
            members.append((f"{s['__key__']}.jpg", jpg))
        members.append((f"{s['__key__']}.txt", s["txt"]))
    bad = str(tmp_path / "bad.tar")
    write_tar(bad, members)
    items = _items(StreamingDataset(_cfg([bad], batch_size=1, workers=0), tokenizer))
    stats = _stats(items)
    assert (stats["corrupt_sample"], stats["incomplete_sample"], stats["samples"]) == (2, 1, 3)
    assert len(_keys(items)) == 3


def _replay_matches(urls, tokenizer, workers: int, cut: int) -> None:
    cfg = _cfg(urls, workers=workers, batch_size=4, seed=3)
    ds = StreamingDataset(cfg, tokenizer)
    ds.set_position(DataPosition(epoch=2))
    full = _items(ds)
    position = DataPosition(epoch=2)
    for item in full[:cut]:
        position = position.advance(item["worker"], ds.workers)
    resumed = StreamingDataset(cfg, tokenizer)
    resumed.set_position(position)
    rest = _items(resumed)
    assert [i.get("keys") for i in rest] == [i.get("keys") for i in full[cut:]]
    for a, b in zip(rest, full[cut:], strict=True):
        if a["images"] is not None:
            assert a["images"].equal(b["images"]) and a["tokens"].equal(b["tokens"])


@pytest.mark.filterwarnings("ignore:This DataLoader will create")
@pytest.mark.parametrize("workers,cut", [(0, 5), (2, 1), (2, 6), (3, 7)])
def test_resume_position_replays_the_rest_exactly(
    tmp_path, tokenizer, workers: int, cut: int
) -> None:
    urls = write_concept_shards(
        str(tmp_path), shards=5, per_shard=10, seed=4, size=24
    )  # uneven split
    _replay_matches(urls, tokenizer, workers, cut)


def test_epochs_differ_and_repeat(shard_urls, tokenizer) -> None:
    def order(epoch: int) -> list[str]:
        ds = StreamingDataset(_cfg(shard_urls, workers=0), tokenizer)
        ds.set_position(DataPosition(epoch))
        return _keys(_items(ds))

    assert order(0) == order(0) and order(0) != order(1)


def test_resampled_mode_is_endless(shard_urls, tokenizer) -> None:
    ds = StreamingDataset(
        _cfg(shard_urls[:1], resampled=True, workers=0, shuffle_buffer=4), tokenizer
    )
    batches = list(itertools.islice(iter(ds), 15))  # 120 samples from a 48-sample shard
    assert all(b["images"] is not None for b in batches)
    assert len(set(_keys(batches))) <= 48
