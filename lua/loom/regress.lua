-- loom.regress: ordinary least squares with the statistics of R's summary(lm()): standard
-- errors, t and p values, R², F, and the summary table. Not the solvers (loom.linalg).
local loom = require "loom"
local linalg = require "loom.linalg"
local check = require "loom.check"

local regress = {}

local Fit = {}
Fit.__index = Fit
regress.Fit = Fit

local OPTION_TYPES = {intercept = "boolean", names = "table", yname = "string", method = "string"}

local function sum_squares(m) local n = m:norm() return n * n end

-- Two-sided p value of a t statistic with df degrees of freedom, without the cancellation
-- of 1 - cdf: P(|T| > |t|) = I_{df / (df + t^2)}(df / 2, 1 / 2).
local function t_pvalue(t, df)
  if t ~= t then return 0 / 0 end
  if df <= 0 then return 0 / 0 end
  return linalg.betainc(df / 2, 0.5, df / (df + t * t))
end
regress.t_pvalue = t_pvalue

-- Design matrix with the constant column first when intercept.
local function design(X, intercept)
  if not intercept then return X end
  local ones = loom.ones(X:rows(), 1)
  if X:cols() == 0 then return ones end
  return loom.hcat{ones, X}
end

-- regress(X, y [, {intercept = true, names = {...}, yname = "y", method = "qr"}]) -> fit
function regress.regress(X, y, opts)
  local fn = "loom.regress"
  opts = check.options(fn, opts, OPTION_TYPES)
  y = linalg.as_column(y)
  check.matrix(fn, "X", X)
  check.matrix(fn, "y", y)
  if y:cols() ~= 1 then check.fail(fn, "y must have one column, got %dx%d", y:shape()) end
  if y:rows() ~= X:rows() then
    check.fail(fn, "X is %dx%d but y is %dx%d (rows differ)", X:rows(), X:cols(), y:shape())
  end
  if X:rows() == 0 then check.fail(fn, "X has no rows (0x%d): there is nothing to fit", X:cols()) end
  for j, name in pairs(opts.names or {}) do
    if math.type(j) ~= "integer" or j < 1 or j > X:cols() or type(name) ~= "string" then
      check.fail(fn, "names must be a list of at most %d strings (one per column of X), got names[%s] = %s",
        X:cols(), check.shown(j), check.shown(name))
    end
  end
  local intercept = opts.intercept ~= false
  local names = {}
  if intercept then names[1] = "(Intercept)" end
  for j = 1, X:cols() do
    names[#names + 1] = opts.names and opts.names[j] or ("x" .. j)
  end
  local D = design(X, intercept)
  local n, p = D:rows(), D:cols()
  local method = opts.method or "qr"
  local beta, info = linalg.lstsq(D, y, {method = method, cov = method == "qr" or nil})
  -- Aliased columns (as R's NA): refit on the independent ones so the statistics exist.
  local keep = {}
  for j = 1, p do keep[j] = true end
  local rank = info.rank or p
  if rank < p then
    -- Like R, alias the later of dependent columns: keep column j when it adds to the rank
    -- of the columns kept before it (rank deficiency is rare, so p small QRs are fine).
    local kept = {}
    for j = 1, p do
      kept[#kept + 1] = D:col(j)
      local _, kinfo = linalg.lstsq(loom.hcat(kept), y)
      if kinfo.rank < #kept then
        kept[#kept] = nil
        keep[j] = false
      end
    end
  end
  local cols = {}
  for j = 1, p do if keep[j] then cols[#cols + 1] = D:col(j) end end
  local Dk, bk, kinfo = D, beta, info
  if #cols < p or not info.xtx_inv then
    Dk = #cols == p and D or loom.hcat(cols)
    bk, kinfo = linalg.lstsq(Dk, y, {method = "qr", cov = true})
  end
  local fitted = #cols == p and D * beta or Dk * bk
  local residuals = y - fitted
  local rss = sum_squares(residuals)
  local df = n - rank
  local sigma2 = df > 0 and rss / df or 0 / 0
  local fit = setmetatable({
    names = names, n = n, p = p, rank = rank, df = df, intercept = intercept,
    yname = opts.yname or "y", fitted = fitted, residuals = residuals, rss = rss,
    sigma = math.sqrt(sigma2), coef = {}, stderr = {}, tvalues = {}, pvalues = {},
    aliased = {}, warnings = info.warnings, method = info.method,
  }, Fit)
  local k = 0
  for j = 1, p do
    if keep[j] then
      k = k + 1
      -- The coefficients of the chosen method; the covariance from QR when it had none.
      local b = #cols == p and beta:get(j, 1) or bk:get(k, 1)
      local v = kinfo.xtx_inv and kinfo.xtx_inv:get(k, k) or 0 / 0
      local se = math.sqrt(sigma2 * v)
      fit.coef[j], fit.stderr[j], fit.tvalues[j] = b, se, b / se
      fit.pvalues[j] = t_pvalue(b / se, df)
    else
      fit.coef[j], fit.stderr[j], fit.tvalues[j], fit.pvalues[j] = 0 / 0, 0 / 0, 0 / 0, 0 / 0
      fit.aliased[#fit.aliased + 1] = names[j]
    end
  end
  -- R² as R and NIST define it: centred with an intercept, uncentred without one.
  local tss = intercept and sum_squares(y - y:mean()) or sum_squares(y)
  local df_model = rank - (intercept and 1 or 0)
  fit.tss = tss
  fit.r2 = 1 - rss / tss
  fit.adj_r2 = 1 - (1 - fit.r2) * (n - (intercept and 1 or 0)) / df
  if df_model > 0 then
    fit.fstat = ((tss - rss) / df_model) / sigma2
    fit.fstat_df = {df_model, df}
    fit.fstat_pvalue = linalg.f_sf(fit.fstat, df_model, df)
  end
  return fit
end

-- fit:predict(Xnew) -> Xnew * coef (aliased coefficients count as 0)
local function check_fit(self, method)
  if getmetatable(self) ~= Fit then
    check.fail("fit:" .. method, "expected a fit (call it as fit:%s()), got %s", method, check.kind(self))
  end
end

function Fit:predict(X)
  check_fit(self, "predict")
  check.matrix("fit:predict", "Xnew", X)
  local want = self.p - (self.intercept and 1 or 0)
  if X:cols() ~= want then
    check.fail("fit:predict", "Xnew has %d columns, the fit has %d (as many as its X)", X:cols(), want)
  end
  local b = {}
  for j = 1, self.p do
    local c = self.coef[j]
    b[j] = {c == c and c or 0}
  end
  return design(X, self.intercept) * loom.matrix(b)
end

-- ---- the summary table, laid out as R's print(summary(lm())) ----

local function fmt_sig(v, digits)
  if v ~= v then return "NA" end
  return string.format("%." .. digits .. "g", v)
end

-- Quantile type 7 (R's default) of a sorted list.
local function quantile(sorted, q)
  local h = (#sorted - 1) * q + 1
  local lo = math.floor(h)
  local hi = math.min(lo + 1, #sorted)
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo])
end

local function pad_left(s, w) return string.rep(" ", w - #s) .. s end
local function pad_right(s, w) return s .. string.rep(" ", w - #s) end

local function stars(p)
  if p ~= p then return "" end
  if p < 0.001 then return "***" elseif p < 0.01 then return "**"
  elseif p < 0.05 then return "*" elseif p < 0.1 then return "." end
  return " "
end

-- The F test's p value on the last line, as R prints it.
local function format_p(p)
  if p ~= p then return "NA" end
  if p < 2.2e-16 then return "< 2.2e-16" end
  if p < 1e-3 then return string.format("%.3g", p) end
  return string.format("%.4g", p)
end

-- A column of p values as R's format.pval: those >= 1e-3 share one fixed format with 3
-- significant digits for the smallest, the others are scientific, below 2e-16 "<2e-16".
local function format_pvalues(pvalues)
  local decimals = 0
  for _, p in ipairs(pvalues) do
    if p == p and p >= 1e-3 then
      decimals = math.max(decimals, 2 - math.floor(math.log(p, 10)))
    end
  end
  local out = {}
  for j, p in ipairs(pvalues) do
    if p ~= p then out[j] = "NA"
    elseif p < 2e-16 then out[j] = "<2e-16"
    elseif p < 1e-3 then
      -- each on its own: fixed when it is no wider than scientific (0.000944, 1.49e-12)
      local sci = string.format("%.2e", p)
      local fix = string.format("%." .. (2 - math.floor(math.log(p, 10))) .. "f", p)
      out[j] = #fix <= #sci and fix or sci
    else out[j] = string.format("%." .. decimals .. "f", p) end
  end
  return out
end

-- A column of numbers printed with a shared number of decimals so that the most precise
-- one shows `digits` significant digits (roughly R's format()).
local function format_column(values, digits)
  local decimals = 0
  for _, v in ipairs(values) do
    if v == v and v ~= 0 and math.abs(v) < math.huge then
      local mag = math.floor(math.log(math.abs(v), 10))
      decimals = math.max(decimals, math.min(digits - 1 - mag, 12))
    end
  end
  -- Fixed notation unless scientific is narrower, as R's format() decides.
  local fixed, sci, wf, ws = {}, {}, 0, 0
  for i, v in ipairs(values) do
    if v ~= v then
      fixed[i], sci[i] = "NA", "NA"
    else
      fixed[i] = string.format("%." .. decimals .. "f", v)
      sci[i] = string.format("%." .. (digits - 1) .. "e", v)
    end
    wf, ws = math.max(wf, #fixed[i]), math.max(ws, #sci[i])
  end
  return wf > ws and sci or fixed
end

function Fit:summary()
  check_fit(self, "summary")
  local lines = {}
  local function add(s) lines[#lines + 1] = s end
  local terms = {}
  for j = (self.intercept and 2 or 1), self.p do terms[#terms + 1] = self.names[j] end
  add("Call:")
  add(string.format("loom.regress(%s ~ %s%s)", self.yname,
    #terms > 0 and table.concat(terms, " + ") or "1", self.intercept and "" or " - 1"))
  add("")
  local r = self.residuals:totable()
  local res = {}
  for i, row in ipairs(r) do res[i] = row[1] end
  if #res > 5 then
    table.sort(res)
    add("Residuals:")
    local q = {res[1], quantile(res, 0.25), quantile(res, 0.5), quantile(res, 0.75), res[#res]}
    local txt = format_column(q, 4)
    local heads = {"Min", "1Q", "Median", "3Q", "Max"}
    local w = 0
    for _, s in ipairs(txt) do w = math.max(w, #s) end
    local h, v = {}, {}
    for i = 1, 5 do h[i] = pad_left(heads[i], w); v[i] = pad_left(txt[i], w) end
    add(table.concat(h, " "))
    add(table.concat(v, " "))
  else
    add("Residuals:")
    add(table.concat(format_column(res, 4), " "))
  end
  add("")
  if #self.aliased > 0 then
    add(string.format("Coefficients: (%d not defined because of singularities)", #self.aliased))
  else
    add("Coefficients:")
  end
  -- Like printCoefmat: estimates and standard errors share one format of 4 digits.
  local both = {}
  for j = 1, self.p do both[j], both[self.p + j] = self.coef[j], self.stderr[j] end
  local txt = format_column(both, 4)
  local est, se = {}, {}
  for j = 1, self.p do est[j], se[j] = txt[j], txt[self.p + j] end
  local tv = {}
  for j = 1, self.p do tv[j] = self.tvalues[j] ~= self.tvalues[j] and "NA" or string.format("%.3f", self.tvalues[j]) end
  local pv = format_pvalues(self.pvalues)
  local header = {"", "Estimate", "Std. Error", "t value", "Pr(>|t|)"}
  local columns = {self.names, est, se, tv, pv}
  local widths = {}
  for c, col in ipairs(columns) do
    widths[c] = #header[c]
    for _, s in ipairs(col) do widths[c] = math.max(widths[c], #s) end
  end
  local head = {pad_right("", widths[1])}
  for c = 2, 5 do head[c] = pad_left(header[c], widths[c]) end
  add(table.concat(head, " "))
  for j = 1, self.p do
    local row = {pad_right(self.names[j], widths[1])}
    for c = 2, 5 do row[c] = pad_left(columns[c][j], widths[c]) end
    add(table.concat(row, " ") .. " " .. stars(self.pvalues[j]))
  end
  add("---")
  add("Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1")
  add("")
  add(string.format("Residual standard error: %s on %d degrees of freedom", fmt_sig(self.sigma, 4), self.df))
  add(string.format("Multiple R-squared:  %s,\tAdjusted R-squared:  %s", fmt_sig(self.r2, 4), fmt_sig(self.adj_r2, 4)))
  if self.fstat then
    add(string.format("F-statistic: %s on %d and %d DF,  p-value: %s", fmt_sig(self.fstat, 4),
      self.fstat_df[1], self.fstat_df[2], format_p(self.fstat_pvalue)))
  end
  for _, w in ipairs(self.warnings or {}) do add("Warning: " .. w) end
  return table.concat(lines, "\n")
end

Fit.__tostring = function(self) return self:summary() end

return regress
