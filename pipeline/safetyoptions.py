"""The safety and consent options of a build (`beam_runner.py --help` lists them).

`add_safety_args(parser)` adds them to `WitOptions`; `safety_config(o)` and `consent_config(o)`
turn the parsed options into the frozen configs (hash lists are read here, at launch, and
travel inside the config: workers need no list file).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipeline.consent import ConsentConfig
from pipeline.hashlist import DEFAULT_PDQ_DISTANCE, load_lists
from pipeline.safety import POLICIES, SafetyConfig

__all__ = ["add_safety_args", "safety_config", "consent_config"]


def add_safety_args(parser: Any, as_bool: Callable[[str], bool]) -> None:
    """Add the unsafe-score, face, hash-list and consent options to `parser`."""
    add = parser.add_argument
    add(
        "--unsafe_policy",
        default="tag",
        choices=POLICIES,
        help="Unsafe-content score of every kept image (punsafe in [0, 1], the highest "
        "confidence of an exposed-nudity box of NudeNet's bundled detector): tag stores it in "
        "the parquet and KEY.json; drop also rejects images scoring at or above "
        "--unsafe_threshold (reason `unsafe`); off skips the detector. Default: tag.",
    )
    add(
        "--unsafe_threshold",
        type=float,
        default=0.5,
        help="punsafe at or above which an image counts as unsafe (dropped under "
        "--unsafe_policy drop, counted as tagged in the card). Default: 0.5.",
    )
    add(
        "--unsafe_model",
        default="",
        help="Your own ONNX classifier (input NCHW RGB in [0, 1]; output one probability or "
        "class scores whose last class is unsafe) instead of NudeNet's detector.",
    )
    add(
        "--detect_faces",
        default=True,
        type=as_bool,
        help="Store face boxes (x, y, w, h) in KEY.json and the parquet (true/false).",
    )
    add(
        "--blur_faces",
        default=True,
        type=as_bool,
        help="Blur detected faces in the stored image before it is written, as DataComp did; "
        "the original bytes are then never written (true/false). Default: true.",
    )
    add("--face_threshold", type=float, default=0.4, help="Face-box confidence threshold.")
    add(
        "--hash_blocklist",
        action="append",
        default=None,
        help="A hash list (repeatable): one MD5, SHA-1 or PDQ hash per line (`md5:`, `sha1:`, "
        "`pdq:` or typed by length). A matching image is dropped before it is resized, stored "
        "or logged; its rejects row keeps no url and no caption.",
    )
    add(
        "--pdq_distance",
        type=int,
        default=DEFAULT_PDQ_DISTANCE,
        help="Largest Hamming distance (of 256 bits) at which a PDQ hash matches a list entry.",
    )
    add(
        "--respect_robots",
        default=True,
        type=as_bool,
        help="Honour robots.txt for image URLs and robots meta tags / X-Robots-Tag of pages "
        "(noai, noimageai, noindex, noimageindex) for their images (true/false).",
    )
    add(
        "--respect_tdmrep",
        default=True,
        type=as_bool,
        help="Honour the TDM Reservation Protocol: `tdm-reservation: 1` headers and the "
        "host's /.well-known/tdmrep.json (true/false).",
    )


def safety_config(o: Any) -> SafetyConfig:
    """The `SafetyConfig` of parsed options (reads the hash lists)."""
    from pipeline import storage

    lists = load_lists(o.hash_blocklist or [], storage.read_bytes, o.pdq_distance)
    cfg = SafetyConfig(
        unsafe_policy=o.unsafe_policy,
        unsafe_threshold=o.unsafe_threshold,
        unsafe_model=o.unsafe_model,
        detect_faces=o.detect_faces,
        blur_faces=o.blur_faces,
        face_threshold=o.face_threshold,
        hash_lists=lists,
    )
    _check_installed(cfg)
    return cfg


def _check_installed(cfg: SafetyConfig) -> None:
    """Fail at launch, in one line, when a check's package is missing (not on every worker)."""
    import importlib.util

    wanted = []
    if cfg.needs_model:
        wanted.append("onnxruntime")
    if cfg.detect_faces or cfg.blur_faces or (cfg.unsafe_policy != "off" and not cfg.unsafe_model):
        wanted.append("nudenet")
    if cfg.hash_lists.wants_pdq:
        wanted.append("pdqhash")
    missing = [name for name in wanted if importlib.util.find_spec(name) is None]
    if missing:
        raise ValueError(
            f"the safety checks need {', '.join(missing)}: pip install 'wit-pipeline[safety]', or "
            "build with --unsafe_policy off --detect_faces false --blur_faces false"
        )


def consent_config(o: Any) -> ConsentConfig:
    """The `ConsentConfig` of parsed options."""
    return ConsentConfig(respect_robots=o.respect_robots, respect_tdmrep=o.respect_tdmrep)
