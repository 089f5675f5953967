{#- Every registry handle with its mission and the policy that applies to it, and the one
    check that needs no observation: whether the handle follows the naming convention. -#}
with

handles as (
    select * from {{ ref('stg_registry__handles') }}
),

missions as (
    select * from {{ ref('stg_registry__missions') }}
),

platform_policy as (
    select * from {{ ref('stg_registry__policy_platforms') }}
),

policy as (
    select * from {{ ref('stg_registry__policy') }}
),

final as (
    select
        handles.handle_key,
        handles.mission_id,
        handles.platform,
        handles.handle,
        handles.platform_account_id,
        -- a handle is monitored only while its mission is too
        greatest(handles.active_from, missions.active_from) as active_from,
        case
            when handles.active_to is null then missions.active_to
            when missions.active_to is null then handles.active_to
            else least(handles.active_to, missions.active_to)
        end as active_to,
        missions.city,
        platform_policy.handle_pattern,
        platform_policy.min_posts_per_week,
        platform_policy.is_verification_required,
        platform_policy.is_required as is_platform_required,
        -- {city} stands for the mission's city, matched literally (every other character escaped)
        replace(
            policy.display_name_pattern_pg,
            '{city}',
            regexp_replace(missions.city, '([^[:alnum:][:space:]])', '\\\1', 'g')
        ) as display_name_regex,
        replace(policy.display_name_pattern, '{city}', missions.city) as display_name_pattern,
        policy.bio_required_link,
        policy.bio_required_link_normalised,
        policy.bio_required_text,
        policy.avatar_reference_phash,
        policy.avatar_max_hamming_distance,
        handles.handle ~ platform_policy.handle_pattern_pg as is_handle_naming_passed
    from handles
    inner join missions on handles.mission_id = missions.mission_id
    inner join platform_policy on handles.platform = platform_policy.platform
    cross join policy
)

select * from final
