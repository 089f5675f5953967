"""X (Twitter) API v2 extractor: profiles, original posts with public metrics, replies."""
