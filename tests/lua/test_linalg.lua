-- test_linalg.lua: loom.linalg: every lstsq method against every other, ridge, several
-- right-hand sides, dependent columns, the decompositions and their error messages.
local loom = require "loom"
local la = loom.linalg

local METHODS = {"qr", "svd", "normal", "gd", "sgd", "cg"}

local function relerr(a, b) return (a - b):norm() / math.max(b:norm(), 1e-300) end

-- A well-conditioned problem: y = X beta + noise (noise = 0: consistent, for SGD).
local function problem(m, p, k, noise, seed)
  loom.seed(seed or 7)
  local X = loom.randn(m, p)
  local y = X * loom.randn(p, k or 1)
  if noise and noise > 0 then y = y + loom.randn(m, k or 1) * noise end
  return X, y
end

test("lstsq: every method agrees with the naive MGS reference (consistent system)", function()
  local X, y = problem(300, 8, 1, 0)
  local ref = la.lstsq_naive(X, y)
  for _, m in ipairs(METHODS) do
    local b, info = la.lstsq(X, y, {method = m, max_iter = m == "sgd" and 3000 or nil})
    local tol = (m == "qr" or m == "svd" or m == "normal") and 1e-12 or 1e-8
    check(relerr(b, ref) < tol, "%s: relative error %g", m, relerr(b, ref))
    equal(info.method, m, "info.method")
    equal(#info.warnings, 0, m .. " warnings: " .. tostring(info.warnings[1]))
    check(info.residual_norm < tol * y:norm(), "%s residual %g", m, info.residual_norm)
  end
end)

test("lstsq: noisy problem, iterative gd/cg vs qr to 1e-8; direct to 1e-12", function()
  local X, y = problem(500, 12, 1, 0.5, 11)
  local ref = la.lstsq(X, y)
  for _, m in ipairs{"svd", "normal", "gd", "cg"} do
    local b, info = la.lstsq(X, y, {method = m})
    local tol = (m == "gd" or m == "cg") and 1e-8 or 1e-12
    check(relerr(b, ref) < tol, "%s: relative error %g", m, relerr(b, ref))
    if m == "gd" or m == "cg" then
      check(info.converged and info.iterations > 0 and info.grad_norm <= 1e-10, "%s info", m)
    end
  end
  -- SGD with a decaying rate gets near, and says it did not reach tol.
  local b, info = la.lstsq(X, y, {method = "sgd", max_iter = 30, schedule = "inverse", decay = 0.5})
  check(relerr(b, ref) < 0.05, "sgd relative error %g", relerr(b, ref))
  check(info.converged == false and info.warnings[1]:find("sgd did not converge in 30 epochs", 1, true),
    "sgd warning: %s", tostring(info.warnings[1]))
end)

test("lstsq: several right-hand sides at once equal one at a time", function()
  local X, Y = problem(120, 5, 3, 0.1, 3)
  for _, m in ipairs{"qr", "svd", "normal", "cg"} do
    local B = la.lstsq(X, Y, {method = m})
    equal(B:rows() * 10 + B:cols(), 53, m .. " shape")
    for c = 1, 3 do
      local b = la.lstsq(X, Y:col(c):copy(), {method = m})
      check(relerr(B:col(c):copy(), b) < 1e-10, "%s column %d", m, c)
    end
  end
end)

test("lstsq: ridge on every method equals (X'X + lambda I)^-1 X'y", function()
  local X, y = problem(200, 6, 1, 1.0, 5)
  local lambda = 25
  local ref = la.solve(X:t() * X + loom.eye(6) * lambda, X:t() * y)
  for _, m in ipairs(METHODS) do
    local b = la.lstsq(X, y, {method = m, ridge = lambda, max_iter = m == "sgd" and 300 or nil,
      schedule = m == "sgd" and "inverse" or nil, decay = m == "sgd" and 0.2 or nil})
    local tol = m == "sgd" and 0.05 or ((m == "gd" or m == "cg") and 1e-8 or 1e-11)
    check(relerr(b, ref) < tol, "%s: relative error %g", m, relerr(b, ref))
  end
end)

test("lstsq: ridge makes a rank-deficient problem well posed", function()
  local X = problem(50, 3, 1, 0, 9)
  X = loom.hcat{X, X:col(1) + X:col(2)}
  local y = loom.randn(50, 1)
  local ref = la.solve(X:t() * X + loom.eye(4), X:t() * y)
  for _, m in ipairs{"qr", "svd", "normal", "cg"} do
    local b, info = la.lstsq(X, y, {method = m, ridge = 1})
    check(relerr(b, ref) < 1e-9, "%s: relative error %g", m, relerr(b, ref))
    equal(#info.warnings, 0, m .. " warnings")
  end
end)

test("lstsq: dependent column (col 4 = col 1 + col 2), each method's documented behaviour", function()
  local X0, _ = problem(100, 3, 1, 0, 13)
  local X = loom.hcat{X0, X0:col(1) + X0:col(2)}
  local y = X0 * loom.matrix{{1}, {2}, {3}} + loom.randn(100, 1) * 0.1
  local best = la.lstsq(X0, y)
  local best_res = (X0 * best - y):norm()
  -- qr: basic solution, the dependent column gets 0, a warning names it.
  local b, info = la.lstsq(X, y)
  equal(info.rank, 3, "qr rank")
  check(#info.warnings == 1 and info.warnings[1]:find("rank 3 of 4", 1, true), "qr warning %s", tostring(info.warnings[1]))
  local zeros = 0
  for j = 1, 4 do if b:get(j, 1) == 0 then zeros = zeros + 1 end end
  equal(zeros, 1, "qr: one coefficient set to zero")
  close(info.residual_norm, best_res, 1e-10, "qr residual is the least-squares one")
  -- svd: minimum-norm solution (orthogonal to the null vector (1, 1, 0, -1)).
  local s, sinfo = la.lstsq(X, y, {method = "svd"})
  equal(sinfo.rank, 3, "svd rank")
  check(#sinfo.warnings == 1, "svd warning")
  local null = s:get(1, 1) + s:get(2, 1) - s:get(4, 1)
  check(math.abs(null) < 1e-10, "svd: not minimum norm (%g)", null)
  close(sinfo.residual_norm, best_res, 1e-10, "svd residual")
  check(#sinfo.singular_values == 4 and sinfo.singular_values[4] < 1e-14 * sinfo.singular_values[1],
    "singular values")
  -- normal: an error that names the dependency.
  checkerror('linalg.lstsq: X\'X is singular (rank 3 of 4 columns): column 4 = 1 * column 1 + 1 * column 2; use method = "qr" or "svd"',
    la.lstsq, X, y, {method = "normal"})
  -- gd, cg: converge to a least-squares solution (the minimum-norm one of the scaled problem).
  for _, m in ipairs{"gd", "cg"} do
    local bi, ii = la.lstsq(X, y, {method = m})
    check(ii.converged, "%s converged", m)
    close(ii.residual_norm, best_res, 1e-8, m .. " residual")
    equal(ii.rank, nil, m .. " reports no rank")
  end
  -- sgd: near the least-squares fit (a decaying rate tames the mini-batch noise).
  local _, si = la.lstsq(X, y, {method = "sgd", max_iter = 50, schedule = "inverse", decay = 0.5})
  check(si.residual_norm < best_res * 1.01, "sgd residual %g vs %g", si.residual_norm, best_res)
end)

test("lstsq: a zero column and a duplicated column", function()
  local X0 = problem(40, 2, 1, 0, 17)
  local X = loom.hcat{X0, loom.zeros(40, 1)}
  local y = loom.randn(40, 1)
  local b, info = la.lstsq(X, y)
  equal(info.rank, 2, "rank")
  equal(b:get(3, 1), 0, "zero column gets 0")
  checkerror_like("column 3 = 0 (a zero column)", la.lstsq, X, y, {method = "normal"})
  X = loom.hcat{X0, X0:col(2) * 3}
  checkerror('linalg.lstsq: X\'X is singular (rank 2 of 3 columns): column 3 = 3 * column 2; use method = "qr" or "svd"',
    la.lstsq, X, y, {method = "normal"})
end)

test("lstsq: underdetermined (more columns than rows)", function()
  loom.seed(3)
  local X, y = loom.randn(3, 5), loom.randn(3, 1)
  local b, info = la.lstsq(X, y, {method = "svd"})
  equal(info.rank, 3, "svd rank")
  check((X * b - y):norm() < 1e-12, "svd fits exactly")
  local bq, qinfo = la.lstsq(X, y)
  equal(qinfo.rank, 3, "qr rank")
  check((X * bq - y):norm() < 1e-12, "qr fits exactly")
  check(bq:norm() >= b:norm() - 1e-12, "svd is the minimum-norm one")
end)

test("lstsq: iterative methods stop at max_iter with a warning, never hang", function()
  local X, y = problem(200, 10, 1, 1, 21)
  X = X:copy()
  for i = 1, 200 do X:set(i, 10, X:get(i, 9) + 1e-4 * X:get(i, 10)) end -- ill-conditioned
  for _, m in ipairs{"gd", "cg", "sgd"} do
    local _, info = la.lstsq(X, y, {method = m, max_iter = 3})
    equal(info.iterations, 3, m .. " iterations")
    equal(info.converged, false, m .. " converged")
    check(info.warnings[1]:find(m .. " did not converge in 3", 1, true), "%s warning %s", m, tostring(info.warnings[1]))
  end
  local _, info = la.lstsq(X, y, {method = "gd", lr = 100})
  check(info.diverged and info.warnings[1]:find("gd diverged", 1, true), "divergence warning: %s", tostring(info.warnings[1]))
end)

test("lstsq: sgd is reproducible through loom.seed", function()
  local X, y = problem(100, 4, 1, 0.3, 23)
  loom.seed(5)
  local a = la.lstsq(X, y, {method = "sgd", max_iter = 5, batch = 8})
  loom.seed(5)
  local b, info = la.lstsq(X, y, {method = "sgd", max_iter = 5, batch = 8})
  equal((a - b):norm(), 0, "same seed, same result")
  equal(info.steps, 5 * 13, "mini-batch steps")
end)

test("lstsq: the normal equations report their condition and warn when digits are lost", function()
  local X, y = problem(100, 3, 1, 0.1, 29)
  local _, info = la.lstsq(X, y, {method = "normal"})
  check(info.cond_normal > 1 and info.cond_normal < 100, "cond_normal %g", info.cond_normal)
  equal(#info.warnings, 0, "no warning when well conditioned")
  X = loom.hcat{X, X:col(1) + loom.randn(100, 1) * 1e-4} -- nearly, not exactly, dependent
  _, info = la.lstsq(X, y, {method = "normal"})
  check(info.warnings[1] and info.warnings[1]:find("digits may be lost", 1, true), "warning: %s", tostring(info.warnings[1]))
end)

test("lstsq: option and shape errors", function()
  local X, y = loom.zeros(4, 2), loom.zeros(3, 1)
  checkerror("linalg.lstsq: X is 4x2 but y is 3x1 (rows differ)", la.lstsq, X, y)
  y = loom.ones(4, 1)
  checkerror("linalg.lstsq: unknown method 'lu' (qr, svd, normal, gd, sgd, cg)", la.lstsq, X, y, {method = "lu"})
  checkerror("linalg.lstsq: unknown option 'lamda'", la.lstsq, X, y, {lamda = 1})
  checkerror("linalg.lstsq: option 'ridge' must be a number, got string", la.lstsq, X, y, {ridge = "1"})
  checkerror("linalg.lstsq: ridge must be a finite number >= 0, got -1.0", la.lstsq, X, y, {ridge = -1})
  checkerror("linalg.lstsq: unknown schedule 'cosine' (constant, inverse, exponential)", la.lstsq, X, y,
    {method = "sgd", schedule = "cosine"})
  checkerror("linalg.lstsq: batch must be >= 1, got 0.0", la.lstsq, X, y, {method = "sgd", batch = 0})
  checkerror("linalg.lstsq: X must be a matrix, got table", la.lstsq, {}, y)
end)

-- ---- decompositions ----

local function spd(n, seed)
  loom.seed(seed)
  local A = loom.randn(n, n)
  return A * A:t() + loom.eye(n) * n
end

test("solve, inv, det on a random well-conditioned matrix", function()
  local A = spd(6, 31) + loom.randn(6, 6)
  local B = loom.randn(6, 2)
  local Xs = la.solve(A, B)
  check((A * Xs - B):norm() < 1e-12 * B:norm() * 10, "solve residual")
  local Ai = la.inv(A)
  check((A * Ai - loom.eye(6)):norm() < 1e-12, "inv")
  check(relerr(Ai * B, Xs) < 1e-12, "inv vs solve")
  local M = loom.matrix{{0, 2, 0}, {1, 0, 0}, {0, 0, 3}} -- one swap: det = -6
  close(la.det(M), -6, 1e-14, "det with a row swap")
  local sign, logabs = la.det(M, {log = true})
  equal(sign, -1, "sign")
  close(logabs, math.log(6), 1e-14, "log|det|")
  local big = loom.eye(400) * 10 -- det = 1e400 overflows; its log does not
  sign, logabs = la.det(big, {log = true})
  equal(sign, 1, "big sign")
  close(logabs, 400 * math.log(10), 1e-13, "big log det")
  equal(la.det(big), math.huge, "det overflows to inf")
  equal(la.det(loom.matrix{{1, 2}, {2, 4}}), 0.0, "singular det")
end)

test("svd, qr, cholesky, eigh reconstruct their matrix", function()
  loom.seed(37)
  for _, shape in ipairs{{7, 4}, {4, 7}, {5, 5}} do
    local A = loom.randn(shape[1], shape[2])
    local U, S, Vt = la.svd(A)
    local k = math.min(shape[1], shape[2])
    check(U:rows() == shape[1] and U:cols() == k and Vt:rows() == k and Vt:cols() == shape[2], "svd shapes")
    check((U:mul(S:t()) * Vt - A):norm() < 1e-13 * 10, "svd reconstruct %dx%d", shape[1], shape[2])
    check((U:t() * U - loom.eye(k)):norm() < 1e-13, "U orthonormal")
    for i = 2, k do check(S:get(i, 1) <= S:get(i - 1, 1), "descending") end
    local Sv = la.svd(A, {vectors = false})
    check(relerr(Sv, S) < 1e-14, "values only")
    local Q, R = la.qr(A)
    check((Q * R - A):norm() < 1e-13 * 10, "qr reconstruct")
    check((Q:t() * Q - loom.eye(k)):norm() < 1e-13, "Q orthonormal")
    for i = 2, R:rows() do for j = 1, math.min(i - 1, R:cols()) do equal(R:get(i, j), 0, "R upper") end end
  end
  local A = spd(5, 41)
  local L = la.cholesky(A)
  check((L * L:t() - A):norm() < 1e-12 * A:norm(), "cholesky")
  equal(L:get(1, 2), 0, "L lower")
  local w, V = la.eigh(A)
  check((A * V - V:mul(w:t())):norm() < 1e-12 * A:norm(), "eigh")
  for i = 2, 5 do check(w:get(i, 1) >= w:get(i - 1, 1), "ascending") end
  check(relerr(la.eigh(A, {vectors = false}), w) < 1e-14, "eigh values only")
end)

test("pinv, cond, rank", function()
  loom.seed(43)
  local A = loom.randn(6, 4)
  local P = la.pinv(A)
  check((A * P * A - A):norm() < 1e-12, "A P A = A")
  check(relerr(P, la.inv(A:t() * A) * A:t()) < 1e-12, "full column rank pinv")
  local D = loom.hcat{A, A:col(1) * 2}
  equal(la.rank(D), 4, "rank of a dependent matrix")
  equal(la.rank(A), 4, "rank")
  equal(la.rank(D, {tol = 1e300}), 0, "rank with a huge tol")
  check((D * la.pinv(D) * D - D):norm() < 1e-12, "pinv of rank-deficient")
  local _, S = la.svd(A)
  close(la.cond(A), S:get(1, 1) / S:get(4, 1), 1e-14, "cond = s1/sn")
  equal(la.cond(loom.matrix{{1, 0}, {0, 0}}), math.huge, "cond of a singular matrix")
end)

test("decomposition error messages", function()
  local R = loom.zeros(3, 4)
  checkerror("linalg.solve: expected a square matrix, got 3x4", la.solve, R, loom.zeros(3, 1))
  checkerror("linalg.solve: cannot solve a 3x3 system for a right-hand side of 4x1", la.solve,
    loom.eye(3), loom.zeros(4, 1))
  local S = loom.matrix{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}}
  checkerror("linalg.solve: matrix is singular (U(3,3) is exactly zero)", la.solve, S, loom.ones(3, 1))
  checkerror("linalg.inv: matrix is singular (U(3,3) is exactly zero)", la.inv, S)
  checkerror("linalg.inv: matrix is singular (U(1,1) is exactly zero)", la.inv, loom.zeros(2, 2))
  checkerror("linalg.inv: expected a square matrix, got 3x4", la.inv, R)
  checkerror("linalg.det: expected a square matrix, got 3x4", la.det, R)
  checkerror("linalg.cholesky: expected a square matrix, got 3x4", la.cholesky, R)
  checkerror("linalg.cholesky: matrix is not positive definite (leading minor 2 is not positive)",
    la.cholesky, loom.matrix{{1, 2}, {2, 1}})
  checkerror("linalg.eigh: expected a square matrix, got 3x4", la.eigh, R)
  checkerror("linalg.svd: unknown option 'full'", la.svd, R, {full = true})
  checkerror("linalg.solve: A must be a matrix, got number", la.solve, 1, R)
end)

test("betainc, t and F distributions against closed forms and tables", function()
  for _, x in ipairs{0.01, 0.3, 0.5, 0.77, 0.999} do
    close(la.betainc(2.5, 1, x), x ^ 2.5, 1e-14, "I_x(a, 1) = x^a")
    close(la.betainc(1, 3.5, x), 1 - (1 - x) ^ 3.5, 1e-14, "I_x(1, b)")
    close(la.betainc(0.5, 0.5, x), 2 / math.pi * math.asin(math.sqrt(x)), 1e-14, "arcsine law")
  end
  for _, t in ipairs{-30, -2, -0.5, 0, 0.7, 3, 50} do
    close(la.t_cdf(t, 1), 0.5 + math.atan(t) / math.pi, 1e-14, "Cauchy")
    close(la.t_cdf(t, 2), 0.5 + t / (2 * math.sqrt(2 + t * t)), 1e-14, "t with 2 df")
  end
  -- Quantiles from standard tables (qt in R): P(T <= q) = 0.975.
  close(la.t_cdf(2.228138851986274, 10), 0.975, 1e-13, "qt(0.975, 10)")
  close(la.t_cdf(12.70620473617471, 1), 0.975, 1e-13, "qt(0.975, 1)")
  close(la.t_cdf(2.042272456301238, 30), 0.975, 1e-13, "qt(0.975, 30)")
  -- F(1, d) is t(d) squared.
  close(la.f_sf(2.228138851986274 ^ 2, 1, 10), 0.05, 1e-12, "F(1, 10)")
  check(la.betainc(-1, 1, 0.5) ~= la.betainc(-1, 1, 0.5), "NaN outside the domain")
  equal(la.f_sf(0, 2, 3), 1.0, "F at 0")
end)

test("lstsq: qr's refinement step can be turned off and changes only rounding", function()
  local X, y = problem(100, 4, 2, 0.2, 47)
  local a = la.lstsq(X, y)
  local b = la.lstsq(X, y, {refine = false})
  check(relerr(a, b) < 1e-13, "refined vs not: %g", relerr(a, b))
  checkerror("linalg.lstsq: option 'refine' must be a boolean, got number", la.lstsq, X, y, {refine = 1})
end)

test("NaN and infinite inputs are refused with their position", function()
  local X = loom.ones(4, 2)
  X:set(3, 2, 0 / 0)
  checkerror("linalg.lstsq: X has a NaN at (3, 2)", la.lstsq, X, loom.ones(4, 1))
  checkerror("linalg.lstsq: X has a NaN at (3, 2)", la.lstsq, X, loom.ones(4, 1), {method = "normal"})
  local Xinf = loom.ones(4, 2)
  Xinf:set(4, 1, -math.huge)
  checkerror("linalg.lstsq: X has an infinite value at (4, 1)", la.lstsq, Xinf, loom.ones(4, 1),
    {method = "normal"})
  checkerror("linalg.lstsq: X'X overflows (a column's sum of squares is beyond the double range); "
    .. "scale the columns or use method = \"qr\"", la.lstsq, loom.fill(4, 2, 1e200), loom.ones(4, 1),
    {method = "normal"})
  checkerror("linalg.lstsq: y has an infinite value at (2, 1)", la.lstsq, loom.ones(4, 2),
    loom.matrix{{1}, {math.huge}, {1}, {1}})
  local A = loom.eye(2)
  A:set(1, 2, -math.huge)
  checkerror("linalg.svd: A has an infinite value at (1, 2)", la.svd, A)
  checkerror("linalg.solve: A has an infinite value at (1, 2)", la.solve, A, loom.ones(2, 1))
  checkerror("linalg.eigh: A has an infinite value at (1, 2)", la.eigh, A)
  checkerror("linalg.qr: A has an infinite value at (1, 2)", la.qr, A)
end)

test("lstsq: a user rcond decides what counts as dependent", function()
  loom.seed(53)
  local X = loom.randn(60, 3)
  X = loom.hcat{X, X:col(1) + loom.randn(60, 1) * 1e-6}
  local y = loom.randn(60, 1)
  local _, info = la.lstsq(X, y)
  equal(info.rank, 4, "default: nearly dependent is still independent")
  _, info = la.lstsq(X, y, {rcond = 1e-4})
  equal(info.rank, 3, "qr with rcond 1e-4")
  _, info = la.lstsq(X, y, {method = "svd", rcond = 1e-4})
  equal(info.rank, 3, "svd with rcond 1e-4")
end)

test("lstsq and regress take y as a plain list of numbers", function()
  local X = loom.matrix{{1, 0}, {1, 1}, {1, 2}}
  local b, info = la.lstsq(X, {1, 3, 5})
  close(b:get(1, 1), 1, 1e-14, "intercept")
  close(b:get(2, 1), 2, 1e-14, "slope")
  check(info.cond > 1, "qr reports cond")
  local _, cinfo = la.lstsq(X, {1, 3, 5}, {method = "cg"})
  equal(cinfo.cond, nil, "cg reports no condition number")
  local fit = loom.regress(X:col(2):copy(), {1, 3, 5})
  close(fit.coef[2], 2, 1e-14, "regress slope")
end)

test("the regression experiment loads with its documented params", function()
  local experiment = require "loom.experiment"
  local e = assert(experiment.load(PROJECT_DIR .. "/scripts/experiments/regression.lua"))
  equal(e.name, "regression", "name")
  equal(e.params.quick, false, "quick defaults to false")
  equal(e.params.seed, 42, "seed")
end)

test("lstsq works on views (row stride larger than the width) for every method", function()
  loom.seed(59)
  local M = loom.randn(80, 6)
  local X, y = M:slice(1, 80, 1, 4), M:col(6)
  check(X:is_view() and y:is_view(), "views")
  local ref = la.lstsq_naive(X:copy(), y:copy())
  for _, m in ipairs{"qr", "svd", "normal", "gd", "cg"} do
    local b = la.lstsq(X, y, {method = m})
    local tol = (m == "gd" or m == "cg") and 1e-8 or 1e-12
    check(relerr(b, ref) < tol, "%s on views: %g", m, relerr(b, ref))
  end
  local A = M:slice(1, 4, 1, 4)
  check((A * la.solve(A, M:slice(1, 4, 5, 5)) - M:slice(1, 4, 5, 5)):norm() < 1e-12, "solve on views")
  check((A * la.inv(A) - loom.eye(4)):norm() < 1e-12, "inv on a view")
end)

test("lstsq computes info.residual_norm when it is first read", function()
  loom.seed(11)
  local X, y = loom.randn(40, 3), loom.randn(40, 2)
  for _, m in ipairs({"qr", "svd", "normal", "cg"}) do
    local beta, info = loom.linalg.lstsq(X, y, {method = m})
    check(rawget(info, "residual_norm") == nil, "%s: not computed before it is read", m)
    close(info.residual_norm, (X * beta - y):norm(), 1e-12, m .. " residual")
    check(rawget(info, "residual_norm"), "%s: kept once computed", m)
  end
end)

test("empty matrices through every decomposition (issue 13, item 5: UBSan saw memcpy(dst, NULL, 0))", function()
  local la = loom.linalg
  for _, shape in ipairs{{3, 0}, {0, 3}, {0, 0}} do
    local A = loom.zeros(shape[1], shape[2])
    local k = math.min(shape[1], shape[2])
    local U, S, Vt = la.svd(A)
    check(U:rows() == shape[1] and U:cols() == k and S:rows() == k and Vt:cols() == shape[2],
      "svd of %dx%d", shape[1], shape[2])
    equal(la.svd(A, {vectors = false}):rows(), k, "singular values only")
    local Q, R = la.qr(A)
    check(Q:rows() == shape[1] and R:cols() == shape[2], "qr of %dx%d", shape[1], shape[2])
    equal(la.pinv(A):rows(), shape[2], "pinv")
    equal(la.rank(A), 0, "rank")
  end
  local E = loom.zeros(0, 0)
  equal(la.inv(E):rows(), 0, "inv 0x0")
  equal(la.det(E), 1, "det of 0x0 is the empty product")
  equal(la.cholesky(E):rows(), 0, "cholesky 0x0")
  equal(la.solve(E, loom.zeros(0, 2)):cols(), 2, "solve 0x0")
  equal(select(1, la.eigh(E)):rows(), 0, "eigh 0x0")
end)

test("the binding's option readers name the option and the wrong type (issue 13, item 14)", function()
  local core = require "loom.core"
  local X, y = loom.randn(5, 2), loom.randn(5, 1)
  checkerror("linalg.lstsq: ridge must be a number, got string", core.linalg.lstsq, X, y, "qr", {ridge = "1"})
  checkerror("linalg.lstsq: schedule must be a string, got number", core.linalg.lstsq, X, y, "gd", {schedule = 1})
  check(core.linalg.lstsq(X, y, "qr", {residual = false, cov = true}), "booleans read as before")
end)
