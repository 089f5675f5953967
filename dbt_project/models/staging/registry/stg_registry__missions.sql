with

source as (
    select * from {{ source('registry', 'registry__missions') }}
),

renamed as (
    select
        mission_id,
        name as mission_name,
        mission_type,
        city,
        country,
        country_code,
        region,
        active_from,
        active_to
    from source
)

select * from renamed
