-- test_nist.lua: the NIST StRD linear least-squares problems: certified digits (LRE) of
-- coefficients, standard errors, residual SD and R² for the default solver, via loom.regress.
local loom = require "loom"
local nist = require "loom.nist"

local DIR = data_dir("nist-strd")
-- Coefficient digits required by issue 3; any other StRD file found must give 7.
local REQUIRED = {Norris = 12, Pontius = 12, NoInt1 = 14, Longley = 10, Wampler1 = 9, Wampler2 = 12}
local STATS = 8

local function datasets()
  local list = {}
  local p = io.popen('ls "' .. DIR .. '"/*.dat 2>/dev/null')
  for line in p:lines() do list[#list + 1] = line end
  p:close()
  return list
end

local function grade(ds, fit)
  local c = ds.certified
  local g = {coef = 15, stderr = 15}
  for j = 1, #c.coef do
    g.coef = math.min(g.coef, nist.lre(fit.coef[j], c.coef[j]))
    g.stderr = math.min(g.stderr, nist.lre(fit.stderr[j], c.stderr[j]))
  end
  g.sd = nist.lre(fit.sigma, c.residual_sd)
  g.r2 = nist.lre(fit.r2, c.r2)
  return g
end

test("nist: the six StRD files are present", function()
  equal(#datasets(), 6, "the bundled datasets/nist-strd holds six .dat files")
  for name in pairs(REQUIRED) do
    check(io.open(DIR .. "/" .. name .. ".dat"), "%s.dat missing", name)
  end
end)

for _, path in ipairs(datasets()) do
  local file = path:match("([^/]+)%.dat$")
  test("nist: " .. file .. " certified digits (qr)", function()
    local ds = assert(nist.read(path))
    local X, y, intercept = nist.design(ds)
    local fit = loom.regress(X, y, {intercept = intercept})
    local g = grade(ds, fit)
    print(string.format("  %-9s LRE coef %.1f  stderr %.1f  residual sd %.1f  R2 %.1f", ds.name,
      g.coef, g.stderr, g.sd, g.r2))
    local need = REQUIRED[ds.name] or 7
    check(g.coef >= need, "%s: coefficient LRE %.2f < %d", ds.name, g.coef, need)
    check(g.stderr >= STATS, "%s: stderr LRE %.2f < %d", ds.name, g.stderr, STATS)
    check(g.sd >= STATS, "%s: residual sd LRE %.2f < %d", ds.name, g.sd, STATS)
    check(g.r2 >= STATS, "%s: R2 LRE %.2f < %d", ds.name, g.r2, STATS)
    equal(#fit.warnings, 0, "warnings of the default solver")
  end)
end

test("nist: svd agrees on the certified coefficients", function()
  for _, path in ipairs(datasets()) do
    local ds = assert(nist.read(path))
    local X, y, intercept = nist.design(ds)
    local fit = loom.regress(X, y, {intercept = intercept, method = "svd"})
    local need = (REQUIRED[ds.name] or 7) - 1
    check(grade(ds, fit).coef >= need, "%s svd: coefficient LRE below %d", ds.name, need)
  end
end)

test("nist: the normal equations lose digits on Wampler1 and Longley, and say so", function()
  for _, name in ipairs{"Wampler1", "Longley"} do
    local ds = nist.read(DIR .. "/" .. name .. ".dat")
    if not ds then skip(name .. ".dat not found") end
    local X, y = nist.design(ds)
    local D = loom.hcat{loom.ones(X:rows(), 1), X}
    local bq = loom.linalg.lstsq(D, y)
    local bn, info = loom.linalg.lstsq(D, y, {method = "normal"})
    local lq, ln = 15, 15
    for j = 1, #ds.certified.coef do
      lq = math.min(lq, nist.lre(bq:get(j, 1), ds.certified.coef[j]))
      ln = math.min(ln, nist.lre(bn:get(j, 1), ds.certified.coef[j]))
    end
    print(string.format("  %s: qr %.1f digits, normal %.1f digits, cond(X'X) %.3g", name, lq, ln,
      info.cond_normal))
    check(ln < lq - 2, "%s: normal equations kept %.1f digits (qr %.1f)", name, ln, lq)
    check(#info.warnings == 1 and info.warnings[1]:find("digits may be lost", 1, true),
      "%s: expected a lost-digits warning, got %s", name, tostring(info.warnings[1]))
  end
end)

test("nist: a Filip-like degree-10 polynomial keeps full rank under the default rcond", function()
  -- x in [-8.78, -3.13] like Filip: cond(X) ~ 1e15 unscaled, ~5e9 once columns are scaled;
  -- numpy's default rcond (max(m,n) * eps on the unscaled X) would drop terms.
  local n = 82
  local x = loom.zeros(n, 1)
  for i = 1, n do x:set(i, 1, -8.78 + (i - 1) * (8.78 - 3.13) / (n - 1)) end
  local powers = {}
  for q = 0, 10 do powers[#powers + 1] = q end
  local X = nist.powers(x, powers)
  local truth = loom.zeros(11, 1)
  for j = 1, 11 do truth:set(j, 1, 1 / j) end
  local y = X * truth
  for _, method in ipairs{"qr", "svd"} do
    local b, info = loom.linalg.lstsq(X, y, {method = method})
    equal(info.rank, 11, method .. " rank")
    equal(#info.warnings, 0, method .. " warnings")
    local fit = (X * b - y):norm() / y:norm()
    check(fit < 1e-12, "%s: relative residual %g", method, fit)
  end
end)

test("nist.read: errors say where", function()
  local ds, err = nist.read(DIR .. "/nonexistent.dat")
  check(ds == nil and err:find("nonexistent.dat", 1, true), "missing file: %s", tostring(err))
  local tmp = os.tmpname()
  local f = io.open(tmp, "w")
  f:write("Dataset Name: Bad\n  B0  1.0  0.5\n Residual\n Standard Deviation 1.0\n R-Squared 0.5\n",
    "Model:\n  y = B0 + e\nData:  y\n 1\n 2x\n")
  f:close()
  ds, err = nist.read(tmp)
  os.remove(tmp)
  check(ds == nil and err:find("line 10: expected a number, got '2x'", 1, true), "bad data: %s", tostring(err))
end)

test("nist.lre: digits of agreement, capped at 15", function()
  close(nist.lre(1.0001, 1), 4, 1e-9, "4 digits")
  equal(nist.lre(2, 2), 15, "exact")
  close(nist.lre(1e-9, 0), 9, 1e-9, "zero certified value: log absolute error")
  equal(nist.lre(0 / 0, 1), 0, "NaN")
end)

-- Exact least squares in rational arithmetic (Python's fractions, standard library): the
-- reference for problems harder than the six files, where no certified values are at hand.
local EXACT_PY = [[
import sys
from fractions import Fraction as F
rows = [tuple(map(float, l.split())) for l in open(sys.argv[1])]
p = int(sys.argv[2])
X = [[F(x) ** k for k in range(p)] for x, _ in rows]
y = [F(v) for _, v in rows]
A = [[sum(r[a] * r[b] for r in X) for b in range(p)] for a in range(p)]
c = [sum(X[i][a] * y[i] for i in range(len(rows))) for a in range(p)]
for k in range(p):
    for r in range(k + 1, p):
        f = A[r][k] / A[k][k]
        for j in range(k, p):
            A[r][j] -= f * A[k][j]
        c[r] -= f * c[k]
beta = [F(0)] * p
for k in reversed(range(p)):
    beta[k] = (c[k] - sum(A[k][j] * beta[j] for j in range(k + 1, p))) / A[k][k]
print(" ".join(repr(float(b)) for b in beta))
]]

test("nist: Filip-like degree 10 against an exact rational solution", function()
  local py, why = reference_python({"fractions"})
  if not py then skip(why) end
  local n, degree = 82, 10
  loom.seed(11)
  local noise = loom.randn(n, 1)
  local x, y = loom.zeros(n, 1), loom.zeros(n, 1)
  local data, script = os.tmpname(), os.tmpname()
  local f = assert(io.open(data, "w"))
  for i = 1, n do
    local xi = -8.78 + (i - 1) * (8.78 - 3.13) / (n - 1)
    local yi = 0.8 + 0.003 * math.sin(xi) + 0.001 * noise:get(i, 1)
    x:set(i, 1, xi)
    y:set(i, 1, yi)
    f:write(string.format("%.17g %.17g\n", xi, yi))
  end
  f:close()
  f = assert(io.open(script, "w"))
  f:write(EXACT_PY)
  f:close()
  local p = io.popen(string.format("%s %s %s %d", py, script, data, degree + 1))
  local out = p:read("a")
  p:close()
  os.remove(data)
  os.remove(script)
  local exact = {}
  for v in out:gmatch("%S+") do exact[#exact + 1] = tonumber(v) end
  equal(#exact, degree + 1, "exact coefficients")
  local powers = {}
  for q = 0, degree do powers[#powers + 1] = q end
  local X = nist.powers(x, powers)
  for _, method in ipairs{"qr", "svd"} do
    local b, info = loom.linalg.lstsq(X, y, {method = method})
    local worst = 15
    for j = 1, degree + 1 do worst = math.min(worst, nist.lre(b:get(j, 1), exact[j])) end
    -- cond(X D) ~ 5e9 leaves about 16 - 9.7 = 6.3 digits to a backward-stable solver.
    print(string.format("  Filip-like %s: %.1f digits, rank %d, cond(XD) %.2g", method, worst,
      info.rank, info.cond))
    equal(info.rank, degree + 1, method .. " rank")
    check(worst >= 6, "%s: only %.2f digits", method, worst)
  end
  checkerror_like("X'X is singular", loom.linalg.lstsq, X, y, {method = "normal"})
end)
