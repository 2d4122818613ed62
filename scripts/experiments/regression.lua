-- regression.lua: the course's least-squares story end to end: the normal equation vs QR vs
-- SVD vs an explicit inverse on NIST's Longley and Wampler problems (digits correct, condition
-- numbers), what each method does with a linearly dependent feature, how the cost grows with n
-- and p (and where iterative methods overtake), and why squared errors make outliers count:
-- least squares vs least absolute deviations vs Huber as one outlier grows.
-- Run: loom run scripts/experiments/regression.lua [quick=true] [max_mb=4000] [parts=robust,cost]
local loom = require "loom"
local nist = require "loom.nist"
local la = loom.linalg

local function min_lre(beta, certified)
  local worst = 15
  for j, c in ipairs(certified) do worst = math.min(worst, nist.lre(beta:get(j, 1), c)) end
  return worst
end

-- What the course writes: beta = (X'X)^-1 X'y, the inverse formed explicitly.
local function inverse_fit(X, y)
  local Xt = X:t()
  return la.inv(Xt * X) * (Xt * y)
end

-- Part 1: digits correct against NIST's certified values.
local function accuracy(run, results)
  print("\n== 1. Normal equation vs inverse vs QR vs SVD on NIST StRD (digits correct: min LRE over coefficients)")
  print("data: " .. loom.data.require("nist-strd"))
  print(string.format("%-9s %10s %10s %10s %10s %11s %11s %11s", "dataset", "normal", "inverse", "qr", "svd",
    "cond(X)", "cond(XD)", "cond(X'X)"))
  local lost = {} -- digits the explicit inverse loses against the normal equations' Cholesky solve
  for k, name in ipairs{"Longley", "Wampler1", "Wampler2", "Pontius", "Norris"} do
    local ds = assert(nist.read(loom.data.require("nist-strd") .. "/" .. name .. ".dat"))
    do
      local X, y, intercept = nist.design(ds)
      local D = intercept and loom.hcat{loom.ones(X:rows(), 1), X} or X
      local row = {}
      local ok, bn, ninfo = pcall(la.lstsq, D, y, {method = "normal"})
      row.normal = ok and min_lre(bn, ds.certified.coef) or 0
      local iok, bi = pcall(inverse_fit, D, y)
      row.inverse = iok and min_lre(bi, ds.certified.coef) or 0
      local bq = la.lstsq(D, y)
      row.qr = min_lre(bq, ds.certified.coef)
      local bs, sinfo = la.lstsq(D, y, {method = "svd"})
      row.svd = min_lre(bs, ds.certified.coef)
      lost[#lost + 1] = {name = name, inverse = row.normal - row.inverse, against_qr = row.qr - row.inverse}
      local cond_raw = la.cond(D)
      print(string.format("%-9s %10.1f %10.1f %10.1f %10.1f %11.3g %11.3g %11.3g", name, row.normal,
        row.inverse, row.qr, row.svd, cond_raw, sinfo.cond, ok and ninfo.cond_normal or 0 / 0))
      if ok and ninfo.warnings[1] then print("          normal warns: " .. ninfo.warnings[1]) end
      results[name:lower() .. "_digits_normal"] = row.normal
      results[name:lower() .. "_digits_inverse"] = row.inverse
      results[name:lower() .. "_digits_qr"] = row.qr
      results[name:lower() .. "_digits_svd"] = row.svd
      run:log{dataset_index = k, digits_normal = row.normal, digits_qr = row.qr, digits_svd = row.svd,
        cond = cond_raw}
    end
  end
  print("cond(X): raw design; cond(XD): after scaling columns to unit norm (what QR and SVD face);")
  print("cond(X'X): what the normal equations face (the square of cond(XD)), estimated by dpocon.")
  table.sort(lost, function(a, b) return a.inverse > b.inverse end)
  if lost[1] then
    results.inverse_digits_lost = lost[1].inverse
    print(string.format("=> forming (X'X)^-1 explicitly loses up to %.1f digits against solving with X'X's " ..
      "Cholesky factor (%s), and %.1f against QR, which never forms X'X.", math.max(lost[1].inverse, 0),
      lost[1].name, lost[1].against_qr))
  end
end

-- Part 2: a feature that is the sum of two others.
local function singular(results)
  print("\n== 2. A linearly dependent feature: x4 = x1 + x2")
  local n = 200
  local X0 = loom.randn(n, 3)
  local X = loom.hcat{X0, X0:col(1) + X0:col(2)}
  local y = X0 * loom.matrix{{1}, {2}, {3}} + loom.randn(n, 1) * 0.1
  for _, method in ipairs{"normal", "qr", "svd", "cg", "gd"} do
    local ok, b, info = pcall(la.lstsq, X, y, {method = method})
    if not ok then
      print(string.format("%-7s error: %s", method, tostring(b):gsub("^[^:]*:%d+: ", "")))
      results["singular_" .. method] = "error"
    else
      local coefs = {}
      for j = 1, 4 do coefs[j] = string.format("%.4f", b:get(j, 1)) end
      print(string.format("%-7s beta = (%s)  residual %.6f  %s", method, table.concat(coefs, ", "),
        info.residual_norm, info.rank and ("rank " .. info.rank) or ("iterations " .. info.iterations)))
      for _, w in ipairs(info.warnings) do print("        warning: " .. w) end
      results["singular_" .. method] = info.rank or "n/a"
    end
  end
  print("All fits have the same residual: the data cannot tell beta1 + beta4 from beta2 + beta4.")
  print("qr picks the basic solution (a 0), svd the shortest beta, normal refuses and names the columns.")
end

local DIRECT, ITERATIVE = {"normal", "inverse", "qr", "svd"}, {"cg", "gd", "sgd"}
local COST_METHODS = {"normal", "inverse", "qr", "svd", "cg", "gd", "sgd"}

local function fastest_of(t, methods)
  local best
  for _, m in ipairs(methods) do
    if t[m] and (not best or t[m] < t[best]) then best = m end
  end
  return best
end

-- The first size (rows sorted by n p^2) from which on an iterative method is faster than
-- every direct one at every larger size: where the iterative methods overtake, or nil.
local function overtake_point(rows)
  local from
  for i = #rows, 1, -1 do
    local t = rows[i].t
    if t[fastest_of(t, ITERATIVE)] < t[fastest_of(t, DIRECT)] then from = i else break end
  end
  return from and rows[from]
end

-- cost.csv (n, p, one time per method) and cost.png: time against n p^2 for each method,
-- log-log, where the direct methods' slope shows, with the overtaking point marked.
local function write_cost_artifacts(run, rows, over)
  local csv = run:artifact("cost.csv")
  local f = assert(io.open(csv, "w"))
  f:write("n,p,n_p2," .. table.concat(COST_METHODS, ",") .. "\n")
  for _, r in ipairs(rows) do
    local cells = {r.n, r.p, r.n * r.p * r.p}
    for _, m in ipairs(COST_METHODS) do cells[#cells + 1] = string.format("%.6f", r.t[m]) end
    f:write(table.concat(cells, ",") .. "\n")
  end
  f:close()
  print("wrote " .. csv)
  local series = {}
  for _, m in ipairs(COST_METHODS) do
    local xs, ys = {}, {}
    for _, r in ipairs(rows) do xs[#xs + 1], ys[#ys + 1] = r.n * r.p * r.p, r.t[m] end
    local iterative = m == "cg" or m == "gd" or m == "sgd"
    series[#series + 1] = {title = m .. (iterative and " (iterative)" or ""), x = xs, y = ys,
      style = "linespoints", dashed = iterative}
  end
  local vlines = over and {{x = over.n * over.p * over.p,
    title = string.format("iterative methods fastest from n=%d, p=%d", over.n, over.p),
    -- the title on the side of the marker with more room
    align = math.log(over.n * over.p ^ 2) > (math.log(rows[1].n * rows[1].p ^ 2)
      + math.log(rows[#rows].n * rows[#rows].p ^ 2)) / 2 and "right" or "left"}} or nil
  local png = run:plot{file = "cost.png", series = series, logx = true, logy = true, vlines = vlines,
    title = "least squares: seconds against n p^2 (the direct methods' flop count)",
    xlabel = "n p^2", ylabel = "seconds", size = {1000, 600}}
  print("wrote " .. png)
end

-- One problem of n rows and p features, solved by every method; CPU seconds per method on
-- one BLAS thread (the caller sets it: other work on a shared machine takes the core away
-- without adding to them), the best of up to 3 solves while they take under half a second.
local function time_methods(n, p, sgd_epochs)
  local X = loom.randn(n, p)
  local y = X * loom.randn(p, 1) + loom.randn(n, 1)
  local t = {}
  for _, m in ipairs(COST_METHODS) do
    local opts = {method = m, tol = 1e-8}
    if m == "sgd" then opts = {method = m, max_iter = sgd_epochs, batch = 256, tol = 1e-8} end
    if m == "gd" then opts.max_iter = 500 end
    local spent, runs = 0, 0
    repeat
      local t0 = os.clock()
      if m == "inverse" then inverse_fit(X, y) else la.lstsq(X, y, opts) end
      local dt = os.clock() - t0
      t[m], spent, runs = math.min(t[m] or math.huge, dt), spent + dt, runs + 1
    until runs == 3 or spent >= 0.5
  end
  X:close()
  return t
end

-- Part 3: time as n and p grow.
local function cost(p_, run, results)
  print("\n== 3. Cost growth (seconds; inverse: inv(X'X) X'y; sgd: " .. p_.sgd_epochs .. " epochs, cg/gd: tol 1e-8)")
  local grid
  if p_.quick then
    grid = {{10000, 20}, {10000, 200}, {100000, 20}, {100000, 100}, {20000, 500}, {3000, 1200}}
  else
    grid = {}
    for _, n in ipairs{10000, 100000, 1000000} do
      for _, p in ipairs{10, 100, 500, 2000} do grid[#grid + 1] = {n, p} end
    end
  end
  local rows = {}
  local head = {string.format("%9s %6s", "n", "p")}
  for _, m in ipairs(COST_METHODS) do head[#head + 1] = string.format("%9s", m) end
  print(table.concat(head, " ") .. "  fastest")
  for i, np in ipairs(grid) do
    local n, p = np[1], np[2]
    if n * p * 8 / 2 ^ 20 > p_.max_mb or p > n then
      print(string.format("%9d %6d   skipped (X would take %.0f MB > max_mb = %d)", n, p, n * p * 8 / 2 ^ 20, p_.max_mb))
    else
      run:progress(i - 1, #grid)
      local threads = loom.threads()
      loom.threads(1)
      local ok, t = pcall(time_methods, n, p, p_.sgd_epochs)
      loom.threads(threads)
      if not ok then error(t, 0) end
      local best = fastest_of(t, COST_METHODS)
      local line = {string.format("%9d %6d", n, p)}
      for _, m in ipairs(COST_METHODS) do line[#line + 1] = string.format("%9.3f", t[m]) end
      print(table.concat(line, " ") .. "  " .. best)
      rows[#rows + 1] = {n = n, p = p, t = t}
      local metrics = {step = i, n = n, p = p}
      for _, m in ipairs(COST_METHODS) do metrics["t_" .. m] = t[m] end
      run:log(metrics)
      results[string.format("fastest_%dx%d", n, p)] = best
    end
  end
  run:progress(#grid, #grid)
  if #rows == 0 then return end
  table.sort(rows, function(a, b) return a.n * a.p * a.p < b.n * b.p * b.p end)
  local over = overtake_point(rows)
  write_cost_artifacts(run, rows, over)
  local big = rows[#rows]
  local it, dir = fastest_of(big.t, ITERATIVE), fastest_of(big.t, DIRECT)
  results.inverse_over_normal_time = big.t.inverse / big.t.normal
  results.iterative_speedup_largest = big.t[dir] / big.t[it]
  if over then
    results.overtake_n, results.overtake_p = over.n, over.p
    print(string.format("=> from n = %d, p = %d on, an iterative method is the fastest; at the largest size " ..
      "(n = %d, p = %d) %s is %.2fx as fast as the fastest direct method (%s).",
      over.n, over.p, big.n, big.p, it, big.t[dir] / big.t[it], dir))
  else
    print(string.format("=> in this grid the direct methods stay ahead: at the largest size (n = %d, p = %d) " ..
      "%s takes %.2fx the time of %s.", big.n, big.p, it, big.t[it] / big.t[dir], dir))
  end
  print(string.format("=> the explicit inverse takes %.2fx the time of the normal equations' Cholesky solve " ..
    "at the largest size: both pay n p^2 for X'X, the inverse adds p^3 more.", big.t.inverse / big.t.normal))
end

-- ---- Part 4: squared errors and outliers ----

local HUBER_K = 1.345 -- in units of the residuals' robust scale: 95% efficiency on Gaussian noise

local LOSSES = {
  ls = function(r) return r * r / 2 end,
  lad = function(r) return math.abs(r) end,
  huber = function(r, k)
    local a = math.abs(r)
    return a <= k and r * r / 2 or k * (a - k / 2)
  end,
}

-- The median of a list of numbers.
local function median(values)
  local v = table.move(values, 1, #values, 1, {})
  table.sort(v)
  local m = #v // 2
  return #v % 2 == 1 and v[m + 1] or (v[m] + v[m + 1]) / 2
end

local function abs_residuals(D, y, beta)
  local r = (y - D * beta):totable()
  for i, row in ipairs(r) do r[i] = math.abs(row[1]) end
  return r
end

-- Minimise sum rho(r_i) by iteratively reweighted least squares: each step is a weighted
-- least-squares problem (rows scaled by sqrt(w_i)) solved by lstsq, with w_i = rho'(r_i)/r_i
-- at the last step's residuals. LAD: w = 1/|r|; Huber: w = min(1, k/|r|), k in units of
-- the residuals' robust scale (1.4826 * median |r| of the start, which outliers barely move:
-- opts.start, a LAD fit; a least-squares start would let the outliers set the scale).
local function irls(D, y, loss, opts)
  opts = opts or {}
  local beta = opts.start or la.lstsq(D, y)
  local scale = 1.4826 * median(abs_residuals(D, y, beta))
  local k = HUBER_K * scale
  local iterations = 0
  for it = 1, opts.max_iter or 100 do
    iterations = it
    local sw = loom.zeros(D:rows(), 1)
    for i, a in ipairs(abs_residuals(D, y, beta)) do
      local w = loss == "lad" and 1 / math.max(a, 1e-8 * scale) or math.min(1, k / math.max(a, 1e-300))
      sw:set(i, 1, math.sqrt(w))
    end
    local next_beta = la.lstsq(D:mul(sw), y:mul(sw))
    local moved = (next_beta - beta):norm()
    beta = next_beta
    if moved <= 1e-10 * (1 + beta:norm()) then break end
  end
  return beta, {iterations = iterations, k = k}
end

local function fit_all(D, y)
  local fits = {ls = la.lstsq(D, y)}
  local hinfo
  fits.lad = irls(D, y, "lad")
  fits.huber, hinfo = irls(D, y, "huber", {start = fits.lad})
  return fits, hinfo
end

local FIT_NAMES = {ls = "least squares", lad = "least absolute deviations", huber = "Huber"}
local FIT_ORDER = {"ls", "huber", "lad"}

-- y = a + b x + noise on x in [0, 10]; the design has an intercept column.
local TRUE_A, TRUE_B = 1, 2
local function line_data(n)
  local x = loom.rand(n, 1) * 10
  local y = x * TRUE_B + TRUE_A + loom.randn(n, 1)
  return loom.hcat{loom.ones(n, 1), x}, y
end

-- The three loss functions, and the data with the fitted lines.
local function robust_plots(run, D, y, outliers, fits, k)
  local rs, losses = {}, {ls = {}, lad = {}, huber = {}}
  for i = 0, 80 do
    local r = -4 + i * 0.1
    rs[#rs + 1] = r
    for name, f in pairs(LOSSES) do losses[name][#rs] = f(r, HUBER_K) end
  end
  local series = {}
  for _, name in ipairs(FIT_ORDER) do
    series[#series + 1] = {title = name == "ls" and "squared: r^2/2" or name == "lad" and "absolute: |r|"
      or string.format("Huber (k = %.3f)", HUBER_K), x = rs, y = losses[name]}
  end
  local loss_png = run:plot{file = "robust_losses.png", series = series, key = "inside center top",
    title = "loss of one residual: squared grows without bound, Huber and absolute linearly",
    xlabel = "residual r (in units of the noise's scale)", ylabel = "loss", size = {800, 500}}
  local xs, ys, oxs, oys = {}, {}, {}, {}
  for i = 1, D:rows() do
    local into = outliers[i] and {oxs, oys} or {xs, ys}
    into[1][#into[1] + 1], into[2][#into[2] + 1] = D:get(i, 2), y:get(i, 1)
  end
  series = {{title = "data", x = xs, y = ys, style = "points"}, {title = "injected outliers", x = oxs, y = oys, style = "points"}}
  for _, name in ipairs(FIT_ORDER) do
    local b = fits[name]
    series[#series + 1] = {title = string.format("%s: %.2f + %.2f x", FIT_NAMES[name], b:get(1, 1), b:get(2, 1)),
      x = {0, 10}, y = {b:get(1, 1), b:get(1, 1) + 10 * b:get(2, 1)}}
  end
  series[#series + 1] = {title = string.format("true line: %g + %g x", TRUE_A, TRUE_B), x = {0, 10},
    y = {TRUE_A, TRUE_A + 10 * TRUE_B}, dashed = true}
  local fit_png = run:plot{file = "robust_fits.png", series = series, key = "inside left top",
    title = string.format("fits with %d injected outliers (Huber's k = %.2f in y units)", #oxs, k),
    xlabel = "x", ylabel = "y", size = {800, 550}}
  return loss_png, fit_png
end

-- Part 4: least squares vs least absolute deviations vs Huber, with outliers, and as one
-- outlier grows.
local function robust(p_, run, results)
  loom.seed(p_.seed) -- the same data whichever parts ran before
  local n, n_out = p_.quick and 40 or 100, p_.quick and 3 or 6
  print(string.format("\n== 4. Squared errors and outliers: y = %g + %g x + N(0, 1), n = %d, %d outliers " ..
    "(y + 25 at the largest x)", TRUE_A, TRUE_B, n, n_out))
  local D, y = line_data(n)
  -- the outliers sit at the right end, where a point has the most leverage on the slope
  local order = {}
  for i = 1, n do order[i] = i end
  table.sort(order, function(a, b) return D:get(a, 2) > D:get(b, 2) end)
  local outliers = {}
  for j = 1, n_out do
    local i = order[j]
    outliers[i] = true
    y:set(i, 1, y:get(i, 1) + 25)
  end
  local fits, hinfo = fit_all(D, y)
  print(string.format("%-26s %10s %10s %14s", "fit", "intercept", "slope", "|slope - 2|"))
  for _, name in ipairs(FIT_ORDER) do
    local b = fits[name]
    print(string.format("%-26s %10.3f %10.3f %14.3f", FIT_NAMES[name], b:get(1, 1), b:get(2, 1),
      math.abs(b:get(2, 1) - TRUE_B)))
    results["robust_slope_error_" .. name] = math.abs(b:get(2, 1) - TRUE_B)
  end
  local loss_png, fit_png = robust_plots(run, D, y, outliers, fits, hinfo.k)

  -- one outlier at x = 10 growing: how far does each fit's slope move?
  local Dc, yc = line_data(n)
  local D1 = loom.vcat{Dc, loom.matrix{{1, 10}}}
  local base = fit_all(loom.vcat{Dc, loom.matrix{{1, 10}}}, loom.vcat{yc, loom.matrix{{TRUE_A + 10 * TRUE_B}}})
  local sizes = p_.quick and {0, 5, 10, 20, 50, 100} or {0, 2, 5, 10, 20, 50, 100, 200, 500}
  print(string.format("\none outlier at x = 10, its y raised by d above the true line (n = %d clean points):", n))
  print(string.format("%8s %16s %16s %16s", "d", "LS slope moves", "Huber moves", "LAD moves"))
  local moves = {ls = {}, huber = {}, lad = {}}
  for _, d in ipairs(sizes) do
    local fits_d = fit_all(D1, loom.vcat{yc, loom.matrix{{TRUE_A + 10 * TRUE_B + d}}})
    for _, name in ipairs(FIT_ORDER) do
      moves[name][#moves[name] + 1] = math.abs(fits_d[name]:get(2, 1) - base[name]:get(2, 1))
    end
    print(string.format("%8g %16.4f %16.4f %16.4f", d, moves.ls[#moves.ls], moves.huber[#moves.huber], moves.lad[#moves.lad]))
    run:log{outlier_size = d, slope_move_ls = moves.ls[#moves.ls], slope_move_huber = moves.huber[#moves.huber],
      slope_move_lad = moves.lad[#moves.lad]}
  end
  local series = {}
  for _, name in ipairs(FIT_ORDER) do
    series[#series + 1] = {title = FIT_NAMES[name], x = sizes, y = moves[name], style = "linespoints"}
  end
  local move_png = run:plot{file = "robust_influence.png", series = series, key = "inside left top",
    title = "how far the fitted slope moves as one outlier at x = 10 grows",
    xlabel = "outlier's distance above the true line", ylabel = "|change in slope|", size = {800, 500}}
  local last = #sizes
  local mid = 1
  for i, d in ipairs(sizes) do if d <= sizes[last] / 5 then mid = i end end
  for _, name in ipairs(FIT_ORDER) do results["slope_move_" .. name] = moves[name][last] end
  local growth = {}
  for _, name in ipairs(FIT_ORDER) do growth[name] = moves[name][last] / math.max(moves[name][mid], 1e-12) end
  results.ls_move_over_huber = moves.ls[last] / math.max(moves.huber[last], 1e-12)
  local function how(g)
    if g > 0.8 * sizes[last] / sizes[mid] then return "in proportion to the outlier" end
    return g < 1.5 and "no further: its pull is bounded" or "less than in proportion"
  end
  print(string.format("=> as the outlier goes from %g to %g, the least-squares slope moves %.1fx as far (%s), " ..
    "Huber's %.1fx (%s), LAD's %.1fx (%s); at d = %g least squares has moved %.0fx as far as Huber.",
    sizes[mid], sizes[last], growth.ls, how(growth.ls), growth.huber, how(growth.huber), growth.lad,
    how(growth.lad), sizes[last], results.ls_move_over_huber))
  print("wrote " .. loss_png .. ", " .. fit_png .. ", " .. move_png)
end

local PARTS = {accuracy = true, singular = true, cost = true, robust = true}

return loom.experiment{
  name = "regression",
  description = "normal equation vs QR vs SVD vs iterative least squares: accuracy, singular features, cost",
  params = {
    seed = 42,
    quick = {false, "the demo setting: small n and p in the cost table"},
    max_mb = {4000, "skip cost-table points whose X would take more megabytes than this"},
    sgd_epochs = {5, "epochs of the sgd solver in the cost table"},
    parts = {"accuracy,singular,cost,robust", "which parts to run, comma-separated (accuracy, singular, cost, robust)"},
  },
  run = function(p, run)
    local want = {}
    for part in p.parts:gmatch("[^,%s]+") do
      if not PARTS[part] then error("param parts: unknown part '" .. part .. "' (accuracy, singular, cost, robust)") end
      want[part] = true
    end
    local results = {}
    if want.accuracy then accuracy(run, results) end
    if want.singular then singular(results) end
    if want.cost then cost(p, run, results) end
    if want.robust then robust(p, run, results) end
    return results
  end,
}
