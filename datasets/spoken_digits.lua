-- spoken_digits.lua: synthetic spoken digits in FSDD's layout, spoken by espeak-ng across
-- accents, voice variants, speaking rates and pitches, as 8 kHz mono 16-bit WAV files named
-- {digit}_{voice}_{take}.wav. Not FSDD itself (see datasets/README.md for the real recordings).
--
-- Command line:
--   loom datasets/spoken_digits.lua --out DIR [--speakers 12] [--takes 20] [--seed 1] [--rate 8000]
-- From Lua:
--   local digits = dofile("datasets/spoken_digits.lua")
--   digits.generate{out = DIR, speakers = 12, takes = 20, seed = 1} -> count of files written
-- Takes 0-4 of every voice play the role of FSDD's test split.
local loom = require "loom"

local digits = {}

digits.WORDS = {[0] = "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}

-- espeak-ng's English accents (gmw voices, no mbrola needed) and voice variants. A speaker is
-- an (accent, variant) pair; in round r accent a takes variant a + r, so the first eight
-- speakers are eight accents alternating male and female variants, and all 96 pairs differ.
digits.ACCENTS = {"en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc",
  "en-gb-x-gbclan", "en-gb-x-gbcwmd"}
digits.VARIANTS = {"m1", "f1", "m3", "f3", "m2", "f2", "m4", "f4", "m5", "f5", "m6", "m7"}

-- The first n speakers: {voice = "en-us+f3", name = "en-us-f3"}.
function digits.speakers(n)
  local list = {}
  local nv = #digits.VARIANTS
  for round = 0, nv - 1 do
    for a, accent in ipairs(digits.ACCENTS) do
      local variant = digits.VARIANTS[(a - 1 + round) % nv + 1]
      list[#list + 1] = {voice = accent .. "+" .. variant, name = accent .. "-" .. variant}
    end
  end
  if n > #list then
    error(string.format("spoken_digits: at most %d speakers (%d accents x %d variants), asked for %d",
      #list, #digits.ACCENTS, #digits.VARIANTS, n), 2)
  end
  return table.move(list, 1, n, 1, {})
end

local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

function digits.have_espeak()
  return os.execute("espeak-ng --version >/dev/null 2>&1") == true
end

-- Samples between the first and last point louder than `threshold`, with a margin, like
-- FSDD's trimmed recordings.
local function trim(x, rate, threshold)
  local n = x:rows()
  local first, last = nil, nil
  for i = 1, n do
    if math.abs(x:get(i, 1)) > threshold then first = i; break end
  end
  if not first then return x end
  for i = n, 1, -1 do
    if math.abs(x:get(i, 1)) > threshold then last = i; break end
  end
  local margin = math.floor(0.03 * rate)
  first, last = math.max(1, first - margin), math.min(n, last + margin)
  return x:slice(first, last, 1, 1):copy()
end

-- Say `word` with espeak-ng and return it as an N x 1 matrix at `rate` Hz, trimmed and
-- scaled to peak `peak`; nil, message when espeak-ng fails.
function digits.say(word, voice, opts)
  local tmp = os.tmpname()
  local cmd = string.format("espeak-ng -v %s -s %d -p %d -a %d -w %s %s 2>/dev/null",
    shell_quote(voice), opts.speed or 160, opts.pitch or 50, opts.amplitude or 100, shell_quote(tmp),
    shell_quote(word))
  if os.execute(cmd) ~= true then
    os.remove(tmp)
    return nil, "espeak-ng failed: " .. cmd
  end
  local x, rate = loom.audio.read(tmp)
  os.remove(tmp)
  if not x then return nil, rate end
  local out_rate = opts.rate or 8000
  if rate ~= out_rate then x = loom.audio.resample(x, rate, out_rate) end
  x = trim(x, out_rate, 0.02)
  local peak = math.max(x:max(), -x:min())
  if peak > 0 then x = x * ((opts.peak or 0.5) / peak) end
  return x
end

-- The number of .wav files in dir (0 when it does not exist).
local function count_wavs(dir)
  local pipe = io.popen("ls -1 " .. shell_quote(dir) .. " 2>/dev/null")
  local n = 0
  for name in pipe:lines() do if name:match("%.wav$") then n = n + 1 end end
  pipe:close()
  return n
end

-- The files of a set (speakers x 10 digits x takes) written into dir; returns their count.
local function write_set(dir, speakers, takes, rate, opts)
  math.randomseed(opts.seed or 1)
  local count, total = 0, #speakers * 10 * takes
  for _, speaker in ipairs(speakers) do
    for d = 0, 9 do
      for take = 0, takes - 1 do
        local settings = {speed = math.random(120, 220), pitch = math.random(25, 75),
          peak = 0.2 + 0.6 * math.random(), rate = rate}
        local path = string.format("%s/%d_%s_%d.wav", dir, d, speaker.name, take)
        local x = assert(digits.say(digits.WORDS[d], speaker.voice, settings))
        assert(loom.audio.write(path, x, rate, {format = "pcm16"}))
        count = count + 1
        if opts.progress then opts.progress(count, total) end
      end
    end
  end
  return count
end

-- Write speakers x 10 digits x takes files into opts.out; returns the number written.
-- Every take draws its speaking rate (120..220 words/min), pitch (25..75) and loudness
-- (peak 0.2..0.8) from a generator seeded by opts.seed, so a seed fixes the whole set.
-- The files are written into a folder of their own beside opts.out and renamed to opts.out
-- when all are there: a reader (another worker of a sweep) sees the whole set or none of it,
-- and two processes generating the same set at once both end with it.
function digits.generate(opts)
  local out = assert(opts.out, "spoken_digits.generate: opts.out (a directory) is required")
  local speakers = digits.speakers(opts.speakers or 12)
  local takes = opts.takes or 20
  local rate = opts.rate or 8000
  if not digits.have_espeak() then
    error("spoken_digits: espeak-ng not found (apt-get install espeak-ng)", 2)
  end
  out = out:gsub("(.)/+$", "%1")
  os.execute("mkdir -p " .. shell_quote(out:match("^(.*)/[^/]*$") or "."))
  local pipe = io.popen("mktemp -d " .. shell_quote(out .. ".partial-XXXXXX") .. " 2>/dev/null")
  local staging = pipe:read("l")
  pipe:close()
  if not staging then error("spoken_digits: cannot make a folder beside " .. out, 2) end
  local ok, count = pcall(write_set, staging, speakers, takes, rate, opts)
  if not ok then
    os.execute("rm -rf " .. shell_quote(staging))
    error(count, 0)
  end
  if not os.rename(staging, out) then
    -- out exists: complete (another process was first) or left incomplete by an older loom
    if count_wavs(out) < count then
      os.execute("rm -rf " .. shell_quote(out))
      if os.rename(staging, out) then return count end
    end
    os.execute("rm -rf " .. shell_quote(staging))
  end
  return count
end

local function main(args)
  local opts = {speakers = 12, takes = 20, seed = 1, rate = 8000}
  local i = 1
  while i <= #args do
    local key, value = args[i]:match("^%-%-(%w+)$"), args[i + 1]
    if not key or value == nil then
      io.stderr:write("usage: loom datasets/spoken_digits.lua --out DIR [--speakers N] [--takes N]",
        " [--seed N] [--rate HZ]\n")
      os.exit(2)
    end
    opts[key] = key == "out" and value or tonumber(value)
    i = i + 2
  end
  if not opts.out then
    io.stderr:write("spoken_digits: --out DIR is required\n")
    os.exit(2)
  end
  local t0 = os.clock()
  opts.progress = function(k, n)
    if k % 100 == 0 or k == n then io.stderr:write(string.format("\r%d / %d files", k, n)) end
  end
  local n = digits.generate(opts)
  io.stderr:write("\n")
  print(string.format("wrote %d files (%d speakers x 10 digits x %d takes) to %s in %.1f s CPU",
    n, opts.speakers, opts.takes, opts.out, os.clock() - t0))
end

-- Run as a script (loom datasets/spoken_digits.lua ...), or return the module (dofile).
local script_args = {...}
if #script_args > 0 and type(arg) == "table" and tostring(arg[0]):match("spoken_digits%.lua$") then
  main(script_args)
end
return digits
