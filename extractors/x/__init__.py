"""X (Twitter) API v2 extractor: profiles, original posts with public metrics, replies."""

from extractors.x.client import make_client
from extractors.x.extract import ENTITIES, run

__all__ = ["ENTITIES", "make_client", "run"]
