"""The cost model of the full job: measured per-core rates + stated assumptions -> core-hours, money.

`print_model(rates)` prints the funnel, core-hours per stage, the bottleneck and the bill as
markdown tables (docs/scale.md holds one run's output). Every number that is not measured by
bench/scale.py is a field of `Assumptions`, with where it comes from.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Assumptions", "funnel", "stage_core_hours", "bill", "print_model"]


@dataclass(frozen=True)
class Assumptions:
    """Inputs of the model that this machine cannot measure (override them to re-plan)."""

    candidates: float = 10e9  # image-alt candidates in (a few Common Crawl dumps)
    # image links per WAT file: cc2dataset's README counts ~1T image links (empty alts included)
    # and ~300B with alt text after dedup over Common Crawl's ~5M WAT files: 200k and 60k per file
    candidates_per_wat: float = 200_000
    wat_gb: float = 0.27  # compressed size of one WAT file (dumps: ~90k WAT files, ~24 TiB)
    keep_text: float = 0.55  # caption/URL filters (about half of web <img> have no useful alt)
    keep_url_dedup: float = 0.5  # the same image URL recurs across pages and dumps
    keep_match: float = 0.5  # captions containing one of the 500k queries
    download_ok: float = 0.65  # img2dataset-like success rate on old Common Crawl links
    keep_image_dedup: float = 0.95
    target: float = 400e6  # balanced pairs out
    original_kb: float = 110.0  # mean downloaded image (the imagenet photos here: ~107 kB)
    anchor_download_per_core: float = 100.0  # img2dataset: ~100 images/s per core on the real web
    vcpu_hour: float = 0.056  # Dataflow batch vCPU-hour, us-central1 list price
    gb_hour: float = 0.003557  # Dataflow batch memory GB-hour
    gb_per_vcpu: float = 4.0  # n2-standard workers
    shuffle_gb: float = 0.011  # Dataflow Shuffle, per GB processed (batch)
    nat_gb: float = 0.045  # Cloud NAT / AWS NAT gateway data processing per GB (downloads)
    storage_gb_month: float = 0.023  # S3 Standard (or GCS Standard ~0.020)
    spot_vcpu_hour: float = 0.015  # e.g. c7i/c6i spot on AWS, per vCPU-hour (varies)
    record_kb: float = 0.5  # a record without image bytes, through a shuffle


def funnel(a: Assumptions) -> dict[str, float]:
    """Records entering each stage; the balancing cap is set so `target` survives download."""
    after_match = a.candidates * a.keep_text * a.keep_url_dedup * a.keep_match
    downloads = a.target / (a.download_ok * a.keep_image_dedup)
    return {
        "read": a.candidates,
        "filter_text": a.candidates,
        "dedup_url": a.candidates * a.keep_text,
        "match_queries": a.candidates * a.keep_text * a.keep_url_dedup,
        "language": after_match,
        "balance": after_match,
        "download": min(downloads, after_match),
        "write_shards": a.target,
        "embed (dedup)": a.target,
    }


def stage_core_hours(rates: dict[str, float], a: Assumptions) -> dict[str, tuple[float, str]]:
    """(core-hours, rate used) per stage; the text path from the measured end-to-end job."""
    n = funnel(a)
    dl_rate = min(rates["download_images_per_cpu_s"], a.anchor_download_per_core)
    shard_mb = a.target * rates["sample_kb"] / 1000
    job_us = rates["job_us_per_candidate"]
    return {
        "read -> match (whole job, Beam included)": (
            n["read"] * job_us / 1e6 / 3600,
            f"{job_us:.0f} µs per candidate, measured end to end",
        ),
        "language": (n["language"] / rates["language_captions_per_s"] / 3600, "measured"),
        "download+resize": (n["download"] / dl_rate / 3600, f"{dl_rate:.0f} images/s per core"),
        "write_shards": (shard_mb / rates["shard_mb_per_s"] / 3600, "measured"),
        "embed (dedup, CPU)": (a.target / rates["embed_images_per_s"] / 3600, "measured"),
    }


def _shuffle_gb(rates: dict[str, float], a: Assumptions) -> float:
    n = funnel(a)
    records = n["dedup_url"] + 2 * n["balance"]  # DedupUrls, BalanceByQuery (votes + join)
    with_images = 2 * n["download"] * a.download_ok  # DedupImages and WriteShards carry image bytes
    return (records * a.record_kb + with_images * (rates["sample_kb"] + a.record_kb)) / 1e6


def bill(rates: dict[str, float], a: Assumptions) -> dict[str, float]:
    """Dollars per line item (list prices in `Assumptions`)."""
    core_hours = sum(h for h, _ in stage_core_hours(rates, a).values())
    out_gb = a.target * rates["sample_kb"] / 1e6
    return {
        "core_hours": core_hours,
        "dataflow_vcpu": core_hours * a.vcpu_hour,
        "dataflow_memory": core_hours * a.gb_per_vcpu * a.gb_hour,
        "dataflow_shuffle": _shuffle_gb(rates, a) * a.shuffle_gb,
        "nat_downloads": funnel(a)["download"] * a.original_kb / 1e6 * a.nat_gb,
        "storage_per_month": out_gb * a.storage_gb_month,
        "spot_vcpu_alternative": core_hours * a.spot_vcpu_hour,
        "output_tb": out_gb / 1000,
        "shuffle_tb": _shuffle_gb(rates, a) / 1000,
    }


def print_model(rates: dict[str, float], a: Assumptions = Assumptions()) -> None:
    """Print the funnel, core-hours per stage and the bill as markdown."""
    hours = stage_core_hours(rates, a)
    total = sum(h for h, _ in hours.values())
    print("| stage | records in | core-hours | share | rate used |\n|---|---:|---:|---:|---|")
    n = funnel(a)
    ins = [n["read"], n["language"], n["download"], a.target, a.target]
    for (stage, (h, how)), count in zip(hours.items(), ins, strict=True):
        print(f"| {stage} | {count / 1e6:,.0f}M | {h:,.0f} | {100 * h / total:.0f}% | {how} |")
    print(f"| **total** | | **{total:,.0f}** | | |")
    b = bill(rates, a)
    dataflow = (
        b["dataflow_vcpu"] + b["dataflow_memory"] + b["dataflow_shuffle"] + b["nat_downloads"]
    )
    print("\n| line item | dollars |\n|---|---:|")
    for name in ("dataflow_vcpu", "dataflow_memory", "dataflow_shuffle", "nat_downloads"):
        print(f"| {name} | {b[name]:,.0f} |")
    print(f"| **Dataflow total** | **{dataflow:,.0f}** |")
    print(
        f"| spot VMs instead (vCPU only, + NAT) | {b['spot_vcpu_alternative'] + b['nat_downloads']:,.0f} |"
    )
    print(
        f"| storage of {b['output_tb']:,.1f} TB shards, per month | {b['storage_per_month']:,.0f} |"
    )
    print(
        f"\nshuffled: {b['shuffle_tb']:,.1f} TB; bottleneck: {max(hours, key=lambda k: hours[k][0])}"
    )
