with

source as (
    select * from {{ source('x', 'x__posts') }}
    where {{ validated_partitions('x') }}
),

renamed as (
    select
        post_id,
        'x'::text as platform,
        handle,
        author_id as platform_user_id,
        created_at as posted_at,
        (_interval_start at time zone 'utc')::date as posted_date,
        payload -> 'data' ->> 'text' as post_text,
        payload -> 'data' ->> 'lang' as language_code,
        (payload -> 'data' -> 'public_metrics' ->> 'like_count')::bigint as like_count,
        (payload -> 'data' -> 'public_metrics' ->> 'reply_count')::bigint as reply_count,
        (payload -> 'data' -> 'public_metrics' ->> 'retweet_count')::bigint as repost_count,
        (payload -> 'data' -> 'public_metrics' ->> 'quote_count')::bigint as quote_count,
        (payload -> 'data' -> 'public_metrics' ->> 'impression_count')::bigint as view_count,
        (payload ->> 'observed_at')::timestamptz as observed_at,
        _load_id as load_id,
        _loaded_at as loaded_at,
        _interval_start as interval_start
    from source
)

select * from renamed
