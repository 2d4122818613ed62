-- loom.linalg: least squares by six methods and the dense decompositions, with options
-- checked and the warnings spelled out. Not the OLS statistics (loom.regress).
local core = require("loom.core").linalg
local loom = require "loom"
local check = require "loom.check"

local linalg = {}

local EPS = 2.0 ^ -52
-- Estimated digits lost above which the normal equations warn (cond(X'X) > 10^6).
local NORMAL_WARN_DIGITS = 6

local OPTION_TYPES = {
  method = "string", ridge = "number", rcond = "number", tol = "number", max_iter = "number",
  lr = "number", batch = "number", schedule = "string", decay = "number", cov = "boolean",
  refine = "boolean",
}

local check_options = check.options

local function is_matrix(x) return loom.is_matrix(x) end

-- A Lua list of numbers {1, 2, 3} as the column matrix it stands for.
local function as_column(y)
  if type(y) ~= "table" or is_matrix(y) or #y == 0 or type(y[1]) ~= "number" then return y end
  local rows = {}
  for i, v in ipairs(y) do rows[i] = {v} end
  return loom.matrix(rows)
end
linalg.as_column = as_column

local check_matrix = check.matrix

local function column_list(cols)
  local parts = {}
  for i, c in ipairs(cols) do parts[i] = tostring(c) end
  return table.concat(parts, ", ")
end

-- The warnings of one lstsq result, in plain words.
local function warnings_of(method, info, p, opts)
  local w = {}
  if (method == "qr" or method == "svd") and info.rank < p then
    if not info.pivots and method == "qr" then
      -- no rows: nothing determines any coefficient
      w[#w + 1] = string.format("X has no rows: all %d coefficients are set to 0", p)
    elseif method == "qr" then
      local dropped = {}
      for i = info.rank + 1, p do dropped[#dropped + 1] = info.pivots[i] end
      table.sort(dropped)
      w[#w + 1] = string.format("X is rank deficient (rank %d of %d columns): column%s %s depend%s " ..
        "on the others and %s set to 0 (basic solution; method = \"svd\" gives the minimum-norm one)",
        info.rank, p, #dropped > 1 and "s" or "", column_list(dropped), #dropped > 1 and "" or "s",
        #dropped > 1 and "are" or "is")
    else
      w[#w + 1] = string.format("X is rank deficient (rank %d of %d columns): the minimum-norm " ..
        "solution is returned", info.rank, p)
    end
  end
  if method == "normal" and info.cond_normal then
    local lost = math.log(info.cond_normal, 10)
    if lost > NORMAL_WARN_DIGITS then
      w[#w + 1] = string.format("normal equations: cond(X'X) is about %.2g, so about %d of the 16 " ..
        "significant digits may be lost; method = \"qr\" loses only about %d",
        info.cond_normal, math.floor(lost + 0.5), math.floor(lost / 2 + 0.5))
    end
  end
  if info.diverged then
    w[#w + 1] = string.format("%s diverged after %d %s (lr too large?)", method, info.iterations,
      method == "sgd" and "epochs" or "iterations")
  elseif info.converged == false then
    w[#w + 1] = string.format("%s did not converge in %d %s: relative gradient norm %.3g > tol %.3g",
      method, info.iterations, method == "sgd" and "epochs" or "iterations", info.grad_norm,
      opts.tol or 1e-10)
  end
  return w
end

-- lstsq(X, y [, opts]) -> beta, info
function linalg.lstsq(X, y, opts)
  opts = check_options("linalg.lstsq", opts, OPTION_TYPES)
  y = as_column(y)
  check_matrix("linalg.lstsq", "X", X)
  check_matrix("linalg.lstsq", "y", y)
  local method = opts.method or "qr"
  -- The residual costs a pass over X, as much as the normal equations themselves: it is
  -- computed the first time info.residual_norm is read.
  local core_opts = {residual = false}
  for k, v in pairs(opts) do core_opts[k] = v end
  local beta, info = check.call("linalg.lstsq", core.lstsq, X, y, method, core_opts)
  info.method = method
  info.warnings = warnings_of(method, info, X:cols(), opts)
  return beta, setmetatable(info, {__index = function(t, key)
    if key ~= "residual_norm" then return nil end
    local r = core.residual_norm(X, beta, y)
    rawset(t, key, r)
    return r
  end})
end

linalg.lstsq_naive = core.lstsq_naive

function linalg.solve(A, b)
  check_matrix("linalg.solve", "A", A)
  check_matrix("linalg.solve", "b", b)
  return check.call("linalg.solve", core.solve, A, b)
end

function linalg.inv(A)
  check_matrix("linalg.inv", "A", A)
  return check.call("linalg.inv", core.inv, A)
end

-- det(A) -> number; det(A, {log = true}) -> sign, log|det| (no overflow or underflow)
function linalg.det(A, opts)
  check_matrix("linalg.det", "A", A)
  opts = check_options("linalg.det", opts, {log = "boolean"})
  local sign, logabs = check.call("linalg.det", core.slogdet, A)
  if opts.log then return sign, logabs end
  if sign == 0 then return 0.0 end
  return sign * math.exp(logabs)
end

-- svd(A) -> U, S, Vt (thin; S a k x 1 matrix, descending); svd(A, {vectors = false}) -> S
function linalg.svd(A, opts)
  check_matrix("linalg.svd", "A", A)
  opts = check_options("linalg.svd", opts, {vectors = "boolean"})
  return check.call("linalg.svd", core.svd, A, opts.vectors ~= false)
end

function linalg.qr(A)
  check_matrix("linalg.qr", "A", A)
  return check.call("linalg.qr", core.qr, A)
end

function linalg.cholesky(A)
  check_matrix("linalg.cholesky", "A", A)
  return check.call("linalg.cholesky", core.cholesky, A)
end

-- eigh(A) -> w (ascending, n x 1), V (eigenvectors in columns); {vectors = false} -> w
function linalg.eigh(A, opts)
  check_matrix("linalg.eigh", "A", A)
  opts = check_options("linalg.eigh", opts, {vectors = "boolean"})
  return check.call("linalg.eigh", core.eigh, A, opts.vectors ~= false)
end

-- The default tolerance of rank and pinv: max(m, n) * eps * largest singular value.
local function default_tol(A, s1)
  local m, n = A:shape()
  return math.max(m, n) * EPS * s1
end

function linalg.cond(A)
  check_matrix("linalg.cond", "A", A)
  local m, n = A:shape()
  if m == 0 or n == 0 then return 0.0 end
  local S = core.svd(A, false)
  local smin = S:get(S:rows(), 1)
  return smin > 0 and S:get(1, 1) / smin or math.huge
end

function linalg.rank(A, opts)
  check_matrix("linalg.rank", "A", A)
  opts = check_options("linalg.rank", opts, {tol = "number"})
  local m, n = A:shape()
  if m == 0 or n == 0 then return 0 end
  local S = core.svd(A, false)
  local tol = opts.tol or default_tol(A, S:get(1, 1))
  local r = 0
  for i = 1, S:rows() do if S:get(i, 1) > tol then r = r + 1 end end
  return r
end

-- pinv(A [, {rcond = r}]): V diag(1/s) U^T over the singular values above rcond * s1
-- (default max(m, n) * eps).
function linalg.pinv(A, opts)
  check_matrix("linalg.pinv", "A", A)
  opts = check_options("linalg.pinv", opts, {rcond = "number"})
  local m, n = A:shape()
  if m == 0 or n == 0 then return loom.zeros(n, m) end
  local U, S, Vt = core.svd(A, true)
  local s1 = S:get(1, 1)
  local tol = opts.rcond and opts.rcond * s1 or default_tol(A, s1)
  local inv = S:apply(function(s) return s > tol and 1 / s or 0 end)
  return Vt:t() * (U:t():mul(inv))
end

linalg.wall_time = core.wall_time
linalg.betainc = core.betainc
linalg.t_cdf = core.t_cdf
linalg.f_sf = core.f_sf

return linalg
