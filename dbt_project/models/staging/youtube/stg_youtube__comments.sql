with

source as (
    select * from {{ source('youtube', 'youtube__comments') }}
    where {{ validated_partitions('youtube') }}
),

renamed as (
    select
        comment_id,
        'youtube'::text as platform,
        handle,
        post_id,
        author_id as author_key,
        case
            when parent_id is null then payload -> 'data' -> 'snippet' ->> 'channelId'
            else payload -> 'thread' ->> 'top_level_author_id'
        end as in_reply_to_key,
        parent_id as parent_comment_id,
        created_at as commented_at,
        (_interval_start at time zone 'utc')::date as commented_date,
        payload -> 'data' -> 'snippet' ->> 'textOriginal' as comment_text,
        null::text as language_code,
        _load_id as load_id,
        _loaded_at as loaded_at,
        _interval_start as interval_start
    from source
)

select * from renamed
