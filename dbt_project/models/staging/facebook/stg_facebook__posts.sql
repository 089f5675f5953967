with

source as (
    select * from {{ source('facebook', 'facebook__posts') }}
    where {{ validated_partitions('facebook') }}
),

renamed as (
    select
        post_id,
        'facebook'::text as platform,
        handle,
        page_id as platform_user_id,
        created_at as posted_at,
        (_interval_start at time zone 'utc')::date as posted_date,
        payload -> 'data' ->> 'message' as post_text,
        null::text as language_code,
        {{ safe_bigint("payload -> 'data' -> 'reactions' -> 'summary' ->> 'total_count'") }} as like_count,
        {{ safe_bigint("payload -> 'data' -> 'comments' -> 'summary' ->> 'total_count'") }} as reply_count,
        -- Facebook leaves `shares` out of a post nobody shared
        coalesce({{ safe_bigint("payload -> 'data' -> 'shares' ->> 'count'") }}, 0) as repost_count,
        null::bigint as quote_count,
        null::bigint as view_count,
        (payload ->> 'observed_at')::timestamptz as observed_at,
        _load_id as load_id,
        _loaded_at as loaded_at,
        _interval_start as interval_start
    from source
)

select * from renamed
