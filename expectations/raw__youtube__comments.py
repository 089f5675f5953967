"""Raw YouTube comments of one day: ids, created in the window, known handles."""

from expectations.comments import comments_suite

SUITE = comments_suite("youtube", "payload -> 'data' -> 'snippet' ->> 'textOriginal'")
