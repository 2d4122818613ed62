-- regression.lua: the course's least-squares story end to end: the normal equation vs QR vs
-- SVD on NIST's Longley and Wampler problems (digits correct, condition numbers), what each
-- method does with a linearly dependent feature, and how the cost grows with n and p.
-- Run: loom run scripts/experiments/regression.lua [quick=true] [max_mb=4000]
local loom = require "loom"
local nist = require "loom.nist"
local la = loom.linalg

local function min_lre(beta, certified)
  local worst = 15
  for j, c in ipairs(certified) do worst = math.min(worst, nist.lre(beta:get(j, 1), c)) end
  return worst
end

-- Part 1: digits correct against NIST's certified values.
local function accuracy(run, results)
  print("\n== 1. Normal equation vs QR vs SVD on NIST StRD (digits correct: min LRE over coefficients)")
  print(string.format("%-9s %10s %10s %10s %11s %11s %11s", "dataset", "normal", "qr", "svd",
    "cond(X)", "cond(XD)", "cond(X'X)"))
  for k, name in ipairs{"Longley", "Wampler1", "Wampler2", "Pontius", "Norris"} do
    local ds = assert(nist.read(loom.data.require("nist-strd") .. "/" .. name .. ".dat"))
    do
      local X, y, intercept = nist.design(ds)
      local D = intercept and loom.hcat{loom.ones(X:rows(), 1), X} or X
      local row = {}
      local ok, bn, ninfo = pcall(la.lstsq, D, y, {method = "normal"})
      row.normal = ok and min_lre(bn, ds.certified.coef) or 0
      local bq = la.lstsq(D, y)
      row.qr = min_lre(bq, ds.certified.coef)
      local bs, sinfo = la.lstsq(D, y, {method = "svd"})
      row.svd = min_lre(bs, ds.certified.coef)
      local cond_raw = la.cond(D)
      print(string.format("%-9s %10.1f %10.1f %10.1f %11.3g %11.3g %11.3g", name, row.normal, row.qr,
        row.svd, cond_raw, sinfo.cond, ok and ninfo.cond_normal or 0 / 0))
      if ok and ninfo.warnings[1] then print("          normal warns: " .. ninfo.warnings[1]) end
      results[name:lower() .. "_digits_normal"] = row.normal
      results[name:lower() .. "_digits_qr"] = row.qr
      results[name:lower() .. "_digits_svd"] = row.svd
      run:log{dataset_index = k, digits_normal = row.normal, digits_qr = row.qr, digits_svd = row.svd,
        cond = cond_raw}
    end
  end
  print("cond(X): raw design; cond(XD): after scaling columns to unit norm (what QR and SVD face);")
  print("cond(X'X): what the normal equations face (the square of cond(XD)), estimated by dpocon.")
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

-- cost.csv (n, p, one time per method) and, when gnuplot is there, cost.png: time against
-- n * p^2 for each method, log-log, where the direct methods' slope shows.
local function write_cost_artifacts(run, rows, methods)
  if #rows == 0 then return end
  rows = table.move(rows, 1, #rows, 1, {})
  table.sort(rows, function(a, b) return a.n * a.p * a.p < b.n * b.p * b.p end)
  local csv = run:artifact("cost.csv")
  local f = assert(io.open(csv, "w"))
  f:write("n,p,n_p2," .. table.concat(methods, ",") .. "\n")
  for _, r in ipairs(rows) do
    local cells = {r.n, r.p, r.n * r.p * r.p}
    for _, m in ipairs(methods) do cells[#cells + 1] = string.format("%.6f", r.t[m]) end
    f:write(table.concat(cells, ",") .. "\n")
  end
  f:close()
  print("wrote " .. csv)
  if not os.execute("command -v gnuplot >/dev/null 2>&1") then return end
  local png = run:artifact("cost.png")
  local plots = {}
  for j, m in ipairs(methods) do
    plots[j] = string.format("'%s' using 3:%d with linespoints title '%s'", csv, j + 3, m)
  end
  local script = table.concat({
    "set terminal pngcairo size 900,600 noenhanced",
    "set output '" .. png .. "'",
    "set datafile separator ','",
    "set key autotitle columnhead left top",
    "set logscale xy",
    "set xlabel 'n * p^2'",
    "set ylabel 'seconds'",
    "set title 'least squares: time against n p^2'",
    "plot " .. table.concat(plots, ", "),
  }, "; ")
  if os.execute("gnuplot -e \"" .. script .. "\" 2>/dev/null") then print("wrote " .. png) end
end

-- Part 3: time as n and p grow.
local function cost(p_, run, results)
  print("\n== 3. Cost growth (seconds; sgd: " .. p_.sgd_epochs .. " epochs, cg/gd: tol 1e-8)")
  local grid
  if p_.quick then
    grid = {{10000, 20}, {10000, 200}, {100000, 20}, {100000, 100}, {20000, 500}}
  else
    grid = {}
    for _, n in ipairs{10000, 100000, 1000000} do
      for _, p in ipairs{10, 100, 500, 2000} do grid[#grid + 1] = {n, p} end
    end
  end
  local methods = {"normal", "qr", "svd", "cg", "gd", "sgd"}
  local rows = {}
  local head = {string.format("%9s %6s", "n", "p")}
  for _, m in ipairs(methods) do head[#head + 1] = string.format("%9s", m) end
  print(table.concat(head, " ") .. "  fastest")
  for i, np in ipairs(grid) do
    local n, p = np[1], np[2]
    if n * p * 8 / 2 ^ 20 > p_.max_mb or p > n then
      print(string.format("%9d %6d   skipped (X would take %.0f MB > max_mb = %d)", n, p, n * p * 8 / 2 ^ 20, p_.max_mb))
    else
      run:progress(i - 1, #grid)
      local X = loom.randn(n, p)
      local y = X * loom.randn(p, 1) + loom.randn(n, 1)
      local t, best = {}, nil
      for _, m in ipairs(methods) do
        local opts = {method = m, tol = 1e-8}
        if m == "sgd" then opts = {method = m, max_iter = p_.sgd_epochs, batch = 256, tol = 1e-8} end
        if m == "gd" then opts.max_iter = 500 end
        local t0 = la.wall_time()
        la.lstsq(X, y, opts)
        t[m] = la.wall_time() - t0
        if not best or t[m] < t[best] then best = m end
      end
      print(string.format("%9d %6d %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f  %s", n, p, t.normal, t.qr,
        t.svd, t.cg, t.gd, t.sgd, best))
      rows[#rows + 1] = {n = n, p = p, t = t}
      run:log{step = i, n = n, p = p, t_normal = t.normal, t_qr = t.qr, t_svd = t.svd,
        t_cg = t.cg, t_gd = t.gd, t_sgd = t.sgd}
      results[string.format("fastest_%dx%d", n, p)] = best
      X:close()
    end
  end
  run:progress(#grid, #grid)
  write_cost_artifacts(run, rows, methods)
  print("Direct methods cost O(n p^2) (QR twice the flops of the normal equations); CG costs O(n p) per")
  print("iteration and needs few on a well-conditioned X, so it overtakes them as p grows.")
end

return loom.experiment{
  name = "regression",
  description = "normal equation vs QR vs SVD vs iterative least squares: accuracy, singular features, cost",
  params = {
    seed = 42,
    quick = {false, "the demo setting: small n and p in the cost table"},
    max_mb = {4000, "skip cost-table points whose X would take more megabytes than this"},
    sgd_epochs = {5, "epochs of the sgd solver in the cost table"},
  },
  run = function(p, run)
    local results = {}
    accuracy(run, results)
    singular(results)
    cost(p, run, results)
    return results
  end,
}
