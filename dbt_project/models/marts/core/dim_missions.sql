with

missions as (
    select * from {{ ref('stg_registry__missions') }}
),

handles as (
    select * from {{ ref('stg_registry__handles') }}
),

platforms_per_mission as (
    select
        mission_id,
        count(*) as handle_count,
        bool_or(platform = 'x') as has_x,
        bool_or(platform = 'facebook') as has_facebook,
        bool_or(platform = 'instagram') as has_instagram,
        bool_or(platform = 'youtube') as has_youtube
    from handles
    where active_to is null
    group by 1
),

final as (
    select
        missions.mission_id,
        missions.mission_name,
        missions.mission_type,
        missions.city,
        missions.country,
        missions.country_code,
        missions.region,
        missions.active_from,
        missions.active_to,
        missions.active_to is null as is_active,
        coalesce(platforms_per_mission.handle_count, 0) as handle_count,
        coalesce(platforms_per_mission.has_x, false) as has_x,
        coalesce(platforms_per_mission.has_facebook, false) as has_facebook,
        coalesce(platforms_per_mission.has_instagram, false) as has_instagram,
        coalesce(platforms_per_mission.has_youtube, false) as has_youtube
    from missions
    left join platforms_per_mission on missions.mission_id = platforms_per_mission.mission_id
)

select * from final
