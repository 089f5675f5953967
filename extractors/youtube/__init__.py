"""YouTube Data API v3 extractor: channels, videos with statistics, comments and replies."""

from extractors.youtube.client import make_client
from extractors.youtube.extract import ENTITIES, run

__all__ = ["ENTITIES", "make_client", "run"]
