"""Raw X replies of one day: ids, created in the window and not in the future, known
handles, and text (X always sends a tweet's text)."""

from expectations.comments import comments_suite

SUITE = comments_suite("x", "payload -> 'data' ->> 'text'", text_required=True)
