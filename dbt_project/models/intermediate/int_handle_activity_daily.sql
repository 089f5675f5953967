with

{# Ephemeral: compiled into the mart with the run's interval, so each source scan reads
    only the interval's partitions (plus the previous day, for follower growth). #}

profiles as (
    select * from {{ ref('stg_x__profiles') }}
    where {{ in_run_interval('interval_start', lookback_days=1) }}
),

posts as (
    select * from {{ ref('stg_x__posts') }}
    where {{ in_run_interval('interval_start') }}
),

comments as (
    select * from {{ ref('stg_x__comments') }}
    where {{ in_run_interval('interval_start') }}
),

mission_accounts as (
    select distinct platform, platform_user_id from profiles
),

followers_daily as (
    select
        platform,
        lower(handle) as handle,
        observed_date as activity_date,
        max(followers_count) as followers_count
    from profiles
    group by 1, 2, 3
),

posts_daily as (
    select
        platform,
        lower(handle) as handle,
        posted_date as activity_date,
        count(*) as posts,
        sum(like_count) as likes,
        sum(repost_count + quote_count) as shares,
        sum(view_count) as views
    from posts
    group by 1, 2, 3
),

comments_classified as (
    select
        comments.*,
        mission_accounts.platform_user_id is not null as is_mission_reply
    from comments
    left join mission_accounts
        on comments.platform = mission_accounts.platform
        and comments.author_key = mission_accounts.platform_user_id
),

comments_daily as (
    select
        platform,
        lower(handle) as handle,
        commented_date as activity_date,
        count(*) filter (where not is_mission_reply) as audience_comments,
        count(*) filter (where is_mission_reply) as mission_replies
    from comments_classified
    group by 1, 2, 3
),

keys as (
    select platform, handle, activity_date from followers_daily
    union
    select platform, handle, activity_date from posts_daily
    union
    select platform, handle, activity_date from comments_daily
),

final as (
    select
        keys.platform,
        keys.handle,
        keys.activity_date,
        followers_daily.followers_count,
        coalesce(posts_daily.posts, 0) as posts,
        coalesce(posts_daily.likes, 0) as likes,
        coalesce(posts_daily.shares, 0) as shares,
        posts_daily.views,
        coalesce(comments_daily.audience_comments, 0) as comments,
        coalesce(comments_daily.mission_replies, 0) as mission_replies
    from keys
    left join followers_daily using (platform, handle, activity_date)
    left join posts_daily using (platform, handle, activity_date)
    left join comments_daily using (platform, handle, activity_date)
)

select * from final
