{#- The ISO weeks (Monday to Sunday) a run rebuilds: every week holding a day from the day
    before the run's start (replies to Sunday's comments arrive on Monday) to its last day.
    A daily run touches one week, or two on a Monday. Without the interval vars: all. -#}

{% macro run_weeks_start() -%}
    date_trunc('week', '{{ var("start_date") }}'::date - 1)::date
{%- endmacro %}

{% macro run_weeks_end() -%}
    (date_trunc('week', '{{ var("end_date") }}'::date - 1)::date + 7)
{%- endmacro %}

{#- A date column inside the rebuilt weeks. -#}
{% macro in_run_weeks(column) -%}
    {%- if run_interval_set() -%}
        {{ column }} >= {{ run_weeks_start() }} and {{ column }} < {{ run_weeks_end() }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- A raw partition column (timestamptz) inside the rebuilt weeks, plus extra_days after
    them (the reply window of the week's last comments). -#}
{% macro in_run_weeks_partitions(column, extra_days=0) -%}
    {%- if run_interval_set() -%}
        {{ column }} >= ({{ run_weeks_start() }})::timestamp at time zone 'utc'
        and {{ column }} < ({{ run_weeks_end() }} + {{ extra_days }})::timestamp at time zone 'utc'
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- How many days after its week a reply still counts as answering the week's comments:
    replies are read from the week's partitions and the next day's (the Monday after). -#}
{% macro reply_window_days() -%}
    {{ return(var('reply_window_days_after_week', 1)) }}
{%- endmacro %}

{#- A raw partition column (timestamptz) inside the run's own days [start_date, end_date),
    without the restated days in_run_interval adds (for marts that restate nothing). -#}
{% macro in_run_days_partitions(column) -%}
    {%- if run_interval_set() -%}
        {{ column }} >= ('{{ var("start_date") }}'::date)::timestamp at time zone 'utc'
        and {{ column }} < ('{{ var("end_date") }}'::date)::timestamp at time zone 'utc'
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
