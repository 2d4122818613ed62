-- audio_features.lua: seconds per file to read a WAV and compute Kaldi MFCC, loom against
-- torchaudio.compliance.kaldi (its twin audio_features.py), on the first N FSDD files.
-- Usage: build/bin/loom tests/bench/audio_features.lua [N=300]. Not a test: prints ratios.
local loom = require "loom"

local here = arg and arg[0] and arg[0]:match("^(.*)/[^/]*$") or "tests/bench"
local fsdd, missing = loom.data.path("fsdd")
if not fsdd then
  print("audio_features bench: skipped, " .. missing)
  return
end
local dir = fsdd .. "/recordings"
local n = tonumber(arg and arg[1]) or 300

local names = {}
local pipe = io.popen("ls -1 '" .. dir .. "' 2>/dev/null")
for name in pipe:lines() do
  if name:match("%.wav$") then names[#names + 1] = name end
end
pipe:close()
table.sort(names)
if #names == 0 then
  print("audio_features: no FSDD recordings in " .. dir)
  return
end
n = math.min(n, #names)

local t0 = os.clock()
for i = 1, n do
  local x, rate = assert(loom.audio.read(dir .. "/" .. names[i]))
  loom.audio.mfcc(x, rate)
end
local loom_seconds = (os.clock() - t0) / n
print(string.format("loom_seconds_per_file %.6g (%d files)", loom_seconds, n))

local py = "/usr/bin/python3"
local out = io.popen(string.format("%s %s/audio_features.py '%s' %d 2>/dev/null", py, here, dir, n)):read("a")
local torch_seconds = tonumber(out:match("torchaudio_seconds_per_file (%S+)"))
if torch_seconds then
  print(string.format("torchaudio_seconds_per_file %.6g", torch_seconds))
  print(string.format("ratio torchaudio/loom %.2f (above 1: loom is faster)", torch_seconds / loom_seconds))
else
  print("torchaudio reference not available (apt-get install python3-torchaudio)")
end
