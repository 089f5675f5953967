with

source as (
    select * from {{ source('instagram', 'instagram__post_metrics') }}
    where {{ validated_partitions('instagram') }}
),

renamed as (
    select
        media_id || '|' || observed_at as post_metric_key,
        'instagram'::text as platform,
        handle,
        media_id as post_id,
        media_created_at as posted_at,
        observed_at,
        (_interval_start at time zone 'utc')::date as observed_for_date,
        extract(epoch from observed_at - media_created_at) / 3600.0 as hours_since_posted,
        payload -> 'data' ->> 'media_product_type' as media_product_type,
        {{ safe_bigint("payload -> 'data' ->> 'like_count'") }} as like_count,
        {{ safe_bigint("payload -> 'data' ->> 'comments_count'") }} as comment_count,
        -- null when Instagram refused the metric on that run (see the run's refused_metrics)
        {{ safe_bigint("payload -> 'data' ->> 'views'") }} as view_count,
        {{ safe_bigint("payload -> 'data' ->> 'reach'") }} as reach_count,
        {{ safe_bigint("payload -> 'data' ->> 'saved'") }} as saved_count,
        {{ safe_bigint("payload -> 'data' ->> 'shares'") }} as share_count,
        _load_id as load_id,
        _loaded_at as loaded_at,
        _interval_start as interval_start
    from source
)

select * from renamed
