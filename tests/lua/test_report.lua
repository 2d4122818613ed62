-- test_report.lua: seed statistics (Student t), --where, compare --group-by, plot --band, the
-- HTML report (self-contained, inline SVG and images) and its rendering in headless Chromium.
local stats = require "loom.runs.stats"
local where = require "loom.runs.where"
local svg = require "loom.runs.svg"
local report = require "loom.runs.report"
local store = require "loom.runs.store"
local process = require("loom.core").process
local H = dofile(TEST_DIR .. "/runs_helpers.lua")

-- The experiment is copied into each scratch folder: run from this worktree, a dirty tree
-- would put its diff (this very file, URLs and all) into the reports under test.
local function noisy_in(dir)
  local text = assert(H.read(TEST_DIR .. "/experiments/noisy.lua"))
  local f = assert(io.open(dir .. "/noisy.lua", "w"))
  f:write(text)
  f:close()
  return "noisy.lua"
end

-- ---- statistics ----

test("t quantiles match the published table", function()
  -- Student t 0.975 quantiles (any statistics table): df 1, 2, 4, 10, 30, 100.
  local want = {[1] = 12.706205, [2] = 4.302653, [4] = 2.776445, [10] = 2.228139, [30] = 2.042272,
    [100] = 1.983972}
  for df, q in pairs(want) do close(stats.t_quantile(0.975, df), q, 1e-6, "df " .. df) end
  close(stats.t_quantile(0.025, 4), -2.776445, 1e-6, "lower tail")
  close(stats.t_cdf(0, 7), 0.5, 1e-15, "cdf at 0")
  close(stats.t_cdf(2.776445, 4), 0.975, 1e-7, "cdf")
end)

test("summary: mean, sample sd and the t interval", function()
  local sm = stats.summary{1, 2, 3, 4, 5}
  equal(sm.n, 5, "n")
  close(sm.mean, 3, 1e-15, "mean")
  close(sm.sd, math.sqrt(2.5), 1e-15, "sd (n - 1)")
  close(sm.half, 2.776445 * math.sqrt(2.5) / math.sqrt(5), 1e-6, "half width")
  close(sm.lo, 3 - sm.half, 1e-15, "lo")
  local one = stats.summary{7, 0 / 0, "x"}
  equal(one.n, 1, "NaN and text left out")
  equal(one.mean, 7, "single mean")
  equal(one.sd, nil, "no sd from one value")
  equal(stats.summary{}.mean, nil, "empty")
end)

test("group orders numbers numerically and band averages per step", function()
  local runs = {}
  for _, x in ipairs{10, 2, 2, 10, 1} do runs[#runs + 1] = {params = {x = x}} end
  local groups = stats.group(runs, {"x"})
  equal(#groups, 3, "groups")
  equal(groups[1].key.x, 1, "first")
  equal(groups[2].key.x, 2, "second")
  equal(#groups[2].runs, 2, "two runs of x=2")
  equal(groups[3].key.x, 10, "10 after 2")
  local steps, mean, lo, hi = stats.band{{steps = {1, 2}, values = {1, 4}}, {steps = {1, 2, 3}, values = {3, 6, 9}}}
  equal(#steps, 3, "steps")
  equal(mean[1], 2, "mean 1")
  equal(mean[2], 5, "mean 2")
  close(hi[1] - mean[1], math.sqrt(2), 1e-15, "sd band")
  equal(lo[3], 9, "one curve: no band")
end)

-- ---- the --where language ----

test("where compiles comparisons to SQL with bound values only", function()
  local w = assert(where.compile("test_acc > 0.9 and (lr <= 1e-2 or param.hidden != 64)"))
  equal(#w.args, 12, "bound values")
  equal(w.args[1], "test_acc", "name bound")
  equal(w.args[2], 0.9, "number bound")
  check(not w.sql:find("test_acc", 1, true) and not w.sql:find("0.9", 1, true), "no user text in %s", w.sql)
  check(w.sql:find(") AND ((", 1, true), "and binds tighter than or: %s", w.sql)
end)

test("where errors say what and where", function()
  local cases = {
    {"test_acc >", "expected a number after '>' at column 11, got 'the end'"},
    {"a > b", "expected a number after '>' at column 5, got 'b'"},
    {"(a > 1", "expected ')' at column 7, got 'the end'"},
    {"a > 1 b", "expected 'and', 'or' or the end at column 7, got 'b'"},
    {"a > 1; DROP TABLE runs", "unexpected ';' at column 6"},
    {"a 'x' 1", "unexpected ''' at column 3"},
    {"1 > a", "expected a name at column 1, got '1'"},
    {"a 1", "expected a comparison (< <= > >= = !=) after 'a' at column 3, got '1'"},
  }
  for _, c in ipairs(cases) do
    local w, err = where.compile(c[1])
    equal(w, nil, c[1])
    equal(err, c[2], c[1])
  end
end)

-- ---- SVG charts ----

test("ticks are round numbers covering the range", function()
  local t = svg.ticks(0, 1)
  equal(#t, 6, "0 .. 1 by 0.2")
  close(t[2], 0.2, 1e-12, "step")
  t = svg.ticks(3, 3)
  check(t[1] < 3 and t[#t] > 3, "a constant gets a range")
  equal(svg.tick_text(1e-5), "1e-5", "short exponent")
  local chart = svg.lines{title = "loss <x>", series = {{label = "a&b", x = {1, 2}, y = {1, 0 / 0}},
    {label = "c", x = {1, 2}, y = {2, 3}, lo = {1, 2}, hi = {3, 4}}}}
  check(chart:find("loss &lt;x&gt;", 1, true) and chart:find("a&amp;b", 1, true), "escaped")
  check(chart:find("<polygon", 1, true), "band drawn")
end)

test("base64 follows RFC 4648", function()
  local vectors = {[""] = "", f = "Zg==", fo = "Zm8=", foo = "Zm9v", foob = "Zm9vYg==", fooba = "Zm9vYmE=",
    foobar = "Zm9vYmFy", ["\0\255\128"] = "AP+A"}
  for plain, coded in pairs(vectors) do equal(report.base64(plain), coded, plain) end
end)

-- ---- seeds through the command line ----

-- A database with a sweep of noisy.lua over x = 1, 2 and seeds 1..4.
local function seeded_store()
  local dir = H.tempdir()
  local rc, out = H.loom(dir, "sweep " .. noisy_in(dir) .. " x=1,2 seed=1,2,3,4 -j 2")
  equal(rc, 0, "sweep: " .. out)
  return dir
end

local shared_dir
local function seeds_dir()
  shared_dir = shared_dir or seeded_store()
  return shared_dir
end

test("runs compare --group-by: mean, sd and 95% interval per group", function()
  local dir = seeds_dir()
  local rc, out = H.loom(dir, "runs compare --group-by x --sweep noisy")
  equal(rc, 0, "compare: " .. out)
  local s = assert(store.open(dir .. "/runs.db"))
  local rcli = require "loom.runs.cli"
  for _, x in ipairs{1, 2} do
    local scores = {}
    for _, r in ipairs(s:list{params = {x = tostring(x)}}) do scores[#scores + 1] = r.results.score end
    equal(#scores, 4, "four seeds of x=" .. x)
    local want = rcli.summary_text(stats.summary(scores))
    check(out:find("\n" .. x .. "%s+4%s+") and out:find(want, 1, true), "x=%d row with %s in:\n%s", x, want, out)
  end
  s:close()
  check(out:find("95% Student t interval", 1, true), "legend line: %s", out)
  rc, out = H.loom(dir, "runs compare --group-by nope --sweep noisy")
  equal(rc, 1, "unknown param")
  equal(out, "loom runs compare: no selected run has a param 'nope'\n", "message")
end)

test("runs --where filters on results and params", function()
  local dir = seeds_dir()
  local rc, out = H.loom(dir, "runs export --csv --where 'score > 2 and x = 2'")
  equal(rc, 0, out)
  local s = assert(store.open(dir .. "/runs.db"))
  local want = 0
  for _, r in ipairs(s:list{}) do
    if r.results.score > 2 and r.params.x == 2 then want = want + 1 end
  end
  s:close()
  local _, lines = out:gsub("\n", "")
  equal(lines - 1, want, "rows after the header")
  -- The documented column order (docs/runs.md, Export schema).
  equal(out:match("^[^\n]*"), "id,name,status,started,ended,seed,host,script,script_hash,loom_version,sweep,error,"
    .. "param.seed,param.steps,param.x,result.loss,result.score", "CSV header")
  rc, out = H.loom(dir, "runs --last 2")
  equal(rc, 0, out)
  local _, listed = out:gsub("\n", "")
  equal(listed, 3, "--last 2: header and two runs")
  rc, out = H.loom(dir, "runs --where 'x = 1' --sweep noisy")
  equal(rc, 0, out)
  _, listed = out:gsub("\n", "")
  equal(listed, 5, "--where with --sweep: header and the four x=1 runs")
  rc, out = H.loom(dir, "runs --where 'score >'")
  equal(rc, 2, "bad expression")
  equal(out, "loom runs: --where: expected a number after '>' at column 8, got 'the end'\n", "message")
end)

test("plot --band draws one mean line with a band per group", function()
  local dir = seeds_dir()
  local s = assert(store.open(dir .. "/runs.db"))
  local ids = {}
  for _, r in ipairs(s:list{}) do ids[#ids + 1] = r.id end
  s:close()
  local rc, out = H.loom(dir, "plot " .. table.concat(ids, " ") .. " loss --band -o band.svg")
  equal(rc, 0, out)
  local text = assert(H.read(dir .. "/band.svg"))
  check(text:find("x=1 (n=4)", 1, true) and text:find("x=2 (n=4)", 1, true), "group titles in the SVG")
  check(not text:find("seed=", 1, true), "no per-seed lines")
  rc, out = H.loom(dir, "plot --sweep noisy loss --band -o sweep.svg")
  equal(rc, 0, out)
  equal(H.read(dir .. "/sweep.svg"):match("x=1 %(n=%d%)"), "x=1 (n=4)", "runs selected by --sweep")
  rc, out = H.loom(dir, "plot --sweep noisy nope")
  equal(rc, 1, "unknown metric")
  equal(out, "loom plot: 'nope' is not a metric of the selected runs\n", "message")
end)

-- ---- the report ----

test("report: one self-contained page with runs, groups, curves and images", function()
  local dir = seeds_dir()
  local rc, out = H.loom(dir, "report --sweep noisy -o report.html")
  equal(rc, 0, out)
  equal(out, "wrote report.html (8 runs)\n", "output")
  local html = assert(H.read(dir .. "/report.html"))
  local s = assert(store.open(dir .. "/runs.db"))
  local runs = s:list{}
  for _, r in ipairs(runs) do
    check(html:find('<a href="#run-' .. r.id .. '">', 1, true), "run %s in the table", r.id)
    check(html:find('id="run-' .. r.id .. '"', 1, true), "run %s detailed", r.id)
  end
  local png = assert(H.read(runs[1].artifacts_dir .. "/red.png"))
  check(html:find("data:image/png;base64," .. report.base64(png), 1, true), "artifact inlined")
  s:close()
  check(html:find("<h2>By param value</h2>", 1, true), "group table")
  local _, charts = html:gsub('<svg xmlns="http://www.w3.org/2000/svg" class="chart"', "")
  equal(charts, 3, "error bars for score and loss, one metric curve")
  check(html:find("x=2 (n=4)", 1, true), "seed band legend")
  -- Nothing outside the file: no scripts, links, or URLs but the SVG namespace.
  check(not html:find("<script", 1, true) and not html:find("<link", 1, true), "no scripts or links")
  local stripped = html:gsub('xmlns="http://www%.w3%.org/2000/svg"', "")
  check(not stripped:find("https?://"), "no URLs")
  check(html:find("default-src 'none'", 1, true), "CSP")
end)

test("report: selections and errors", function()
  local dir = seeds_dir()
  local rc, out = H.loom(dir, "report --last 3 -o last.html")
  equal(rc, 0, out)
  equal(out, "wrote last.html (3 runs)\n", "--last")
  rc, out = H.loom(dir, "report --last 3")
  equal(rc, 2, "no -o")
  equal(out, "loom report: give the output file: -o report.html\n", "message")
  rc, out = H.loom(dir, "report --last 0 -o x.html")
  equal(rc, 1, "--last 0")
  equal(out, "loom report: --last expects a number of runs >= 1, got '0'\n", "message")
  rc, out = H.loom(dir, "report --sweep nosuch -o x.html")
  equal(rc, 1, "unknown sweep")
  check(out:find("loom report: no sweep 'nosuch' in ", 1, true), "message: %s", out)
  rc, out = H.loom(dir, "report --where 'score > 1000' -o x.html")
  equal(rc, 1, "nothing selected")
  equal(out, "loom report: no runs selected\n", "message")
end)

test("report: a grid without seeds gets a table per param, averaged over the others", function()
  local dir = H.tempdir()
  local rc, out = H.loom(dir, "sweep " .. noisy_in(dir) .. " x=1,2 steps=5,10")
  equal(rc, 0, out)
  rc, out = H.loom(dir, "report --last 4 -o grid.html")
  equal(rc, 0, out)
  local html = assert(H.read(dir .. "/grid.html"))
  check(html:find("<h3>by steps (over every value of x)</h3>", 1, true), "steps table")
  check(html:find("<h3>by x (over every value of steps)</h3>", 1, true), "x table")
  local _, charts = html:gsub('class="chart"', "")
  equal(charts, 1, "no error bars without repeats: the loss curves only")
  check(not html:find("<polygon", 1, true), "no seed bands")
  H.cleanup(dir)
end)

-- ---- in a real browser ----

local function chromium()
  for _, name in ipairs{"chromium", "chromium-browser"} do
    local ok, code = pcall(process.capture, {name, "--version"})
    if ok and code == 0 then return name end
  end
  return nil
end

-- Render file in headless Chromium: (screenshot path, stderr, dom).
local function render(browser, dir, file)
  local shot = dir .. "/shot.png"
  local common = {"timeout", "120", browser, "--headless", "--no-sandbox", "--disable-gpu",
    "--user-data-dir=" .. dir .. "/chromium-profile", "--enable-logging=stderr", "--v=0"}
  local args = table.move(common, 1, #common, 1, {})
  args[#args + 1] = "--window-size=1280,2000"
  args[#args + 1] = "--screenshot=" .. shot
  args[#args + 1] = "file://" .. file
  local code, _, err = process.capture(args)
  equal(code, 0, "chromium screenshot: " .. tostring(err))
  args = table.move(common, 1, #common, 1, {})
  args[#args + 1] = "--dump-dom"
  args[#args + 1] = "file://" .. file
  local code2, dom, err2 = process.capture(args)
  equal(code2, 0, "chromium --dump-dom")
  return shot, err .. err2, dom
end

-- Console lines Chromium logged for the page (errors, CSP refusals, anything a script said).
local function console_lines(stderr)
  local lines = {}
  for line in stderr:gmatch("[^\n]+") do
    if line:find(":CONSOLE", 1, true) then lines[#lines + 1] = line end
  end
  return lines
end

test("report renders in headless Chromium with a clean console", function()
  local browser = chromium()
  if not browser then skip("chromium is not installed (apt-get install chromium; scripts/deps.sh lists it)") end
  local dir = seeds_dir()
  local shot, stderr, dom = render(browser, dir, dir .. "/report.html")
  local png = assert(H.read(shot), "screenshot written")
  equal(png:sub(1, 8), "\x89PNG\r\n\x1a\n", "a PNG")
  equal(string.unpack(">I4", png, 17), 1280, "screenshot width")
  check(#png > 30000, "the page is not blank (%d bytes)", #png)
  local console = console_lines(stderr)
  equal(#console, 0, "console: " .. table.concat(console, "\n"))
  local s = assert(store.open(dir .. "/runs.db"))
  for _, r in ipairs(s:list{}) do
    check(dom:find('<a href="#run-' .. r.id .. '">' .. r.id .. "</a>", 1, true), "run %s on the page", r.id)
  end
  s:close()
  -- The same check catches a page that reaches outside itself (the CSP refuses and logs it).
  local bad = dir .. "/bad.html"
  local f = assert(io.open(bad, "w"))
  f:write((H.read(dir .. "/report.html"):gsub("</body>", '<img src="https://example.invalid/x.png"></body>')))
  f:close()
  local _, bad_stderr = render(browser, dir, bad)
  local bad_console = console_lines(bad_stderr)
  check(#bad_console > 0 and bad_console[1]:find("Content Security Policy", 1, true),
    "an outside image is reported: %s", table.concat(bad_console, "\n"))
end)

test("cleanup", function() H.cleanup(shared_dir) end)
