"""The Beam n-gram job agrees with the local counter, and `build --counts` reads its tables."""

from __future__ import annotations

from collections import Counter

from apache_beam.testing.test_pipeline import TestPipeline

from queries.beam_ngrams import NgramJobConfig, build_count_pipeline
from queries.build import BuildConfig, build_queries


def test_count_job_matches_local_build(wiki_dump, tmp_path) -> None:
    out = str(tmp_path / "counts")
    cfg = NgramJobConfig(min_unigram_count=3, min_bigram_count=3, min_pmi=1.5)
    with TestPipeline() as p:
        build_count_pipeline(p, [wiki_dump], out, cfg)
    thresholds = dict(min_unigram_count=3, min_bigram_count=3, min_pmi=1.5)
    from_beam, _ = build_queries(BuildConfig(counts_dirs=(out,), **thresholds))
    local, _ = build_queries(BuildConfig(wikipedia_dumps=(wiki_dump,), **thresholds))
    assert from_beam == local
    assert Counter(r["source"] for r in local)["bigram"] > 0
