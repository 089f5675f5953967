{{
    config(
        materialized='incremental',
        unique_key=['mission_id', 'week_start_date'],
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['week_start_date']},
            {'columns': ['mission_id', 'week_start_date'], 'unique': True}
        ],
        pre_hook='set local jit = off'
    )
}}

{#- jit off: PostgreSQL's JIT compiles this wide plan for seconds (7 s measured on 2
    busy cores) to run a query that needs about 0.1 s without it. -#}

{#- How each mission meets the ministry's policy, per ISO week (Monday start). A check is
    true (passed), false (failed) or null (could not be evaluated: no observation in the
    week, no avatar hash, a platform that does not report verification, no replies
    measured, too short a history for dormancy). The score counts only evaluated checks:
    compliance_score = 100 * points_earned / points_possible, where points_possible is the
    sum of the weights of the evaluated checks; with every check evaluated it is exactly
    the sum of the weights of the passed checks. A daily run rebuilds only the weeks of its
    interval (restated days included); each week is always recomputed whole. -#}

{%- set cadence_window_days = 7 * (var('cadence_window_weeks', 4) - 1) -%}
{%- set check_names = [
    'required_platforms', 'handle_naming', 'display_name', 'bio_link', 'bio_text',
    'avatar', 'verification', 'posting_cadence', 'not_dormant', 'reply_time'
] -%}

with

missions as (
    select * from {{ ref('stg_registry__missions') }}
),

handles as (
    select * from {{ ref('int_handles_policy_checked') }}
),

observations as (
    select * from {{ ref('int_handle_profiles_checked') }}
    {% if run_interval_set() -%}
    -- the partitions of the weeks built (see weeks): a filter on the raw partition column,
    -- so the scan reads those days, not every profile of the history
    where interval_start
            >= date_trunc('week', {{ run_start_date() }})::date::timestamp at time zone 'utc'
        and interval_start < (
            date_trunc('week', '{{ var("end_date") }}'::date - 1)::date + 7
        )::timestamp at time zone 'utc'
    {%- endif %}
),

engagement as (
    select * from {{ ref('fct_mission_daily_engagement') }}
),

platform_policy as (
    select * from {{ ref('stg_registry__policy_platforms') }}
),

policy as (
    select * from {{ ref('stg_registry__policy') }}
),

weights as (
    select * from {{ ref('stg_registry__compliance_weights') }}
),

reply_times as (
    -- median reply hours per mission, platform and week (fct_mission_responsiveness)
    select
        mission_id,
        platform,
        week_start_date,
        median_reply_hours
    from {{ ref('fct_mission_responsiveness') }}
),

weeks as (
    -- the ISO weeks this build covers: those with data in the run's interval
    select distinct date_trunc('week', activity_date)::date as week_start_date
    from engagement
    {% if run_interval_set() -%}
    where activity_date >= {{ run_start_date() }}
        and activity_date < '{{ var("end_date") }}'::date
    {%- endif %}
),

mission_weeks as (
    select
        missions.mission_id,
        weeks.week_start_date,
        weeks.week_start_date + 6 as week_end_date
    from missions
    cross join weeks
    where missions.active_from <= weeks.week_start_date + 6
        and (missions.active_to is null or missions.active_to >= weeks.week_start_date)
),

handle_weeks as (
    -- the mission's handles active on at least one day of the week
    select
        mission_weeks.week_start_date,
        mission_weeks.week_end_date,
        handles.handle_key,
        handles.mission_id,
        handles.platform,
        handles.handle,
        handles.handle_pattern,
        handles.min_posts_per_week,
        handles.is_handle_naming_passed,
        array_position(array['x', 'facebook', 'instagram', 'youtube'], handles.platform)
            as platform_rank
    from mission_weeks
    inner join handles
        on mission_weeks.mission_id = handles.mission_id
        and mission_weeks.week_end_date >= handles.active_from
        and (handles.active_to is null or mission_weeks.week_start_date <= handles.active_to)
),

weekly_observation as (
    -- the handle's latest validated profile observation within the week
    select distinct on (observations.handle_key, weeks.week_start_date)
        weeks.week_start_date,
        observations.*
    from observations
    inner join weeks
        on observations.observed_date >= weeks.week_start_date
        and observations.observed_date < weeks.week_start_date + 7
    order by observations.handle_key asc, weeks.week_start_date asc, observations.observed_date desc
),

handle_activity as (
    select
        handle_weeks.handle_key,
        handle_weeks.week_start_date,
        count(*) filter (
            where engagement.activity_date >= handle_weeks.week_start_date - {{ cadence_window_days }}
            and (engagement.has_profile_data or engagement.posts > 0)
        ) as cadence_observed_days,
        coalesce(sum(engagement.posts) filter (
            where engagement.activity_date >= handle_weeks.week_start_date - {{ cadence_window_days }}
        ), 0) as cadence_posts,
        max(engagement.activity_date) filter (where engagement.posts > 0) as last_post_date,
        min(engagement.activity_date) filter (
            where engagement.has_profile_data or engagement.posts > 0
        ) as first_observed_date,
        max(engagement.activity_date) filter (
            where engagement.activity_date >= handle_weeks.week_start_date
            and (engagement.has_profile_data or engagement.posts > 0)
        ) as last_observed_date
    from handle_weeks
    left join engagement
        on handle_weeks.mission_id = engagement.mission_id
        and handle_weeks.platform = engagement.platform
        and handle_weeks.week_end_date >= engagement.activity_date
    group by 1, 2
),

handle_checks as (
    select
        handle_weeks.mission_id,
        handle_weeks.week_start_date,
        handle_weeks.platform,
        handle_weeks.platform_rank,
        handle_weeks.is_handle_naming_passed,
        case
            when not handle_weeks.is_handle_naming_passed
                then format(
                        '%s handle %s does not match %s',
                        handle_weeks.platform,
                        handle_weeks.handle,
                        handle_weeks.handle_pattern
                    )
        end as handle_naming_failure,
        weekly_observation.is_display_name_passed,
        weekly_observation.display_name_failure,
        weekly_observation.is_bio_link_passed,
        weekly_observation.bio_link_failure,
        weekly_observation.is_bio_text_passed,
        weekly_observation.bio_text_failure,
        weekly_observation.is_avatar_passed,
        weekly_observation.avatar_failure,
        weekly_observation.is_verification_passed,
        weekly_observation.verification_failure,
        handle_activity.cadence_posts * 7.0 / nullif(handle_activity.cadence_observed_days, 0)
            as posts_per_week,
        handle_activity.cadence_posts,
        handle_activity.cadence_observed_days,
        handle_weeks.min_posts_per_week,
        handle_activity.last_post_date,
        handle_activity.first_observed_date,
        handle_activity.last_observed_date,
        handle_weeks.handle
    from handle_weeks
    left join weekly_observation
        on handle_weeks.handle_key = weekly_observation.handle_key
        and handle_weeks.week_start_date = weekly_observation.week_start_date
    left join handle_activity
        on handle_weeks.handle_key = handle_activity.handle_key
        and handle_weeks.week_start_date = handle_activity.week_start_date
),

handle_activity_checks as (
    select
        handle_checks.*,
        handle_checks.posts_per_week >= handle_checks.min_posts_per_week
            as is_posting_cadence_passed,
        case
            when handle_checks.last_observed_date is null then null
            when handle_checks.last_post_date > handle_checks.last_observed_date - policy.max_dormant_days
                then true
            when coalesce(handle_checks.last_post_date, handle_checks.first_observed_date)
                < handle_checks.last_observed_date - policy.max_dormant_days
                then false
        end as is_not_dormant_passed,
        policy.max_dormant_days
    from handle_checks
    cross join policy
),

handle_failures as (
    select
        *,
        case
            when not is_posting_cadence_passed
                then format(
                        '%s posts %s a week (%s posts in %s observed days), below the minimum of %s',
                        platform,
                        round(posts_per_week::numeric, 2),
                        cadence_posts,
                        cadence_observed_days,
                        min_posts_per_week
                    )
        end as posting_cadence_failure,
        case
            when not is_not_dormant_passed
                then format(
                        '%s handle %s has %s since %s (more than %s days)',
                        platform,
                        handle,
                        case when last_post_date is null then 'no post observed' else 'not posted' end,
                        coalesce(last_post_date, first_observed_date),
                        max_dormant_days
                    )
        end as not_dormant_failure
    from handle_activity_checks
),

required_platform_checks as (
    select
        mission_weeks.mission_id,
        mission_weeks.week_start_date,
        bool_and(handle_weeks.handle_key is not null) as is_required_platforms_passed,
        'no active handle on '
        || string_agg(platform_policy.platform, ', ' order by platform_policy.platform)
        filter (where handle_weeks.handle_key is null) as required_platforms_failure
    from mission_weeks
    inner join platform_policy on platform_policy.is_required
    left join handle_weeks
        on mission_weeks.mission_id = handle_weeks.mission_id
        and mission_weeks.week_start_date = handle_weeks.week_start_date
        and platform_policy.platform = handle_weeks.platform
    group by 1, 2
),

reply_time_checks as (
    select
        reply_times.mission_id,
        reply_times.week_start_date,
        bool_and(reply_times.median_reply_hours <= policy.reply_time_target_hours)
            as is_reply_time_passed,
        string_agg(
            format(
                '%s median reply time %s h is above the %s h target',
                reply_times.platform, round(reply_times.median_reply_hours::numeric, 1),
                policy.reply_time_target_hours
            ),
            '; '
            order by reply_times.platform
        ) filter (where reply_times.median_reply_hours > policy.reply_time_target_hours)
            as reply_time_failure
    from reply_times
    cross join policy
    where reply_times.median_reply_hours is not null
    group by 1, 2
),

mission_handle_checks as (
    select
        mission_id,
        week_start_date,
        {% for check in check_names if check not in ('required_platforms', 'reply_time') -%}
            bool_and(is_{{ check }}_passed) as is_{{ check }}_passed,
            string_agg({{ check }}_failure, '; ' order by platform_rank) as {{ check }}_failure,
        {% endfor -%}
        count(*) as handle_count
    from handle_failures
    group by 1, 2
),

checks as (
    select
        mission_weeks.mission_id,
        mission_weeks.week_start_date,
        mission_weeks.week_end_date,
        coalesce(mission_handle_checks.handle_count, 0) as handle_count,
        {% for check in check_names if check not in ('required_platforms', 'reply_time') -%}
            mission_handle_checks.is_{{ check }}_passed,
            mission_handle_checks.{{ check }}_failure,
        {% endfor -%}
        -- a policy that requires no platform has nothing missing: passed
        coalesce(required_platform_checks.is_required_platforms_passed, true)
            as is_required_platforms_passed,
        required_platform_checks.required_platforms_failure,
        reply_time_checks.is_reply_time_passed,
        reply_time_checks.reply_time_failure
    from mission_weeks
    left join mission_handle_checks
        on mission_weeks.mission_id = mission_handle_checks.mission_id
        and mission_weeks.week_start_date = mission_handle_checks.week_start_date
    left join required_platform_checks
        on mission_weeks.mission_id = required_platform_checks.mission_id
        and mission_weeks.week_start_date = required_platform_checks.week_start_date
    left join reply_time_checks
        on mission_weeks.mission_id = reply_time_checks.mission_id
        and mission_weeks.week_start_date = reply_time_checks.week_start_date
),

check_results as (
    -- one row per mission, week and check, with the check's weight (for the score)
    {% for check in check_names -%}
        select
            checks.mission_id,
            checks.week_start_date,
            '{{ check }}' as check_name,
            {{ loop.index }} as check_rank,
            checks.is_{{ check }}_passed as is_passed,
            checks.{{ check }}_failure as failure
        from checks
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

scores as (
    select
        check_results.mission_id,
        check_results.week_start_date,
        coalesce(sum(weights.weight) filter (where check_results.is_passed), 0) as points_earned,
        coalesce(sum(weights.weight) filter (where check_results.is_passed is not null), 0)
            as points_possible,
        count(*) filter (
            where check_results.is_passed is null and weights.weight > 0
        ) as checks_not_evaluated,
        string_agg(
            check_results.check_name || ': ' || coalesce(check_results.failure, 'failed'),
            ' | '
            order by check_results.check_rank
        ) filter (where not check_results.is_passed and weights.weight > 0) as failed_checks,
        string_agg(check_results.check_name, ', ' order by check_results.check_rank)
        filter (where check_results.is_passed is null and weights.weight > 0)
            as not_evaluated_checks
    from check_results
    inner join weights on check_results.check_name = weights.check_name
    group by 1, 2
),

final as (
    select
        checks.mission_id,
        checks.week_start_date,
        checks.week_end_date,
        checks.handle_count,
        {% for check in check_names -%}
            checks.is_{{ check }}_passed,
        {% endfor -%}
        round((100 * scores.points_earned / nullif(scores.points_possible, 0))::numeric, 1)
            as compliance_score,
        scores.points_earned,
        scores.points_possible,
        scores.checks_not_evaluated,
        coalesce(scores.failed_checks, '') as failed_checks,
        scores.not_evaluated_checks,
        policy.config_sha256 as policy_sha256,
        now() as built_at
    from checks
    inner join scores
        on checks.mission_id = scores.mission_id
        and checks.week_start_date = scores.week_start_date
    cross join policy
)

select * from final
