"""Raw YouTube channels of one day: one per handle, the channel id, subscribers that move
plausibly (a channel may hide its count: then there is none to check)."""

from expectations.profiles import profiles_suite

SUITE = profiles_suite(
    "youtube",
    "user_id",
    "payload -> 'data' -> 'statistics' ->> 'subscriberCount'",
    followers_required=False,
)
