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
        {{ safe_bigint("payload -> 'data' -> 'public_metrics' ->> 'like_count'") }} as like_count,
        {{ safe_bigint("payload -> 'data' -> 'public_metrics' ->> 'reply_count'") }} as reply_count,
        {{ safe_bigint("payload -> 'data' -> 'public_metrics' ->> 'retweet_count'") }} as repost_count,
        {{ safe_bigint("payload -> 'data' -> 'public_metrics' ->> 'quote_count'") }} as quote_count,
        {{ safe_bigint("payload -> 'data' -> 'public_metrics' ->> 'impression_count'") }} as view_count,
        (payload ->> 'observed_at')::timestamptz as observed_at,
        _load_id as load_id,
        _loaded_at as loaded_at,
        _interval_start as interval_start
    from source
)

select * from renamed
