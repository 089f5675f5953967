with

{# Ephemeral: compiled into the mart with the run's interval, so each source scan reads
   only the interval's partitions (plus the previous day, for follower growth). #}

profiles as (
    {% for platform in all_platforms() -%}
        select
            platform,
            handle,
            platform_user_id,
            observed_date,
            followers_count
        from {{ ref('stg_' ~ platform ~ '__profiles') }}
        where {{ in_run_interval('interval_start', lookback_days=1) }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

posts as (
    {% for platform in all_platforms() -%}
        select
            platform,
            handle,
            post_id,
            posted_date,
            like_count,
            repost_count,
            quote_count,
            reply_count,
            view_count
        from {{ ref('stg_' ~ platform ~ '__posts') }}
        where {{ in_run_interval('interval_start') }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

instagram_latest_metrics as (
    -- Instagram metrics are re-observed for two days (insights lag): the latest wins
    select distinct on (post_id)
        post_id,
        like_count,
        view_count
    from {{ ref('stg_instagram__post_metrics') }}
    where {{ in_run_interval('interval_start') }}
    order by post_id asc, observed_at desc
),

posts_with_latest_metrics as (
    select
        posts.platform,
        posts.handle,
        posts.post_id,
        posts.posted_date,
        coalesce(instagram_latest_metrics.like_count, posts.like_count) as like_count,
        coalesce(posts.repost_count, 0) + coalesce(posts.quote_count, 0) as share_count,
        coalesce(posts.repost_count, 0) as repost_count,
        coalesce(posts.quote_count, 0) as quote_count,
        coalesce(posts.reply_count, 0) as reply_count,
        coalesce(instagram_latest_metrics.view_count, posts.view_count) as view_count
    from posts
    left join instagram_latest_metrics
        on posts.platform = 'instagram'
        and posts.post_id = instagram_latest_metrics.post_id
),

comments as (
    {% for platform in all_platforms() -%}
        select
            platform,
            handle,
            comment_id,
            author_key,
            commented_date
        from {{ ref('stg_' ~ platform ~ '__comments') }}
        where {{ in_run_interval('interval_start') }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

mission_accounts as (
    select distinct
        platform,
        platform_user_id
    from profiles
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
        sum(share_count) as shares,
        sum(repost_count) as reposts,
        sum(quote_count) as quotes,
        -- the platform's own comment counts of the day's posts (all comments so far, on
        -- these posts only), the numerator's share of comments for the per-view rate
        sum(reply_count) as post_comments,
        sum(view_count) as views
    from posts_with_latest_metrics
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

activity_keys as (
    select
        platform,
        handle,
        activity_date
    from followers_daily
    union
    select
        platform,
        handle,
        activity_date
    from posts_daily
    union
    select
        platform,
        handle,
        activity_date
    from comments_daily
),

final as (
    select
        activity_keys.platform,
        activity_keys.handle,
        activity_keys.activity_date,
        followers_daily.followers_count,
        coalesce(posts_daily.posts, 0) as posts,
        coalesce(posts_daily.likes, 0) as likes,
        coalesce(posts_daily.shares, 0) as shares,
        coalesce(posts_daily.reposts, 0) as reposts,
        coalesce(posts_daily.quotes, 0) as quotes,
        posts_daily.views,
        coalesce(posts_daily.post_comments, 0) as post_comments,
        coalesce(comments_daily.audience_comments, 0) as comments,
        coalesce(comments_daily.mission_replies, 0) as mission_replies
    from activity_keys
    left join followers_daily
        on activity_keys.platform = followers_daily.platform
        and activity_keys.handle = followers_daily.handle
        and activity_keys.activity_date = followers_daily.activity_date
    left join posts_daily
        on activity_keys.platform = posts_daily.platform
        and activity_keys.handle = posts_daily.handle
        and activity_keys.activity_date = posts_daily.activity_date
    left join comments_daily
        on activity_keys.platform = comments_daily.platform
        and activity_keys.handle = comments_daily.handle
        and activity_keys.activity_date = comments_daily.activity_date
)

select * from final
