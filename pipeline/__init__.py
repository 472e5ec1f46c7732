"""wit-pipeline: crawl, filter, match, balance, download and shard image-text pairs with Beam."""

__version__ = "0.1.0"
