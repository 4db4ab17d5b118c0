-- rulesets/rfm.tier written by hand for DuckDB; {customers}, {orders}, {out} filled in by hand_sql.py.
-- As of 2026-06-30: the 12-month window starts on 2025-06-30, the 90-day one on 2026-04-01.
-- Writes the same table as `tierwise run`: key, score, tier, tier_label, R/F/M values and points,
-- the segment, the labels and the list of missing values. Cuts carry the engine's 1e-9 tolerance.
COPY (
WITH c AS (SELECT trim(客户编号) AS k FROM read_parquet('{customers}')),
o AS (
  SELECT trim(客户编号) AS k,
    max(下单日期) FILTER (WHERE 订单状态 = '已完成') AS last_done,
    min(下单日期) FILTER (WHERE 订单状态 = '已完成') AS first_done,
    count(*) FILTER (WHERE 订单状态 = '已完成' AND 下单日期 BETWEEN DATE '2025-06-30' AND DATE '2026-06-30') AS f,
    sum(金额) FILTER (WHERE 订单状态 = '已完成' AND 下单日期 BETWEEN DATE '2025-06-30' AND DATE '2026-06-30') AS m,
    max(金额) FILTER (WHERE 订单状态 = '已完成' AND 下单日期 BETWEEN DATE '2025-06-30' AND DATE '2026-06-30') AS big
  FROM read_parquet('{orders}') GROUP BY 1),
b AS (
  SELECT c.k, CAST(DATE '2026-06-30' - last_done AS DOUBLE) AS r, CAST(coalesce(f, 0) AS DOUBLE) AS f,
         CAST(coalesce(m, 0) AS DOUBLE) AS m, big, first_done
  FROM c LEFT JOIN o USING (k)),
n AS (SELECT count(r) AS nr, count(f) AS nf, count(m) AS nm FROM b),
q AS (
  SELECT b.*,
    -- quintile q = 1 + floor(5 rank / n); R: ties high (count at or below - 1), then reversed (6 - q)
    CASE WHEN r IS NULL THEN 1
         ELSE 6 - (floor((nr - rank() OVER (PARTITION BY r IS NULL ORDER BY r DESC)) * 5.0 / nr) + 1) END AS pr,
    floor((rank() OVER (PARTITION BY f IS NULL ORDER BY f) - 1) * 5.0 / nf) + 1 AS pf,
    floor((rank() OVER (PARTITION BY m IS NULL ORDER BY m) - 1) * 5.0 / nm) + 1 AS pm
  FROM b, n),
s AS (
  SELECT *, (pr * 0.3 + pf * 0.3 + pm * 0.4) / 5 * 100 AS score,
    pr > avg(pr) OVER () AS rh, pf > avg(pf) OVER () AS fh, pm > avg(pm) OVER () AS mh
  FROM q),
t AS (
  SELECT *, CASE WHEN score >= 80 - 8e-8 THEN 'A' WHEN score >= 60 - 6e-8 THEN 'B'
                 WHEN score >= 40 - 4e-8 THEN 'C' ELSE 'D' END AS tier
  FROM s)
SELECT k AS 客户编号, round(score, 10) AS score, tier,
  CASE tier WHEN 'A' THEN '高价值' WHEN 'B' THEN '中价值' WHEN 'C' THEN '低价值' WHEN 'D' THEN '待激活' END AS tier_label,
  r AS R, round(pr, 10) AS "R.points", f AS F, round(pf, 10) AS "F.points", m AS M, round(pm, 10) AS "M.points",
  CASE WHEN rh AND fh AND mh THEN '重要价值' WHEN NOT rh AND fh AND mh THEN '重要保持'
       WHEN rh AND NOT fh AND mh THEN '重要发展' WHEN NOT rh AND NOT fh AND mh THEN '重要挽留'
       WHEN rh AND fh AND NOT mh THEN '一般价值' WHEN NOT rh AND fh AND NOT mh THEN '一般保持'
       WHEN rh AND NOT fh AND NOT mh THEN '一般发展' ELSE '一般挽留' END AS RFM分群,
  concat_ws(',', CASE WHEN r > 180 + 1.8e-7 THEN '沉睡客户' END,
                 CASE WHEN big >= 1000000 - 1e-3 THEN '大单客户' END,
                 CASE WHEN first_done BETWEEN DATE '2026-04-01' AND DATE '2026-06-30' THEN '新客户' END) AS labels,
  CASE WHEN r IS NULL THEN 'R' ELSE '' END AS missing
FROM t
ORDER BY 客户编号
) TO '{out}' (FORMAT parquet)
