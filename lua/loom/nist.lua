-- loom.nist: reader for NIST StRD linear least-squares files (.dat: certified values, model
-- line and data) and the log relative error used to grade a fit. Not a general CSV reader.
local loom = require "loom"

local nist = {}

local function trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end

-- Terms of the model line "y = B0 + B1*x + B2*(x**2) + ... + B10*(x**10) + e" as
-- {param = "B2", var = "x", power = 2} (var nil for the constant term). "..." between two
-- powers of one variable stands for the powers in between.
local function parse_model(line)
  local rhs = line:match("^%s*y%s*=%s*(.-)%s*$")
  if not rhs then return nil, "model line does not start with 'y ='" end
  local terms, gap = {}, false
  for raw in (rhs .. "+"):gmatch("([^+]*)%+") do
    local t = trim(raw):gsub("%s", "")
    if t == "e" or t == "" then
      -- the error term
    elseif t == "..." then
      gap = true
    else
      local k, var, pow = t:match("^B(%d+)%*%(?([%a][%w]*)%*%*(%d+)%)?$")
      if not k then
        k, var = t:match("^B(%d+)%*([%a][%w]*)$")
        pow = var and 1
      end
      if not k then
        k = t:match("^B(%d+)$")
        pow = 0
      end
      if not k then return nil, "cannot read model term '" .. t .. "'" end
      k, pow = tonumber(k), tonumber(pow)
      if gap then
        local last = terms[#terms]
        if not last or last.var ~= var then return nil, "cannot expand '...' in the model" end
        for q = last.power + 1, pow - 1 do
          terms[#terms + 1] = {index = last.index + (q - last.power), var = var, power = q}
        end
        gap = false
      end
      terms[#terms + 1] = {index = k, var = var, power = pow}
    end
  end
  for _, t in ipairs(terms) do t.param = "B" .. t.index end
  return terms
end

local function number(s)
  return tonumber(s) or (s:lower() == "infinity" and math.huge) or nil
end

-- nist.read(path) -> dataset | nil, message. dataset = {name, model, terms, columns,
-- data (matrix, columns as named), y (n x 1), intercept, certified = {params, coef, stderr,
-- residual_sd, r2, df_regression, df_residual, ss_regression, ss_residual, fstat}}
function nist.read(path)
  local f, err = io.open(path)
  if not f then return nil, err end
  local text = f:read("a")
  f:close()
  local ds = {path = path, certified = {params = {}, coef = {}, stderr = {}}}
  local cert = ds.certified
  local lines = {}
  for line in (text:gsub("\r", "") .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
  local data_at, after_residual
  for i, line in ipairs(lines) do
    ds.name = ds.name or line:match("Dataset Name:%s*(%S+)")
    if not ds.model and line:match("^%s*y%s*=") then ds.model = trim(line) end
    local p, est, sd = line:match("^%s*(B%d+)%s+(%S+)%s+(%S+)%s*$")
    if p and number(est) and number(sd) then
      cert.params[#cert.params + 1] = p
      cert.coef[#cert.coef + 1] = number(est)
      cert.stderr[#cert.stderr + 1] = number(sd)
    end
    if line:match("^%s*Residual%s*$") then after_residual = true end
    local rsd = line:match("^%s*Standard Deviation%s+(%S+)%s*$")
    if rsd and after_residual then cert.residual_sd = number(rsd) end
    local r2 = line:match("^%s*R%-Squared%s+(%S+)")
    if r2 then cert.r2 = number(r2) end
    local df, ss, _, fs = line:match("^Regression%s+(%d+)%s+(%S+)%s+(%S+)%s+(%S+)")
    if df then
      cert.df_regression, cert.ss_regression, cert.fstat = tonumber(df), number(ss), number(fs)
    end
    local rdf, rss = line:match("^Residual%s+(%d+)%s+(%S+)")
    if rdf then cert.df_residual, cert.ss_residual = tonumber(rdf), number(rss) end
    if line:match("^Data:%s+y") then data_at = i end
  end
  local where = path .. ": "
  if not ds.model then return nil, where .. "no model line 'y = ...'" end
  if not data_at then return nil, where .. "no 'Data:' header" end
  if #cert.coef == 0 then return nil, where .. "no certified parameter values" end
  if not cert.residual_sd or not cert.r2 then
    return nil, where .. "no certified residual standard deviation or R-squared"
  end
  local terms, merr = parse_model(ds.model)
  if not terms then return nil, where .. merr end
  ds.terms = terms
  ds.columns = {}
  for name in lines[data_at]:sub(6):gmatch("%S+") do ds.columns[#ds.columns + 1] = name end
  local rows = {}
  for i = data_at + 1, #lines do
    local row = {}
    for v in lines[i]:gmatch("%S+") do
      local x = tonumber(v)
      if not x then
        return nil, string.format("%sline %d: expected a number, got '%s'", where, i, v)
      end
      row[#row + 1] = x
    end
    if #row > 0 then
      if #row ~= #ds.columns then
        return nil, string.format("%sline %d: expected %d values, got %d", where, i, #ds.columns, #row)
      end
      rows[#rows + 1] = row
    end
  end
  if #rows == 0 then return nil, where .. "no data rows" end
  ds.data = loom.matrix(rows)
  ds.y = ds.data:col(1):copy()
  ds.intercept = false
  for _, t in ipairs(terms) do if t.power == 0 then ds.intercept = true end end
  if #terms ~= #cert.coef then
    return nil, string.format("%smodel has %d terms but %d certified parameters", where, #terms,
      #cert.coef)
  end
  return ds
end

-- nist.powers(x, powers) -> matrix with column j = x .^ powers[j] (x an n x 1 matrix):
-- the polynomial design. Power 0 is a column of ones.
function nist.powers(x, powers)
  local cols = {}
  for j, q in ipairs(powers) do
    cols[j] = q == 0 and loom.ones(x:rows(), 1) or x:pow(q)
  end
  return loom.hcat(cols)
end

-- nist.design(ds) -> X (without the constant column), y, intercept: the model's predictors
-- in parameter order, built from the model line (never from the file name).
function nist.design(ds)
  local index = {}
  for j, name in ipairs(ds.columns) do index[name] = j end
  local cols = {}
  for _, t in ipairs(ds.terms) do
    if t.power > 0 then
      local j = index[t.var]
      if not j then error("nist.design: model uses '" .. t.var .. "' which is not a data column", 2) end
      cols[#cols + 1] = nist.powers(ds.data:col(j), {t.power})
    end
  end
  local X = #cols > 0 and loom.hcat(cols) or loom.zeros(ds.data:rows(), 0)
  return X, ds.y, ds.intercept
end

-- Log relative error: the number of digits est and cert agree to, in [0, 15]; when cert
-- is 0 the log absolute error.
function nist.lre(est, cert)
  if est ~= est then return 0 end
  if est == cert then return 15 end
  local err = cert == 0 and math.abs(est) or math.abs(est - cert) / math.abs(cert)
  local lre = -math.log(err, 10)
  if lre > 15 then return 15 end
  if lre < 0 then return 0 end
  return lre
end

return nist
