-- loom.runs.stats: summaries over repeated runs (seeds): mean, sample standard deviation and a
-- Student t confidence interval, and grouping runs by params. Not a statistics library.
local stats = {}

-- Continued fraction of the regularized incomplete beta function (Numerical Recipes betacf).
local function beta_cf(a, b, x)
  local tiny, eps = 1e-300, 1e-15
  local qab, qap, qam = a + b, a + 1, a - 1
  local c, d = 1, 1 - qab * x / qap
  if math.abs(d) < tiny then d = tiny end
  d = 1 / d
  local h = d
  for m = 1, 300 do
    local m2 = 2 * m
    local aa = m * (b - m) * x / ((qam + m2) * (a + m2))
    d = 1 + aa * d; if math.abs(d) < tiny then d = tiny end
    c = 1 + aa / c; if math.abs(c) < tiny then c = tiny end
    d = 1 / d
    h = h * d * c
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
    d = 1 + aa * d; if math.abs(d) < tiny then d = tiny end
    c = 1 + aa / c; if math.abs(c) < tiny then c = tiny end
    d = 1 / d
    local del = d * c
    h = h * del
    if math.abs(del - 1) < eps then break end
  end
  return h
end

-- log Γ(x) for x > 0 (Lanczos, g = 7, n = 9; about 15 digits).
local LANCZOS = {0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
  -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
  1.5056327351493116e-7}
local function log_gamma(x)
  if x < 0.5 then return math.log(math.pi / math.abs(math.sin(math.pi * x))) - log_gamma(1 - x) end
  x = x - 1
  local a = LANCZOS[1]
  local t = x + 7.5
  for i = 2, 9 do a = a + LANCZOS[i] / (x + i - 1) end
  return 0.5 * math.log(2 * math.pi) + (x + 0.5) * math.log(t) - t + math.log(a)
end

-- I_x(a, b), the regularized incomplete beta function.
local function incomplete_beta(a, b, x)
  if x <= 0 then return 0 end
  if x >= 1 then return 1 end
  local front = math.exp(log_gamma(a + b) - log_gamma(a) - log_gamma(b) + a * math.log(x) + b * math.log(1 - x))
  if x < (a + 1) / (a + b + 2) then return front * beta_cf(a, b, x) / a end
  return 1 - front * beta_cf(b, a, 1 - x) / b
end

-- stats.t_cdf(t, df): P(T <= t) for Student's t with df degrees of freedom.
function stats.t_cdf(t, df)
  local tail = 0.5 * incomplete_beta(df / 2, 0.5, df / (df + t * t))
  return t >= 0 and 1 - tail or tail
end

-- stats.t_quantile(p, df): the t with P(T <= t) = p (bisection on t_cdf, 1e-12 relative).
function stats.t_quantile(p, df)
  assert(p > 0 and p < 1 and df > 0, "stats.t_quantile: need 0 < p < 1 and df > 0")
  if p < 0.5 then return -stats.t_quantile(1 - p, df) end
  local lo, hi = 0, 1
  while stats.t_cdf(hi, df) < p do lo, hi = hi, hi * 2 end
  for _ = 1, 200 do
    local mid = 0.5 * (lo + hi)
    if stats.t_cdf(mid, df) < p then lo = mid else hi = mid end
    if hi - lo <= 1e-12 * hi then break end
  end
  return 0.5 * (lo + hi)
end

-- stats.summary(values [, level = 0.95]) -> {n, mean, sd, lo, hi, half}: the mean, the sample
-- standard deviation (n - 1) and the Student t interval mean ± t(1 - (1 - level)/2, n - 1)·sd/√n.
-- Non-numbers and NaN are left out; sd and the interval are nil below two values.
function stats.summary(values, level)
  level = level or 0.95
  local xs = {}
  for _, v in ipairs(values) do
    if type(v) == "number" and v == v then xs[#xs + 1] = v end
  end
  local n = #xs
  local out = {n = n}
  if n == 0 then return out end
  local sum = 0
  for _, x in ipairs(xs) do sum = sum + x end
  out.mean = sum / n
  if n < 2 then return out end
  local ss = 0
  for _, x in ipairs(xs) do ss = ss + (x - out.mean) ^ 2 end
  out.sd = math.sqrt(ss / (n - 1))
  out.half = stats.t_quantile(1 - (1 - level) / 2, n - 1) * out.sd / math.sqrt(n)
  out.lo, out.hi = out.mean - out.half, out.mean + out.half
  return out
end

-- A stable text key for a param value (numbers by value: 0.1 and 1e-1 are one group).
local function value_key(v)
  if type(v) == "number" then return string.format("%.17g", v) end
  return tostring(v)
end

-- stats.group(runs, names) -> groups, each {key = {name = value}, runs = {...}}, in order of
-- the values (numbers numerically, others as text), one group per combination of names.
function stats.group(runs, names)
  local groups, by_key = {}, {}
  for _, r in ipairs(runs) do
    local parts, key = {}, {}
    for i, k in ipairs(names) do
      parts[i] = value_key(r.params[k])
      key[k] = r.params[k]
    end
    local id = table.concat(parts, "\0")
    local g = by_key[id]
    if not g then
      g = {key = key, runs = {}}
      by_key[id] = g
      groups[#groups + 1] = g
    end
    g.runs[#g.runs + 1] = r
  end
  local function less(a, b)
    if type(a) == "number" and type(b) == "number" then return a < b end
    if type(a) == "number" then return true end
    if type(b) == "number" then return false end
    return tostring(a) < tostring(b)
  end
  table.sort(groups, function(a, b)
    for _, k in ipairs(names) do
      local x, y = a.key[k], b.key[k]
      if value_key(x) ~= value_key(y) then return less(x, y) end
    end
    return false
  end)
  return groups
end

-- Names of numeric results of runs (sorted), the ones a summary can average.
function stats.numeric_results(runs)
  local names, list = {}, {}
  for _, r in ipairs(runs) do
    for k, v in pairs(r.results) do
      if type(v) == "number" and r.result_types[k] == "number" and not names[k] then
        names[k] = true
        list[#list + 1] = k
      end
    end
  end
  table.sort(list)
  return list
end

-- stats.group_summaries(runs, names) -> groups with g.summary[result] = stats.summary(...).
function stats.group_summaries(runs, names)
  local results = stats.numeric_results(runs)
  local groups = stats.group(runs, names)
  for _, g in ipairs(groups) do
    g.summary = {}
    for _, res in ipairs(results) do
      local values = {}
      for _, r in ipairs(g.runs) do values[#values + 1] = r.results[res] end
      g.summary[res] = stats.summary(values)
    end
  end
  return groups, results
end

-- stats.band(curves) -> steps, mean, lo, hi: per step over the curves ({steps =, values =}
-- each) that logged it, the mean and mean ± one sample standard deviation (lo = hi = mean
-- where one curve has the step). Steps in increasing order; NaN values are left out.
function stats.band(curves)
  local by_step, steps = {}, {}
  for _, c in ipairs(curves) do
    for i, step in ipairs(c.steps) do
      local v = c.values[i]
      if type(v) == "number" and v == v then
        local list = by_step[step]
        if not list then list = {}; by_step[step] = list; steps[#steps + 1] = step end
        list[#list + 1] = v
      end
    end
  end
  table.sort(steps)
  local mean, lo, hi = {}, {}, {}
  for i, step in ipairs(steps) do
    local sm = stats.summary(by_step[step])
    mean[i] = sm.mean
    lo[i], hi[i] = sm.mean - (sm.sd or 0), sm.mean + (sm.sd or 0)
  end
  return steps, mean, lo, hi
end

return stats
