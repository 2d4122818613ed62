-- loom.runs.progress: the progress display of runs and sweeps: on a terminal a bar with rate,
-- ETA and the latest metrics, redrawn in place; otherwise one plain line every few seconds.
-- Not a logger: it only draws what it is given.
local process = require("loom.core").process

local progress = {}

local Progress = {}
Progress.__index = Progress

local REDRAW_SECONDS = 0.1 -- terminal redraw limit
local PLAIN_SECONDS = 5    -- one plain line this often when not on a terminal

-- progress.new{label = "name", out = io.stdout, tty = nil (detect), plain_seconds = 5, unit = "it"}
function progress.new(opts)
  opts = opts or {}
  local out = opts.out or io.stdout
  local tty = opts.tty
  if tty == nil then tty = process.isatty(out) and os.getenv("TERM") ~= "dumb" end
  return setmetatable({label = opts.label or "", out = out, tty = tty, unit = opts.unit or "it",
    plain_seconds = opts.plain_seconds or PLAIN_SECONDS, started = process.now(),
    last_draw = -math.huge, drawn = false, first_i = nil}, Progress)
end

-- "1:02:03" or "2:03"
function progress.duration(seconds)
  if seconds ~= seconds or seconds == math.huge then return "?" end
  seconds = math.floor(seconds + 0.5)
  local h, m, s = seconds // 3600, seconds % 3600 // 60, seconds % 60
  if h > 0 then return string.format("%d:%02d:%02d", h, m, s) end
  return string.format("%d:%02d", m, s)
end

local function metrics_text(m)
  if not m then return "" end
  local keys = {}
  for k in pairs(m) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do
    local v = m[k]
    parts[#parts + 1] = type(v) == "number" and string.format("%s=%.4g", k, v) or (k .. "=" .. tostring(v))
  end
  return table.concat(parts, " ")
end
progress.metrics_text = metrics_text

-- Rate (items per second) and ETA from the items done since the first update.
function Progress:estimate(i, n)
  local elapsed = process.now() - self.started
  local done = i - (self.first_i or 0)
  -- Too early for a rate that means anything: show none rather than a wild one.
  local rate = elapsed > 0.25 and done / elapsed or 0
  local eta = (rate > 0 and n) and (n - i) / rate or math.huge
  return rate, eta, elapsed
end

local function rate_text(rate, unit)
  if rate >= 100 then return string.format("%.0f %s/s", rate, unit) end
  if rate >= 1 then return string.format("%.1f %s/s", rate, unit) end
  if rate > 0 then return string.format("%.1f s/%s", 1 / rate, unit) end
  return "- " .. unit .. "/s"
end

-- The terminal line: label [#####.....]  45% 450/1000 12.3 it/s ETA 0:45 loss=0.12
function Progress:line(i, n, metrics, extra)
  local rate, eta, elapsed = self:estimate(i, n)
  local frac = n and n > 0 and math.min(1, math.max(0, i / n)) or 0
  local width = 24
  local fill = math.floor(frac * width + 0.5)
  local bar = n and ("[" .. string.rep("#", fill) .. string.rep(".", width - fill) .. "]") or ""
  local count = n and string.format("%3d%% %d/%d", math.floor(frac * 100), i, n) or tostring(i)
  local timing = (n and i >= n) and ("in " .. progress.duration(elapsed))
    or ("ETA " .. progress.duration(eta))
  local parts = {self.label, bar, count, rate_text(rate, self.unit), timing, extra or "", metrics_text(metrics)}
  local line = table.concat(parts, " "):gsub("%s+", " ")
  return line
end

-- Progress:update(i, n, metrics [, extra]): draw if due (always at the end: i >= n).
function Progress:update(i, n, metrics, extra)
  -- A loop that starts at i counts as i - 1 items done before the display began.
  if self.first_i == nil then self.first_i = math.max(0, i - 1) end
  local now = process.now()
  local final = n and i >= n
  local interval = self.tty and REDRAW_SECONDS or self.plain_seconds
  if not final and now - self.last_draw < interval then return end
  if not self.tty and not final and self.last_draw == -math.huge then
    -- The first plain line waits one interval, so short runs print only their last line.
    self.last_draw = now
    return
  end
  self.last_draw = now
  local line = self:line(i, n, metrics, extra)
  if self.tty then
    local cols = process.columns() or 100
    if #line > cols - 1 then line = line:sub(1, cols - 1) end
    self.out:write("\r\27[K", line)
    self.drawn = true
    if final then self:done() end
  else
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
