-- test_regress.lua: loom.regress against R 4.2.2's summary(lm()) on R's datasets and on the
-- diabetes data (coefficients, standard errors, sigma, R², adjusted R², F to 10 digits),
-- and the summary table.
local loom = require "loom"

local DIR = data_dir("regression")
local DIGITS = 10

-- Significant digits two numbers agree to (15 when equal).
local function digits(got, want)
  if got == want then return 15 end
  local d = -math.log(math.abs(got - want) / math.abs(want), 10)
  return math.max(0, math.min(15, d))
end

-- Blocks of an R reference file: {dataset, lhs, rhs, coef = {{name, est, se}}, sigma, ...}
local function read_reference(path)
  local f = io.open(path)
  if not f then return nil end
  local blocks, cur = {}, nil
  for line in f:lines() do
    local ds, formula = line:match("^### dataset: (%S+)%s+formula: (.-)%s+n = ")
    if ds then
      cur = {dataset = ds, formula = formula, coef = {}}
      blocks[#blocks + 1] = cur
    elseif line:match("^#") then
      cur = nil
    else
      local fields = {}
      for v in line:gmatch("[^\t]+") do fields[#fields + 1] = v end
      if fields[1] == "coef" then
        if not cur then cur = {coef = {}}; blocks[#blocks + 1] = cur end
        cur.coef[#cur.coef + 1] = {name = fields[2], est = tonumber(fields[3]), se = tonumber(fields[4])}
      elseif cur and fields[1] == "fstatistic" then
        cur.fstat, cur.df1, cur.df2 = tonumber(fields[2]), tonumber(fields[4]), tonumber(fields[5])
      elseif cur and #fields == 2 then
        cur[fields[1]] = tonumber(fields[2])
      end
    end
  end
  f:close()
  return blocks
end

-- X, y and names for "lhs ~ a + b" or "lhs ~ ." from a CSV of R's datasets.
local function data_for(path, formula)
  local f = assert(io.open(path))
  local header = f:read("l")
  f:close()
  local rownames = header:match('^"?rowname"?,') ~= nil
  local M, names = assert(loom.read_csv(path, {rownames = rownames}))
  local lhs, rhs = formula:match("^%s*(%S+)%s*~%s*(.-)%s*$")
  local col = {}
  for j, n in ipairs(names) do col[n] = j end
  local wanted = {}
  if rhs == "." then
    for _, n in ipairs(names) do if n ~= lhs then wanted[#wanted + 1] = n end end
  else
    for n in rhs:gmatch("[^%s+]+") do wanted[#wanted + 1] = n end
  end
  local cols = {}
  for i, n in ipairs(wanted) do cols[i] = M:col(assert(col[n], n)) end
  return loom.hcat(cols), M:col(assert(col[lhs], lhs)):copy(), wanted, lhs
end

local function compare(fit, ref, label)
  local worst = 15
  for j, c in ipairs(ref.coef) do
    equal(fit.names[j], c.name, label .. " coefficient name")
    worst = math.min(worst, digits(fit.coef[j], c.est), digits(fit.stderr[j], c.se))
  end
  worst = math.min(worst, digits(fit.sigma, ref.sigma), digits(fit.r2, ref["r.squared"]),
    digits(fit.adj_r2, ref["adj.r.squared"]), digits(fit.fstat, ref.fstat))
  equal(fit.fstat_df[1], ref.df1, label .. " F df1")
  equal(fit.fstat_df[2], ref.df2, label .. " F df2")
  print(string.format("  %-9s %2d coefficients, worst agreement with R %.1f digits", label, #ref.coef, worst))
  check(worst >= DIGITS, "%s: only %.2f digits agree with R", label, worst)
end

local blocks = read_reference(DIR .. "/lm_reference_R-4.2.2.txt")

test("regress: the R reference is present", function()
  if not blocks then skip("no R reference in " .. DIR) end
  check(#blocks == 7, "expected 7 datasets, got %d", #blocks)
end)

for _, ref in ipairs(blocks or {}) do
  test("regress: " .. ref.dataset .. " matches R's lm to " .. DIGITS .. " digits", function()
    local X, y, names, lhs = data_for(DIR .. "/" .. ref.dataset .. ".csv", ref.formula)
    local fit = loom.regress(X, y, {names = names, yname = lhs})
    compare(fit, ref, ref.dataset)
  end)
end

test("regress: diabetes (442 x 10) matches R's lm to " .. DIGITS .. " digits", function()
  local refs = read_reference(DIR .. "/diabetes_lm_reference_R-4.2.2.txt")
  if not refs then skip("no diabetes reference in " .. DIR) end
  local X = assert(loom.read_csv(DIR .. "/diabetes_data_raw.csv.gz", {header = false, sep = " "}))
  local y = assert(loom.read_csv(DIR .. "/diabetes_target.csv.gz", {header = false}))
  local names = {"age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"}
  local fit = loom.regress(X, y, {names = names})
  compare(fit, refs[1], "diabetes")
end)

test("regress: summary table in the layout of R's summary(lm())", function()
  local X, y = data_for(DIR .. "/cars.csv", "dist ~ speed")
  local fit = loom.regress(X, y, {names = {"speed"}, yname = "dist"})
  local s = tostring(fit)
  print(s)
  for _, want in ipairs{
    "loom.regress(dist ~ speed)",
    "Coefficients:",
    "Estimate Std. Error t value Pr(>|t|)",
    "(Intercept) -17.5791     6.7584  -2.601   0.0123 *",
    "speed         3.9324     0.4155   9.464 1.49e-12 ***",
    "Residual standard error: 15.38 on 48 degrees of freedom",
    "Multiple R-squared:  0.6511,\tAdjusted R-squared:  0.6438",
    "F-statistic: 89.57 on 1 and 48 DF,  p-value: 1.49e-12",
  } do
    check(s:find(want, 1, true), "summary lacks %q", want)
  end
  -- p values from the t distribution as R prints them (cars: 0.0123 and 1.49e-12).
  close(fit.pvalues[1], 0.01231882, 1e-6, "intercept p value")
  close(fit.pvalues[2], 1.489836e-12, 1e-6 * 1e-12, "speed p value")
  close(fit.fstat_pvalue, 1.489836e-12, 1e-6 * 1e-12, "F p value")
end)

test("regress: no intercept uses the uncentred R² (NIST NoInt, R's lm(y ~ x - 1))", function()
  local x = loom.matrix{{60}, {61}, {62}, {63}, {64}, {65}, {66}, {67}, {68}, {69}, {70}}
  local y = loom.matrix{{130}, {131}, {132}, {133}, {134}, {135}, {136}, {137}, {138}, {139}, {140}}
  local fit = loom.regress(x, y, {intercept = false})
  close(fit.coef[1], 2.07438016528926, 1e-13, "B1")
  close(fit.r2, 0.999365492298663, 1e-13, "uncentred R2")
  close(fit.fstat, 15750.25, 1e-11, "F")
  check(tostring(fit):find("loom.regress(y ~ x1 - 1)", 1, true), "call line")
end)

test("regress: an aliased column is NA, like R", function()
  loom.seed(3)
  local X = loom.randn(30, 2)
  X = loom.hcat{X, X:col(1) + X:col(2)}
  local y = loom.randn(30, 1)
  local fit = loom.regress(X, y, {names = {"a", "b", "ab"}})
  check(fit.coef[4] ~= fit.coef[4], "aliased coefficient is NaN")
  equal(fit.rank, 3, "rank")
  equal(fit.df, 27, "df")
  local s = tostring(fit)
  check(s:find("Coefficients: (1 not defined because of singularities)", 1, true), "singularities line")
  local ref = loom.regress(X:slice(1, 30, 1, 2), y, {names = {"a", "b"}})
  close(fit.coef[2], ref.coef[2], 1e-12, "other coefficients as without the column")
  close(fit.stderr[3], ref.stderr[3], 1e-12, "stderr")
  close(fit.r2, ref.r2, 1e-12, "R2")
  check((fit:predict(X) - fit.fitted):norm() < 1e-10, "predict")
end)

test("regress: argument errors", function()
  checkerror("loom.regress: X is 3x1 but y is 2x1 (rows differ)", loom.regress, loom.zeros(3, 1), loom.zeros(2, 1))
  checkerror("loom.regress: unknown option 'intercep' (did you mean 'intercept'?)", loom.regress,
    loom.zeros(3, 1), loom.zeros(3, 1), {intercep = false})
  checkerror("loom.regress: y must have one column, got 3x2", loom.regress, loom.zeros(3, 1), loom.zeros(3, 2))
  checkerror("loom.regress: X has no rows (0x1): there is nothing to fit", loom.regress, loom.zeros(0, 1),
    loom.zeros(0, 1))
  checkerror("loom.regress: names must be a list of at most 1 strings (one per column of X), got names[2] = \"b\"",
    loom.regress, loom.zeros(3, 1), loom.zeros(3, 1), {names = {"a", "b"}})
  local fit = loom.regress(loom.matrix{{1}, {2}, {3}}, loom.matrix{{1}, {2}, {4}})
  checkerror("fit:predict: Xnew must be a matrix, got nil", fit.predict, fit)
  checkerror("fit:predict: Xnew has 2 columns, the fit has 1 (as many as its X)", fit.predict, fit, loom.zeros(4, 2))
  checkerror("fit:predict: expected a fit (call it as fit:predict()), got matrix", fit.predict, loom.zeros(4, 1))
end)
