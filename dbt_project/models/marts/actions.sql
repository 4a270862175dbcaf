-- One row per action (logic: int_actions_framed, which keeps every day incrementally).
-- A view: the widest table is stored once.
{{ config(materialized='view') }}

select * from {{ ref('int_actions_framed') }}
