"""Instagram (Graph API) extractor: accounts, media, comments, media metric observations."""

from extractors.instagram.extract import ENTITIES, MEDIA_METRICS, make_client, run

__all__ = ["ENTITIES", "MEDIA_METRICS", "make_client", "run"]
