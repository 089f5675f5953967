with

source as (
    select * from {{ source('instagram', 'instagram__posts') }}
    where {{ validated_partitions('instagram') }}
),

renamed as (
    select
        media_id as post_id,
        'instagram'::text as platform,
        handle,
        user_id as platform_user_id,
        created_at as posted_at,
        (_interval_start at time zone 'utc')::date as posted_date,
        payload -> 'data' ->> 'caption' as post_text,
        null::text as language_code,
        {{ safe_bigint("payload -> 'data' ->> 'like_count'") }} as like_count,
        {{ safe_bigint("payload -> 'data' ->> 'comments_count'") }} as reply_count,
        -- shares and views come from insights: see stg_instagram__post_metrics
        null::bigint as repost_count,
        null::bigint as quote_count,
        null::bigint as view_count,
        (payload ->> 'observed_at')::timestamptz as observed_at,
        _load_id as load_id,
        _loaded_at as loaded_at,
        _interval_start as interval_start
    from source
)

select * from renamed
