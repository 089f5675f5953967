"""Raw X profiles of one day: one per handle, the user id, followers that move plausibly."""

from expectations.profiles import profiles_suite

SUITE = profiles_suite(
    "x", "user_id", "payload -> 'data' -> 'public_metrics' ->> 'followers_count'"
)
