with

source as (
    select * from {{ source('facebook', 'facebook__insights') }}
    where {{ validated_partitions('facebook') }}
),

renamed as (
    select
        handle || '|' || metric || '|' || ((end_time at time zone 'utc')::date - 1) as page_insight_key,
        'facebook'::text as platform,
        handle,
        page_id as platform_user_id,
        metric as metric_name,
        payload -> 'data' ->> 'name' as platform_metric_name,
        payload -> 'data' ->> 'period' as metric_period,
        -- a day's value carries the end of that day as its end_time
        (end_time at time zone 'utc')::date - 1 as metric_date,
        case
            when jsonb_typeof(payload -> 'data' -> 'value') = 'number'
                then {{ safe_bigint("payload -> 'data' ->> 'value'") }}
        end as metric_value,
        (payload ->> 'observed_at')::timestamptz as observed_at,
        _load_id as load_id,
        _loaded_at as loaded_at,
        _interval_start as interval_start
    from source
)

select * from renamed
