-- loom.runs.progress: the progress display of runs and sweeps: on a terminal a bar with rate,
-- ETA and the latest metrics, redrawn in place; otherwise one plain line every few seconds.
-- Not a logger: it only draws what it is given.
local process = require("loom.core").process

local progress = {}

-- The clock lines are timed by (tests replace it to play minutes in a moment).
function progress.clock() return process.now() end

local Progress = {}
Progress.__index = Progress

local REDRAW_SECONDS = 0.1 -- terminal redraw limit
local PLAIN_SECONDS = 5    -- one plain line this often when not on a terminal
local RATE_WINDOW = 60     -- seconds of recent progress the rate and ETA are taken from
progress.MAX_METRICS = 4   -- the most recently logged metrics shown on a line
progress.MAX_PLAIN = 160   -- plain lines are cut to this many characters

-- progress.new{label = "name", out = io.stdout, tty = nil (detect), plain_seconds = 5, unit = "it"}
function progress.new(opts)
  opts = opts or {}
  local out = opts.out or io.stdout
  local tty = opts.tty
  if tty == nil then tty = process.isatty(out) and os.getenv("TERM") ~= "dumb" end
  return setmetatable({label = opts.label or "", out = out, tty = tty, unit = opts.unit or "it",
    plain_seconds = opts.plain_seconds or PLAIN_SECONDS, started = progress.clock(),
    last_draw = -math.huge, drawn = false, first_i = nil, samples = {}}, Progress)
end

-- "1:02:03" or "2:03"
function progress.duration(seconds)
  if seconds ~= seconds or seconds == math.huge then return "?" end
  seconds = math.floor(seconds + 0.5)
  local h, m, s = seconds // 3600, seconds % 3600 // 60, seconds % 60
  if h > 0 then return string.format("%d:%02d:%02d", h, m, s) end
  return string.format("%d:%02d", m, s)
end

-- "loss=0.12 acc=0.9": at most max metrics, the most recently logged (recency: name ->
-- a number that grows with each log call), shown in name order.
local function metrics_text(m, recency, max)
  if not m then return "" end
  local keys = {}
  for k in pairs(m) do keys[#keys + 1] = k end
  if recency and max and #keys > max then
    table.sort(keys, function(a, b)
      local ra, rb = recency[a] or 0, recency[b] or 0
      if ra ~= rb then return ra > rb end
      return a < b
    end)
    for i = #keys, max + 1, -1 do keys[i] = nil end
  end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do
    local v = m[k]
    parts[#parts + 1] = type(v) == "number" and string.format("%s=%.4g", k, v) or (k .. "=" .. tostring(v))
  end
  return table.concat(parts, " ")
end
progress.metrics_text = metrics_text

-- Remember (time, i) of an update; samples older than the window are dropped but one.
function Progress:sample(now, i)
  local samples = self.samples
  local last = samples[#samples]
  if last and last.i == i then return end
  samples[#samples + 1] = {t = now, i = i}
  while #samples > 2 and now - samples[2].t > RATE_WINDOW do table.remove(samples, 1) end
end

-- Rate (items per second), ETA and whether the loop is slowing down. The rate is the
-- recent one (the last minute, up to now: a long step in progress lowers it), so an ETA
-- follows loops whose items grow; slowing is true when that rate is well below the
-- overall one, and the ETA then is a lower bound.
function Progress:estimate(i, n, final)
  local now = progress.clock()
  local elapsed = now - self.started
  local done = i - (self.first_i or 0)
  if final then return elapsed > 0 and done / elapsed or math.huge, 0, elapsed, false end
  -- Too early for a rate that means anything: show none rather than a wild one.
  if elapsed <= 0.25 or done <= 0 then return 0, math.huge, elapsed, false end
  local overall = done / elapsed
  local oldest = self.samples[1]
  local rate = overall
  if oldest and oldest.i < i and now - oldest.t > 0 and now - self.started > RATE_WINDOW then
    rate = (i - oldest.i) / (now - oldest.t)
  end
  local eta = (rate > 0 and n) and (n - i) / rate or math.huge
  return rate, eta, elapsed, rate < 0.6 * overall
end

local function rate_text(rate, unit)
  if rate == math.huge then return "" end -- done before the clock moved
  if rate >= 100 then return string.format("%.0f %s/s", rate, unit) end
  if rate >= 1 then return string.format("%.1f %s/s", rate, unit) end
  if rate > 0 then return string.format("%.1f s/%s", 1 / rate, unit) end
  return "- " .. unit .. "/s"
end

-- The terminal line: label [#####.....]  45% 450/1000 12.3 it/s ETA 0:45 loss=0.12
function Progress:line(i, n, metrics, extra, recency)
  local final = n and i >= n
  local rate, eta, elapsed, slowing = self:estimate(i, n, final)
  local frac = n and n > 0 and math.min(1, math.max(0, i / n)) or 0
  local width = 24
  local fill = math.floor(frac * width + 0.5)
  local bar = n and ("[" .. string.rep("#", fill) .. string.rep(".", width - fill) .. "]") or ""
  local count = n and string.format("%3d%% %d/%d", math.floor(frac * 100), i, n) or tostring(i)
  local timing = final and ("in " .. progress.duration(elapsed))
    or (eta == math.huge and (n and "ETA unknown" or "") or
      ((slowing and "ETA >" or "ETA ") .. progress.duration(eta)))
  local parts = {self.label, bar, count, rate_text(rate, self.unit), timing, extra or "",
    metrics_text(metrics, recency, progress.MAX_METRICS)}
  local line = table.concat(parts, " "):gsub("%s+", " ")
  return line
end

-- Progress:update(i, n, metrics [, extra [, recency]]): draw if due (always at the end:
-- i >= n). recency (metric name -> a count that grows) picks the latest metrics to show.
function Progress:update(i, n, metrics, extra, recency)
  -- A loop that starts at i counts as i - 1 items done before the display began.
  if self.first_i == nil then self.first_i = math.max(0, i - 1) end
  local now = progress.clock()
  self:sample(now, i)
  self.i, self.n, self.extra = i, n, extra
  local final = n and i >= n
  local interval = self.tty and REDRAW_SECONDS or self.plain_seconds
  if not final and now - self.last_draw < interval then return end
  if not self.tty and not final and self.last_draw == -math.huge then
    -- The first plain line waits one interval, so short runs print only their last line.
    self.last_draw = now
    return
  end
  self:draw(now, i, n, metrics, extra, recency, final)
end

-- Progress:tick(metrics [, recency]): called between updates (each run:log): the line
-- again when it is due, so a step that takes minutes still shows life every few seconds.
function Progress:tick(metrics, recency)
  if not self.i then return end
  local now = progress.clock()
  local interval = self.tty and REDRAW_SECONDS or self.plain_seconds
  if now - self.last_draw < interval or self.last_draw == -math.huge then return end
  self:draw(now, self.i, self.n, metrics, self.extra, recency, false)
end

function Progress:draw(now, i, n, metrics, extra, recency, final)
  self.last_draw = now
  local line = self:line(i, n, metrics, extra, recency)
  if self.tty then
    local cols = process.columns() or 100
    if #line > cols - 1 then line = line:sub(1, cols - 1) end
    self.out:write("\r\27[K", line)
    self.drawn = true
    if final then self:done() end
  else
    if #line > progress.MAX_PLAIN then line = line:sub(1, progress.MAX_PLAIN - 3) .. "..." end
    self.out:write(line, "\n")
  end
  self.out:flush()
end

-- End the in-place line so later output starts on a fresh one.
function Progress:done()
  if self.tty and self.drawn then
    self.out:write("\n")
    self.out:flush()
    self.drawn = false
  end
end

return progress
