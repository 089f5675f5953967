{#- A profile's avatar perceptual hash from the raw payload's `avatar` object (added by the
    extractors): 16 lower-case hex digits, or null when absent or malformed, so the Hamming
    distance's bit(64) cast never fails on a bad value. -#}
{% macro avatar_phash(payload) -%}
    case
        when lower({{ payload }} -> 'avatar' ->> 'phash') ~ '^[0-9a-f]{16}$'
            then lower({{ payload }} -> 'avatar' ->> 'phash')
    end
{%- endmacro %}

{#- Number of differing bits between two 16-hex-digit hashes (null if either is null):
    bits set in either minus bits set in both, which is the popcount of a XOR b (spelt
    without PostgreSQL's `#` operator, which sqlfluff cannot lex). -#}
{% macro hamming_distance(a, b) -%}
    (
        bit_count(('x' || {{ a }})::bit(64) | ('x' || {{ b }})::bit(64))
        - bit_count(('x' || {{ a }})::bit(64) & ('x' || {{ b }})::bit(64))
    )::integer
{%- endmacro %}
