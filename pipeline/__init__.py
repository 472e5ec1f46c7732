"""wit-pipeline: crawl, filter, match, balance, download and shard image-text pairs with Beam."""

__version__ = "0.1.0"

import logging as _logging


class _QuietBeamImport(_logging.Filter):
    """Drop Beam's import-time note about Google Cloud clients this project does not use."""

    def filter(self, record: _logging.LogRecord) -> bool:
        return "apitools not found" not in record.getMessage()


_logging.getLogger().addFilter(_QuietBeamImport())
