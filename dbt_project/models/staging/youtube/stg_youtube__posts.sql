with

source as (
    select * from {{ source('youtube', 'youtube__posts') }}
    where {{ validated_partitions('youtube') }}
),

renamed as (
    select
        post_id,
        'youtube'::text as platform,
        handle,
        author_id as platform_user_id,
        created_at as posted_at,
        (_interval_start at time zone 'utc')::date as posted_date,
        payload -> 'data' -> 'snippet' ->> 'title' as post_text,
        coalesce(
            payload -> 'data' -> 'snippet' ->> 'defaultAudioLanguage',
            payload -> 'data' -> 'snippet' ->> 'defaultLanguage'
        ) as language_code,
        {{ safe_bigint("payload -> 'data' -> 'statistics' ->> 'likeCount'") }} as like_count,
        {{ safe_bigint("payload -> 'data' -> 'statistics' ->> 'commentCount'") }} as reply_count,
        null::bigint as repost_count,
        null::bigint as quote_count,
        {{ safe_bigint("payload -> 'data' -> 'statistics' ->> 'viewCount'") }} as view_count,
        (payload ->> 'observed_at')::timestamptz as observed_at,
        _load_id as load_id,
        _loaded_at as loaded_at,
        _interval_start as interval_start
    from source
)

select * from renamed
