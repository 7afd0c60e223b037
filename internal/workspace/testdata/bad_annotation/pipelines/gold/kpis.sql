-- Gold KPIs
-- @materialised: table
SELECT 1 AS kpi
