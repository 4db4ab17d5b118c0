-- The same scorecard as bench/scorecard.tier, written by hand for DuckDB.
-- {src} and {out} are filled in by hand_sql.py (src=PATH); the as-of date is 2026-06-30.
-- Cuts carry the engine's tolerance (1e-9 relative), so both agree on every row.
-- It writes the same table as `tierwise run`: key, score, tier, each indicator's value and points,
-- the dimension scores and the list of missing values, so both do the same work.
COPY (
WITH b0 AS (
  -- k: whole calendar years from the start date to the as-of date
  SELECT *, date_diff('year', d0, DATE '2026-06-30')
            - CASE WHEN CAST(d0 + to_years(date_diff('year', d0, DATE '2026-06-30')) AS DATE) > DATE '2026-06-30'
                   THEN 1 ELSE 0 END AS k
  FROM (SELECT *, CAST(合作起始时间 AS DATE) AS d0 FROM read_parquet('{src}'))),
b AS (
  SELECT trim(客户编号) AS 客户编号, 年交易额 AS a, 客单价 AS u, 利润贡献率 AS p,
         -- years_between: whole years plus the elapsed part of the next one, in days
         k + (DATE '2026-06-30' - CAST(d0 + to_years(k) AS DATE))
             / (CAST(d0 + to_years(k + 1) AS DATE) - CAST(d0 + to_years(k) AS DATE)) AS y,
         续约率 AS r, 投诉次数 AS c,
         售后咨询量 AS s, 定制化需求频次 AS z, 服务响应满意度 AS m, 行业增长率 AS g,
         客户规模扩张速度 AS e, 新产品采购意向 AS n
  FROM b0),
st AS (SELECT min(s) AS smin, max(s) AS smax, avg(m) AS mmean, stddev_pop(m) AS msd, count(g) AS gn,
           max(abs(g)) * 1e-12 AS gq FROM b),  -- the rank's quantum: values closer than 1e-12 of the largest tie
p AS (
  SELECT 客户编号, a, u, p, y, r, c, s, z, m, g, e, n,
    CASE WHEN a IS NULL THEN 1 WHEN a >= 5000000 - 5e-3 THEN 10 WHEN a >= 3000000 - 3e-3 THEN 8
         WHEN a >= 1000000 - 1e-3 THEN 5 ELSE 2 END AS pa,
    CASE WHEN u IS NULL THEN 1 WHEN u >= 50000 - 5e-5 THEN 10 WHEN u >= 20000 - 2e-5 THEN 7
         WHEN u >= 5000 - 5e-6 THEN 4 ELSE 1 END AS pu,
    CASE WHEN p IS NULL THEN 1 WHEN p >= 0.3 - 1e-9 THEN 10 WHEN p >= 0.2 - 1e-9 THEN 8
         WHEN p >= 0.1 - 1e-9 THEN 5 ELSE 2 END AS pp,
    CASE WHEN y IS NULL THEN 1 WHEN y >= 5 - 5e-9 THEN 10 WHEN y >= 3 - 3e-9 THEN 8
         WHEN y >= 1 - 1e-9 THEN 5 ELSE 2 END AS py,
    CASE WHEN r IS NULL THEN 1 WHEN r >= 0.9 - 1e-9 THEN 10 WHEN r >= 0.7 - 1e-9 THEN 7
         WHEN r >= 0.5 - 1e-9 THEN 4 ELSE 1 END AS pr,
    CASE WHEN c IS NULL THEN 1 WHEN c <= 0 + 1e-9 THEN 10 WHEN c <= 2 + 2e-9 THEN 7
         WHEN c <= 5 + 5e-9 THEN 4 ELSE 1 END AS pc,
    CASE WHEN s IS NULL THEN 1 WHEN smax = smin THEN 5.5 ELSE 1 + (s - smin) / (smax - smin) * 9 END AS ps,
    CASE WHEN z IS NULL THEN 1 WHEN z >= 6 - 6e-9 THEN 10 WHEN z >= 3 - 3e-9 THEN 8
         WHEN z >= 1 - 1e-9 THEN 5 ELSE 2 END AS pz,
    CASE WHEN m IS NULL THEN 1 WHEN msd = 0 THEN 5.5
         ELSE 1 + (greatest(least((m - mmean) / msd, 3), -3) + 3) / 6 * 9 END AS pm,
    CASE WHEN g IS NULL THEN 1 WHEN gn <= 1 THEN 5.5
         ELSE 1 + (rank() OVER (PARTITION BY g IS NULL ORDER BY CASE WHEN gq > 0 THEN floor(g / gq + 0.5) ELSE g END) - 1)
                / (gn - 1) * 9 END AS pg,
    CASE WHEN e IS NULL THEN 1 WHEN e >= 0.3 - 1e-9 THEN 10 WHEN e >= 0.15 - 1e-9 THEN 8
         WHEN e >= 0.05 - 1e-9 THEN 5 ELSE 2 END AS pe,
    coalesce(CAST(n AS DOUBLE), 1) AS pn
  FROM b, st),
d AS (SELECT *, pa * 0.3 + pu * 0.3 + pp * 0.4 AS 交易价值, py * 0.25 + pr * 0.4 + pc * 0.35 AS 合作稳定性,
             ps * 0.3 + pz * 0.5 + pm * 0.2 AS 服务需求, pg * 0.3 + pe * 0.4 + pn * 0.3 AS 潜力空间 FROM p),
s AS (SELECT *, (交易价值 * 0.3 + 合作稳定性 * 0.25 + 服务需求 * 0.2 + 潜力空间 * 0.25) / 10 * 100 AS score FROM d),
t AS (SELECT *, CASE WHEN score >= 90 - 9e-8 THEN 'A' WHEN score >= 75 - 7.5e-8 THEN 'B'
                      WHEN score >= 60 - 6e-8 THEN 'C' ELSE 'D' END AS tier FROM s)
-- scores, points and dimension scores rounded to 10 decimals for people, as tierwise writes them
SELECT 客户编号, round(score, 10) AS score, tier,
  CASE tier WHEN 'A' THEN '核心客户' WHEN 'B' THEN '重要客户' WHEN 'C' THEN '潜力客户' WHEN 'D' THEN '基础客户' END
    AS tier_label,
  a AS 年交易额, round(pa, 10) AS "年交易额.points", u AS 客单价, round(pu, 10) AS "客单价.points",
  p AS 利润贡献率, round(pp, 10) AS "利润贡献率.points", y AS 合作时长, round(py, 10) AS "合作时长.points",
  r AS 续约率, round(pr, 10) AS "续约率.points", c AS 投诉次数, round(pc, 10) AS "投诉次数.points",
  s AS 售后咨询量, round(ps, 10) AS "售后咨询量.points", z AS 定制化需求频次, round(pz, 10) AS "定制化需求频次.points",
  m AS 服务响应满意度, round(pm, 10) AS "服务响应满意度.points", g AS 行业增长率, round(pg, 10) AS "行业增长率.points",
  e AS 客户规模扩张速度, round(pe, 10) AS "客户规模扩张速度.points", n AS 新产品采购意向, round(pn, 10) AS "新产品采购意向.points",
  round(交易价值, 10) AS 交易价值, round(合作稳定性, 10) AS 合作稳定性, round(服务需求, 10) AS 服务需求,
  round(潜力空间, 10) AS 潜力空间,
  concat_ws(',', CASE WHEN a IS NULL THEN '年交易额' END, CASE WHEN u IS NULL THEN '客单价' END,
    CASE WHEN p IS NULL THEN '利润贡献率' END, CASE WHEN y IS NULL THEN '合作时长' END,
    CASE WHEN r IS NULL THEN '续约率' END, CASE WHEN c IS NULL THEN '投诉次数' END,
    CASE WHEN s IS NULL THEN '售后咨询量' END, CASE WHEN z IS NULL THEN '定制化需求频次' END,
    CASE WHEN m IS NULL THEN '服务响应满意度' END, CASE WHEN g IS NULL THEN '行业增长率' END,
    CASE WHEN e IS NULL THEN '客户规模扩张速度' END, CASE WHEN n IS NULL THEN '新产品采购意向' END) AS missing
FROM t
ORDER BY 客户编号
) TO '{out}' (FORMAT parquet)
