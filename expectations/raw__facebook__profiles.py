"""Raw Facebook Pages of one day: one per handle, the Page id, followers that move
plausibly."""

from expectations.profiles import profiles_suite

SUITE = profiles_suite("facebook", "page_id", "payload -> 'data' ->> 'followers_count'")
