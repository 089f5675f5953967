"""Raw Facebook comments of one day: ids, created in the window, known handles (a comment
may be a sticker or a photo without text: missing text is a warning)."""

from expectations.comments import comments_suite

SUITE = comments_suite("facebook", "payload -> 'data' ->> 'message'")
