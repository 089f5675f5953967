{{
    config(
        materialized='incremental',
        unique_key=['week_start_date', 'mission_id'],
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['week_start_date']},
            {'columns': ['mission_id', 'week_start_date'], 'unique': True}
        ]
    )
}}

{#- The leaderboard's categories: output name of the metric, and its rank columns' prefix.
    Every category ranks the highest value first. -#}
{%- set categories = [
    ('followers_end_of_week', 'most_followed'),
    ('interactions_per_post', 'most_effective'),
    ('posts_per_day', 'most_active'),
    ('answered_share', 'most_conversational'),
    ('compliance_score_change', 'most_improved_compliance'),
] -%}

with

engagement as (
    select
        mission_id,
        platform,
        activity_date,
        followers_count,
        posts,
        interactions
    from {{ ref('fct_mission_daily_engagement') }}
    where {{ in_run_weeks('activity_date') }}
),

responsiveness as (
    select
        mission_id,
        week_start_date,
        audience_comments,
        comments_answered
    from {{ ref('fct_mission_responsiveness') }}
    where {{ in_run_weeks('week_start_date') }}
),

compliance as (
    -- this week's score and the week before's
    select
        mission_id,
        week_start_date,
        compliance_score
    from {{ ref('fct_mission_compliance') }}
    {% if run_interval_set() -%}
    where week_start_date >= {{ run_weeks_start() }} - 7
        and week_start_date < {{ run_weeks_end() }}
    {%- endif %}
),

missions as (
    select
        mission_id,
        region
    from {{ ref('dim_missions') }}
),

followers_end_of_week as (
    -- each platform's last observed followers in the week, summed over the platforms
    select
        mission_id,
        week_start_date,
        sum(followers_count) as followers_end_of_week
    from (
        select distinct on (mission_id, platform, date_trunc('week', activity_date))
            mission_id,
            date_trunc('week', activity_date)::date as week_start_date,
            followers_count
        from engagement
        where followers_count is not null
        order by mission_id asc, platform asc, date_trunc('week', activity_date), activity_date desc
    ) as last_observed
    group by 1, 2
),

activity_weekly as (
    select
        mission_id,
        date_trunc('week', activity_date)::date as week_start_date,
        count(distinct activity_date) as days_observed,
        sum(posts) as posts,
        sum(interactions) as interactions
    from engagement
    group by 1, 2
),

responsiveness_weekly as (
    select
        mission_id,
        week_start_date,
        sum(audience_comments) as audience_comments,
        sum(comments_answered) as comments_answered
    from responsiveness
    group by 1, 2
),

compliance_change as (
    select
        this_week.mission_id,
        this_week.week_start_date,
        this_week.compliance_score,
        this_week.compliance_score - previous_week.compliance_score as compliance_score_change
    from compliance as this_week
    left join compliance as previous_week
        on this_week.mission_id = previous_week.mission_id
        and this_week.week_start_date - 7 = previous_week.week_start_date
),

metrics as (
    select
        activity_weekly.week_start_date,
        activity_weekly.mission_id,
        missions.region,
        activity_weekly.days_observed,
        activity_weekly.posts,
        activity_weekly.interactions,
        followers_end_of_week.followers_end_of_week,
        round(activity_weekly.interactions::numeric / nullif(activity_weekly.posts, 0), 4)
            as interactions_per_post,
        round(activity_weekly.posts::numeric / nullif(activity_weekly.days_observed, 0), 4)
            as posts_per_day,
        coalesce(responsiveness_weekly.audience_comments, 0) as audience_comments,
        coalesce(responsiveness_weekly.comments_answered, 0) as comments_answered,
        round(
            responsiveness_weekly.comments_answered::numeric
            / nullif(responsiveness_weekly.audience_comments, 0),
            6
        ) as answered_share,
        compliance_change.compliance_score,
        compliance_change.compliance_score_change
    from activity_weekly
    inner join missions on activity_weekly.mission_id = missions.mission_id
    left join followers_end_of_week
        on activity_weekly.mission_id = followers_end_of_week.mission_id
        and activity_weekly.week_start_date = followers_end_of_week.week_start_date
    left join responsiveness_weekly
        on activity_weekly.mission_id = responsiveness_weekly.mission_id
        and activity_weekly.week_start_date = responsiveness_weekly.week_start_date
    left join compliance_change
        on activity_weekly.mission_id = compliance_change.mission_id
        and activity_weekly.week_start_date = compliance_change.week_start_date
),

final as (
    select
        *,
        {%- for metric, prefix in categories %}
        -- competition ranking: equal values share a rank and the next rank skips; a
        -- mission without a value for the metric gets no rank
            case when {{ metric }} is not null then
                    rank() over (
                        partition by week_start_date, {{ metric }} is null order by {{ metric }} desc
                    )
            end as {{ prefix }}_rank,
            case when {{ metric }} is not null then
                    rank() over (
                        partition by week_start_date, region, {{ metric }} is null
                        order by {{ metric }} desc
                    )
            end as {{ prefix }}_region_rank,
        {%- endfor %}
        now() as built_at
    from metrics
)

select * from final
