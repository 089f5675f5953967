"""Raw Instagram comments of one day: ids, created in the window, known handles."""

from expectations.comments import comments_suite

SUITE = comments_suite("instagram", "payload -> 'data' ->> 'text'")
