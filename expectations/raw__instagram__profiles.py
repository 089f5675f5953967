"""Raw Instagram accounts of one day: one per handle, the account id, followers that move
plausibly."""

from expectations.profiles import profiles_suite

SUITE = profiles_suite("instagram", "user_id", "payload -> 'data' ->> 'followers_count'")
