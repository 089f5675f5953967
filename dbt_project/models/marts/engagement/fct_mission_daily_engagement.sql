{{
    config(
        materialized='incremental',
        unique_key=['mission_id', 'platform', 'activity_date'],
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['activity_date']},
            {'columns': ['mission_id', 'platform', 'activity_date'], 'unique': True}
        ]
    )
}}

with

handles as (
    select * from {{ ref('stg_registry__handles') }}
    -- only the platforms whose data passed extraction and validation for the run
    where platform in (
            {%- for platform in var("extracted_platforms").split(",") %}
                '{{ platform | trim }}'{{ "," if not loop.last }}
            {%- endfor %}
        )
),

activity as (
    select * from {{ ref('int_handle_activity_daily') }}
),

platform_days as (
    -- the days this build covers, per platform: the run's own days, and the restated
    -- days before them only where that platform has data (a day never extracted gets
    -- no rows rather than misleading zeros)
    {% if run_interval_set() -%}
    select handles.platform, day::date as activity_date
    from (select distinct platform from handles) as handles
    cross join generate_series(
        '{{ var("start_date") }}'::date, '{{ var("end_date") }}'::date - 1, interval '1 day'
    ) as day
    union
    select distinct platform, activity_date from activity
    where activity_date >= {{ run_start_date() }}
        and activity_date < '{{ var("end_date") }}'::date
    {%- else -%}
        select distinct
            platform,
            activity_date
        from activity
    {%- endif %}
),

handle_days as (
    -- every registry handle that was active on a day gets a row, posts or not
    select
        handles.mission_id,
        handles.platform,
        lower(handles.handle) as handle,
        platform_days.activity_date
    from handles
    inner join platform_days on handles.platform = platform_days.platform
    where handles.active_from <= platform_days.activity_date
        and (handles.active_to is null or handles.active_to >= platform_days.activity_date)
),

joined as (
    select
        handle_days.mission_id,
        handle_days.platform,
        handle_days.activity_date,
        handle_days.handle,
        activity.followers_count is not null as has_profile_data,
        activity.followers_count,
        activity.followers_count - previous_day.followers_count as follower_growth,
        previous_day.followers_count as followers_start_of_day,
        coalesce(activity.posts, 0) as posts,
        coalesce(activity.likes, 0) as likes,
        coalesce(activity.comments, 0) as comments,
        coalesce(activity.shares, 0) as shares,
        coalesce(activity.reposts, 0) as reposts,
        coalesce(activity.quotes, 0) as quotes,
        activity.views,
        coalesce(activity.post_comments, 0) as post_comments,
        coalesce(activity.mission_replies, 0) as mission_replies
    from handle_days
    left join activity
        on handle_days.platform = activity.platform
        and handle_days.handle = activity.handle
        and handle_days.activity_date = activity.activity_date
    left join activity as previous_day
        on handle_days.platform = previous_day.platform
        and handle_days.handle = previous_day.handle
        and handle_days.activity_date - 1 = previous_day.activity_date
),

measured as (
    select
        *,
        likes + comments + shares as interactions,
        -- average of the start (yesterday's end) and the end of the day; the end alone
        -- when the day before was not observed
        (coalesce(followers_start_of_day, followers_count) + followers_count) / 2.0
            as average_followers
    from joined
),

final as (
    select
        mission_id,
        platform,
        activity_date,
        handle,
        has_profile_data,
        followers_count,
        follower_growth,
        posts,
        likes,
        comments,
        shares,
        views,
        interactions,
        mission_replies,
        round(interactions::numeric / nullif(followers_count, 0), 6)
            as engagement_rate_per_follower,
        round(interactions::numeric / nullif(posts, 0), 4)
            as interactions_per_post,
        -- the day's posts only, on both sides: their likes, comments and shares per view.
        -- interactions would not do: its comments include those on the week's older posts,
        -- so one small post beside a busy older video made this 7.4 (a 10,000-handle day)
        round((likes + post_comments + shares)::numeric / nullif(views, 0), 6)
            as engagement_rate_per_view,
        now() as built_at,
        -- added columns stay after the original ones (on_schema_change appends)
        reposts,
        quotes,
        followers_start_of_day,
        round(average_followers, 1) as average_followers,
        round(interactions::numeric / nullif(posts, 0) / nullif(average_followers, 0), 8)
            as twiplomacy_interaction_rate
    from measured
)

select * from final
