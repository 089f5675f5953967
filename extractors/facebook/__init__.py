"""Facebook Pages (Graph API) extractor: Pages, published posts, comments, Page insights."""

from extractors.facebook.extract import ENTITIES, PAGE_METRICS, make_client, run

__all__ = ["ENTITIES", "PAGE_METRICS", "make_client", "run"]
