with

source as (
    select * from {{ source('registry', 'registry__compliance_weights') }}
),

renamed as (
    select
        check_name,
        weight
    from source
)

select * from renamed
