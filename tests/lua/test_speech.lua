-- test_speech.lua: the spoken-digit generator and the speech experiment end to end on a tiny
-- synthetic set (espeak-ng). Not an accuracy benchmark: FSDD accuracy is in docs/audio.md.
local loom = require "loom"
local experiment = require "loom.experiment"

local function have_espeak()
  return os.execute("espeak-ng --version >/dev/null 2>&1") == true
end

local tmp = os.tmpname()
os.remove(tmp)

test("spoken_digits writes FSDD-style 8 kHz 16-bit files", function()
  if not have_espeak() then skip("espeak-ng not installed (apt-get install espeak-ng)") end
  local digits = dofile(PROJECT_DIR .. "/datasets/spoken_digits.lua")
  local dir = tmp .. "-digits"
  equal(digits.generate{out = dir, speakers = 2, takes = 1, seed = 3}, 20, "files written")
  local speakers = digits.speakers(2)
  equal(speakers[1].name, "en-us-m1", "first speaker")
  equal(speakers[2].name, "en-gb-f1", "second speaker")
  local x, rate = loom.audio.read(dir .. "/7_en-gb-f1_0.wav")
  check(x, "read: %s", tostring(rate))
  equal(rate, 8000, "rate")
  equal(x:cols(), 1, "mono")
  check(x:rows() > 1600 and x:rows() < 16000, "a spoken word lasts 0.2-2 s, got %d samples", x:rows())
  -- the same seed gives the same file
  local dir2 = tmp .. "-digits2"
  digits.generate{out = dir2, speakers = 2, takes = 1, seed = 3}
  local y = loom.audio.read(dir2 .. "/7_en-gb-f1_0.wav")
  equal(y:rows(), x:rows(), "same length")
  equal((x - y):map("abs"):max(), 0, "same samples")
  os.execute("rm -rf '" .. dir .. "' '" .. dir2 .. "'")
  checkerror_like("at most 96 speakers", digits.speakers, 97)
end)

test("speech experiment runs end to end on synthetic digits", function()
  if not have_espeak() then skip("espeak-ng not installed (apt-get install espeak-ng)") end
  if not (loom.nn and loom.nn.LSTM) then skip("nn.LSTM is not available in this build") end
  local e = assert(experiment.load(PROJECT_DIR .. "/scripts/experiments/speech.lua"))
  local cache = tmp .. "-cache"
  local p = assert(experiment.resolve(e, {"synthetic=true", "cache=" .. cache, "speakers=2", "takes=7",
    "epochs=2", "hidden=8", "data=/nonexistent"}))
  loom.seed(p.seed)
  local artifacts = tmp .. "-runs"
  local run = require("loom.runner").new_run(e, p, {quiet = true})
  run.dir = artifacts
  local result = e.run(p, run)
  local logged = run.metrics
  equal(result.dataset, "synthetic", "dataset")
  equal(result.test_utterances, 100, "test utterances (takes 0-4)")
  equal(result.train_utterances, 40, "training utterances (takes 5-6)")
  check(result.test_accuracy >= 0 and result.test_accuracy <= 1, "accuracy %g", result.test_accuracy)
  check(#logged >= 3, "metrics logged per epoch and at the end")
  check(result.per_speaker:find("en-us-m1=", 1, true), "per-speaker accuracy: %s", result.per_speaker)
  if require("loom.runs.plot").available() then
    equal(result.confusion_png, artifacts .. "/confusion.png", "the confusion matrix is drawn")
    check(io.open(result.confusion_png), "confusion.png exists")
  end
  os.execute("rm -rf '" .. cache .. "' '" .. artifacts .. "'")
end)
