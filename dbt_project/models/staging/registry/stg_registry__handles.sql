with

source as (
    select * from {{ source('registry', 'registry__handles') }}
),

renamed as (
    select
        platform || ':' || lower(handle) as handle_key,
        mission_id,
        platform,
        handle,
        nullif(platform_account_id, '') as platform_account_id,
        active_from,
        active_to
    from source
)

select * from renamed
