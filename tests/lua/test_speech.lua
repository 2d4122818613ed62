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

test("spoken_digits shows a set only when it is whole", function()
  if not have_espeak() then skip("espeak-ng not installed (apt-get install espeak-ng)") end
  local digits = dofile(PROJECT_DIR .. "/datasets/spoken_digits.lua")
  local root = tmp .. "-whole"
  local dir = root .. "/set"
  local function files(d)
    local n, pipe = 0, io.popen("ls -1 '" .. d .. "' 2>/dev/null")
    for name in pipe:lines() do if name:match("%.wav$") then n = n + 1 end end
    pipe:close()
    return n
  end
  local seen = {}
  -- while it writes, the folder readers list stays empty (another sweep worker sees nothing)
  digits.generate{out = dir, speakers = 2, takes = 1, seed = 3, progress = function(k)
    if k == 1 or k == 19 then seen[#seen + 1] = files(dir) end
  end}
  equal(seen[1], 0, "files in the set's folder after the first is written")
  equal(seen[2], 0, "files in the set's folder after the 19th")
  equal(files(dir), 20, "files once generate returns")
  -- a set an older loom left incomplete is replaced; nothing is left beside it
  os.remove(dir .. "/3_en-us-m1_0.wav")
  equal(digits.generate{out = dir .. "/", speakers = 2, takes = 1, seed = 3}, 20, "files written")
  equal(files(dir), 20, "the incomplete set made whole")
  -- two processes at once: both succeed, one set
  local cmd = string.format("'%s' '%s/datasets/spoken_digits.lua' --out '%s/two' --speakers 2 --takes 1 >/dev/null 2>&1",
    os.getenv("LOOM_BIN") or (BUILD_DIR .. "/bin/loom"), PROJECT_DIR, root)
  check(os.execute(string.format("(%s) & (%s); s=$?; wait $! && exit $s", cmd, cmd)), "two generators at once")
  equal(files(root .. "/two"), 20, "files of the set made twice at once")
  local pipe = io.popen("ls -1 '" .. root .. "'")
  local left = pipe:read("a")
  pipe:close()
  equal(left, "set\ntwo\n", "folders beside the sets (no staging folder left)")
  -- a failure part way leaves neither a set nor its staging folder
  local say, said = digits.say, 0
  digits.say = function(...)
    said = said + 1
    if said == 5 then error("espeak-ng stopped") end
    return say(...)
  end
  checkerror_like("espeak-ng stopped", digits.generate, {out = root .. "/three", speakers = 2, takes = 1})
  digits.say = say
  pipe = io.popen("ls -1 '" .. root .. "'")
  left = pipe:read("a")
  pipe:close()
  equal(left, "set\ntwo\n", "nothing left by the failed set")
  os.execute("rm -rf '" .. root .. "'")
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

-- Run the speech experiment with params (key=value strings); returns its result and what it
-- printed.
local function run_speech(args, keep)
  local e = assert(experiment.load(PROJECT_DIR .. "/scripts/experiments/speech.lua"))
  local p = assert(experiment.resolve(e, args))
  loom.seed(p.seed)
  local run = require("loom.runner").new_run(e, p, {quiet = true})
  run.dir = tmp .. "-runs"
  local printed, saved = {}, print
  print = function(...)
    local parts = {}
    for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
    printed[#printed + 1] = table.concat(parts, "\t")
  end
  local ok, result = pcall(e.run, p, run)
  print = saved
  if not keep then os.execute("rm -rf '" .. tmp .. "-runs'") end
  if not ok then error(result, 0) end
  return result, table.concat(printed, "\n")
end

-- A small FSDD-like folder: takes 0..5 of every digit of two FSDD speakers.
local function small_fsdd()
  local src = data_dir("fsdd") .. "/recordings"
  local dir = tmp .. "-fsdd"
  os.execute("mkdir -p '" .. dir .. "'")
  for _, speaker in ipairs{"jackson", "theo"} do
    for d = 0, 9 do
      for take = 0, 5 do
        local name = string.format("%d_%s_%d.wav", d, speaker, take)
        local x, rate = loom.audio.read(src .. "/" .. name)
        loom.audio.write(dir .. "/" .. name, x, rate)
      end
    end
  end
  return dir
end

-- (espeak=0: the default mixes 2,400 generated espeak-ng recordings into FSDD's training set)
local TINY = {"epochs=1", "hidden=8", "channels=8", "batch=16", "espeak=0"}
local function with(list)
  local args = {}
  for _, a in ipairs(TINY) do args[#args + 1] = a end
  for _, a in ipairs(list) do args[#args + 1] = a end
  return args
end

test("speech quick=true learns the synthetic set (the demo of a clone without FSDD)", function()
  if not have_espeak() then skip("espeak-ng not installed (apt-get install espeak-ng)") end
  local cache = tmp .. "-quick-cache"
  local r = run_speech({"quick=true", "synthetic=true", "cache=" .. cache})
  equal(r.train_utterances .. " " .. r.test_utterances, "240 400", "8 voices x 8 takes")
  check(r.test_accuracy >= 0.9, "learnt: %.2f%% (six epochs gave 41%%)", 100 * r.test_accuracy)
  os.execute("rm -rf '" .. cache .. "'")
end)

test("speech: leave-one-speaker-out, CRNN and augmentation on the fly", function()
  if not (loom.nn and loom.nn.Conv1d) then skip("nn.Conv1d is not available in this build") end
  local data = small_fsdd()
  local result, out = run_speech(with{"data=" .. data, "protocol=loso", "model=crnn", "copies=0"})
  check(result.loso_mean >= 0 and result.loso_mean <= 1, "mean %s", tostring(result.loso_mean))
  check(result.per_speaker:match("^jackson=%d%.%d+ theo=%d%.%d+$"), "one fold per speaker: %s", result.per_speaker)
  check(out:find("leave-one-speaker-out accuracy", 1, true) and out:find("mean ", 1, true), "the table:\n%s", out)
  check(out:find("fold 2/2, theo", 1, true), "fold lines:\n%s", out)
  check(result.feature_share > 0 and result.feature_share < 1, "feature share %g", result.feature_share)
  -- perturbed copies made once, masks per epoch; the official split of the folder (takes 0-4 test)
  local r2, out2 = run_speech(with{"data=" .. data, "copies=2"})
  equal(r2.test_utterances, 100, "takes 0-4 of 2 speakers")
  equal(r2.train_utterances, 20, "take 5 of 2 speakers")
  check(out2:find("perturbed copies made once", 1, true), "timing line:\n%s", out2)
  -- no augmentation at all
  local r3 = run_speech(with{"data=" .. data, "speed=", "vtlp=0", "shift=0", "noise=", "specaug=false"})
  equal(r3.feature_share, 0, "no features made per epoch")
  os.execute("rm -rf '" .. data .. "'")
end)

test("speech: espeak-ng voices mixed into training, and across domains", function()
  if not have_espeak() then skip("espeak-ng not installed (apt-get install espeak-ng)") end
  local data, cache = small_fsdd(), tmp .. "-cache2"
  local common = {"data=" .. data, "cache=" .. cache, "espeak_speakers=1", "espeak_takes=2", "speed=", "vtlp=0",
    "shift=0", "noise=", "specaug=false"}
  local mixed = run_speech(with{"espeak=0.5", table.unpack(common)})
  equal(mixed.train_utterances, 20 + 10, "20 FSDD + half as many espeak")
  equal(mixed.test_utterances, 100, "FSDD test only")
  local across = run_speech(with{"domain=fsdd->espeak", table.unpack(common)})
  equal(across.train_utterances, 120, "every FSDD utterance trains")
  equal(across.test_utterances, 20, "every espeak utterance tests")
  equal(across.dataset, "fsdd->espeak", "labelled by domain")
  local back = run_speech(with{"domain=espeak->fsdd", table.unpack(common)})
  equal(back.train_utterances, 20, "espeak trains")
  equal(back.test_utterances, 120, "FSDD tests")
  -- the default (espeak not given) mixes them in too; quick=true does not
  local tiny = {}
  for _, a in ipairs(TINY) do if a ~= "espeak=0" then tiny[#tiny + 1] = a end end
  for _, a in ipairs(common) do tiny[#tiny + 1] = a end
  local default = run_speech(tiny)
  equal(default.espeak_utterances .. " of " .. default.train_utterances, "10 of 30", "espeak-ng by default")
  local quick = run_speech({"quick=true", "epochs=1", table.unpack(common)})
  equal(quick.espeak_utterances .. " of " .. quick.train_utterances, "0 of 20", "quick: FSDD alone")
  equal(mixed.espeak_utterances, 10, "espeak=0.5 given")
  os.execute("rm -rf '" .. data .. "' '" .. cache .. "'")
end)

test("speech: espeak= on the synthetic set mixes nothing and says so", function()
  if not have_espeak() then skip("espeak-ng not installed (apt-get install espeak-ng)") end
  local cache = tmp .. "-cache3"
  local r, out = run_speech(with{"synthetic=true", "cache=" .. cache, "speakers=2", "takes=6", "espeak=1"})
  equal(r.espeak_utterances .. " of " .. r.train_utterances, "0 of 20", "the synthetic set alone")
  check(out:find("the synthetic set is espeak-ng already", 1, true), "the note:\n%s", out)
  os.execute("rm -rf '" .. cache .. "'")
end)

test("speech: spectral augmentation, log mel features, dropout, weight averaging and float32 train", function()
  if not (loom.nn and loom.nn.Conv1d) then skip("nn.Conv1d is not available in this build") end
  local data = small_fsdd()
  local r, out = run_speech(with{"data=" .. data, "features=fbank", "mel_bins=24", "dropout=0.2", "average=1",
    "model=crnn", "pool=mean", "dtype=float32", "epochs=2", "average=2"})
  equal(r.train_utterances, 20, "take 5 of 2 speakers")
  check(r.test_accuracy >= 0 and r.test_accuracy <= 1, "accuracy %g", r.test_accuracy)
  check(r.feature_share > 0 and r.feature_share < 1, "features made on the fly every epoch: %g", r.feature_share)
  check(out:find("perturbed copies made once: 0.0 s", 1, true), "spectral augmentation makes no copies:\n%s", out)
  -- the same seed gives the same run
  local r2 = run_speech(with{"data=" .. data, "features=fbank", "mel_bins=24", "dropout=0.2", "average=1",
    "model=crnn", "pool=mean", "dtype=float32", "epochs=2", "average=2"})
  equal(r2.test_accuracy, r.test_accuracy, "reproducible")
  os.execute("rm -rf '" .. data .. "'")
end)

test("speech: trim_db cuts the silence around a recording, in training and in the saved model's predictions", function()
  local data = small_fsdd()
  local padded = tmp .. "-padded"
  os.execute("mkdir -p '" .. padded .. "'")
  local names = {}
  for d = 0, 9 do names[#names + 1] = string.format("%d_theo_0.wav", d) end
  for _, name in ipairs(names) do
    local x, rate = loom.audio.read(data .. "/" .. name)
    loom.audio.write(padded .. "/" .. name, loom.vcat{loom.zeros(4000, 1), x, loom.zeros(6000, 1)}, rate)
  end
  local bin, script = BUILD_DIR .. "/bin/loom", PROJECT_DIR .. "/scripts/experiments/speech.lua"
  -- per-utterance CMVN below: each file is then predicted alone as in a folder, which the
  -- comparisons of one-file predictions with test= rely on
  -- the digit predicted for each of names in dir: "<digit> <digit> ..."
  local function digits(model, dir, extra)
    local out = {}
    for _, name in ipairs(names) do
      local p = io.popen(string.format("'%s' '%s' predict '%s/%s' --checkpoint '%s' %s 2>&1", bin, script, dir, name, model,
        extra or ""))
      out[#out + 1] = p:read("a"):match("\t(%d)\n$") or "?"
      p:close()
    end
    return table.concat(out, " ")
  end
  local plain = run_speech(with{"data=" .. data, "holdout=jackson", "epochs=10", "hidden=16", "channels=16", "lr=0.01", "batch=8", "trim_db=0", "cmvn=utterance"}, true)
  local kept = tmp .. "-plain.safetensors"
  os.rename(plain.model, kept)
  local trimmed = run_speech(with{"data=" .. data, "holdout=jackson", "epochs=10", "hidden=16", "channels=16", "lr=0.01", "batch=8", "trim_db=40", "cmvn=utterance"}, true)
  local _, meta = loom.load(trimmed.model)
  equal(meta.trim_db, "40", "saved with the model")
  equal(digits(trimmed.model, padded), digits(trimmed.model, data), "padded recordings read as the originals")
  check(digits(kept, padded) ~= digits(kept, data), "without trim_db the padding changes predictions (%s)",
    digits(kept, padded))
  -- a trim_db given at prediction replaces the model's own: the untrimmed model then reads
  -- the padded recordings as the originals too
  equal(digits(kept, padded, "--trim-db 40"), digits(kept, data, "--trim-db 40"), "--trim-db 40 on the untrimmed model")
  local scored_padded = run_speech({"test=" .. padded, "checkpoint=" .. kept, "trim_db=40"}, true)
  local scored_plain = run_speech({"test=" .. padded, "checkpoint=" .. kept}, true)
  local p = io.popen(string.format("'%s' '%s' predict '%s' --checkpoint '%s' 2>&1", bin, script, padded, kept))
  local hits = 0
  for line in p:lines() do
    local truth, said = line:match("/(%d)_theo_0%.wav\t(%d)$")
    if truth and truth == said then hits = hits + 1 end
  end
  p:close()
  equal(scored_plain.test_accuracy, hits / 10, "test= without trim_db scores as the model's own setting")
  local opened = {}
  for d in digits(kept, data, "--trim-db 40"):gmatch("%d") do opened[#opened + 1] = d end
  local right = 0
  for i, d in ipairs(opened) do if tonumber(d) == i - 1 then right = right + 1 end end
  equal(scored_padded.test_accuracy, right / 10, "test= trim_db=40 scores the padded files as the originals")
  local bad = io.popen(string.format("'%s' '%s' predict '%s' --checkpoint '%s' --trim-db loud 2>&1; echo \"status $?\"",
    bin, script, padded, kept)):read("a")
  check(bad:find("speech: --trim-db must be a number >= 0, got 'loud'\nstatus 1", 1, true), "bad --trim-db: %s", bad)
  os.execute("rm -rf '" .. data .. "' '" .. padded .. "' '" .. kept .. "' '" .. tmp .. "-runs'")
end)

test("speech: the saved model recognises files and folders (predict=, test=, run directly)", function()
  local data = small_fsdd()
  local r = run_speech(with{"data=" .. data, "features=fbank", "mel_bins=24"}, true)
  check(io.open(r.model), "model saved: %s", tostring(r.model))
  local scored, out = run_speech({"test=" .. data, "checkpoint=" .. r.model}, true)
  equal(scored.test_utterances, 120, "every file of the folder")
  -- test-time warps: "1" alone is the plain prediction; three warps average three passes
  local same = run_speech({"test=" .. data, "checkpoint=" .. r.model, "test_warps=1"}, true)
  equal(same.test_accuracy, scored.test_accuracy, "test_warps=1 predicts as without warps")
  local warped = run_speech({"test=" .. data, "checkpoint=" .. r.model, "test_warps=0.9,1,1.1"}, true)
  equal(warped.test_utterances, 120, "warped: every file")
  check(warped.test_accuracy >= 0 and warped.test_accuracy <= 1, "warped accuracy %g", warped.test_accuracy)
  check(out:find("jackson", 1, true) and out:find("theo", 1, true), "per speaker:\n%s", out)
  -- run directly: one "path<TAB>digit" line per WAV, in name order; a 16 kHz stereo file is resampled
  local x = loom.audio.read(data .. "/7_theo_0.wav")
  local wide = loom.audio.resample(x, 8000, 16000)
  loom.audio.write(tmp .. "-stereo.wav", loom.hcat{wide, wide}, 16000)
  local loom_bin = BUILD_DIR .. "/bin/loom"
  local script = PROJECT_DIR .. "/scripts/experiments/speech.lua"
  local p = io.popen(string.format("'%s' '%s' predict '%s' --checkpoint '%s' 2>&1", loom_bin, script, data, r.model))
  local lines = {}
  for line in p:lines() do lines[#lines + 1] = line end
  p:close()
  equal(#lines, 120, "a line per file (" .. tostring(lines[1]) .. ")")
  check(lines[1]:match("/0_jackson_0%.wav\t%d$"), "path<TAB>digit: %s", lines[1])
  p = io.popen(string.format("'%s' '%s' predict '%s' --checkpoint '%s' 2>&1", loom_bin, script, tmp .. "-stereo.wav",
    r.model))
  local one = p:read("a")
  p:close()
  check(one:match("%-stereo%.wav\t%d\n$"), "a 16 kHz stereo file: %s", one)
  -- errors in one line
  checkerror("speech: predict= needs checkpoint=PATH (the model.safetensors of a run)", run_speech, {"predict=" .. data}, true)
  checkerror("speech: cannot open the model /nonexistent.safetensors", run_speech,
    {"predict=" .. data, "checkpoint=/nonexistent.safetensors"}, true)
  checkerror("speech: no such file or folder: /nonexistent", run_speech, {"predict=/nonexistent", "checkpoint=" .. r.model}, true)
  local bad = io.open(tmp .. "-bad.wav", "w"); bad:write("not audio"); bad:close()
  checkerror_like("is not a readable audio file", run_speech, {"predict=" .. tmp .. "-bad.wav", "checkpoint=" .. r.model}, true)
  os.execute("rm -rf '" .. data .. "' '" .. tmp .. "-runs' '" .. tmp .. "-stereo.wav' '" .. tmp .. "-bad.wav'")
end)

test("speech: speaker CMVN in training and in the saved model's predictions", function()
  -- takes 0 and 5 of two speakers: the official split tests take 0, ten recordings a voice, so
  -- the training set's prior (200 frames) weighs about a third of each test voice's statistics
  local all = small_fsdd()
  local data, tests = tmp .. "-fsdd05", tmp .. "-fsdd0"
  os.execute(string.format("mkdir -p '%s' '%s' && cp '%s'/*_[05].wav '%s'/ && cp '%s'/*_0.wav '%s'/",
    data, tests, all, data, all, tests))
  local r, out = run_speech(with{"data=" .. data, "cmvn=speaker", "epochs=30", "hidden=16", "lr=0.01"}, true)
  equal(r.test_utterances, 20, "take 0 of 2 speakers")
  local tensors, meta = loom.load(r.model)
  equal(meta.cmvn, "speaker", "the saved model records its normalisation")
  check(tensors["cmvn_prior.mean"] and tensors["cmvn_prior.sd"]:cols() == 39, "and the training set's statistics")
  -- the run's predictions.tsv against the saved model run directly on the same recordings:
  -- file for file the same digit (each voice normalised by its own recordings and the prior)
  local want = {}
  for line in io.lines(r.predictions) do
    local path, predicted = line:match("^(.-)\t%d\t(%d)$")
    if path then want[path:match("[^/]+$")] = predicted end
  end
  local err = tmp .. "-err"
  local function predict_files(path)
    local pipe = io.popen(string.format("'%s' '%s' predict '%s' --checkpoint '%s' 2>'%s'", BUILD_DIR .. "/bin/loom",
      PROJECT_DIR .. "/scripts/experiments/speech.lua", path, r.model, err))
    local lines = {}
    for line in pipe:lines() do lines[#lines + 1] = line end
    pipe:close()
    return lines
  end
  local lines = predict_files(tests)
  equal(#lines, 20, "a line per recording")
  for _, line in ipairs(lines) do
    local name, digit = line:match("([^/]+)\t(%d)$")
    equal(digit, want[name], name)
  end
  local scored, out2 = run_speech({"test=" .. tests, "checkpoint=" .. r.model}, true)
  equal(scored.test_accuracy, r.test_accuracy, "test= scores as the run did")
  for _, speaker in ipairs{"jackson", "theo"} do
    equal(out2:match(speaker .. "%s+([%d.]+)%%"), out:match(speaker .. "%s+([%d.]+)%%"), speaker .. "'s accuracy")
  end
  -- one recording of a voice: normalised mostly by the prior, nothing on standard error
  local one = predict_files(tests .. "/3_theo_0.wav")
  check(#one == 1 and one[1]:match("/3_theo_0%.wav\t%d$"), "one path<TAB>digit line: %s", tostring(one[1]))
  local f = assert(io.open(err))
  equal(f:read("a"), "", "standard error")
  f:close()
  -- the old boolean values still mean what they meant
  local plain = run_speech(with{"data=" .. all, "cmvn=utterance"})
  equal(run_speech(with{"data=" .. all, "cmvn=true"}).test_accuracy, plain.test_accuracy, "cmvn=true is utterance")
  os.execute("rm -rf '" .. all .. "' '" .. data .. "' '" .. tests .. "' '" .. tmp .. "-runs' '" .. err .. "'")
end)

test("speech: bad params are named", function()
  checkerror("speech: cmvn must be 'utterance', 'speaker' or 'none', got 'global'", run_speech, {"cmvn=global"})
  checkerror("speech: model must be 'lstm' or 'crnn'", run_speech, {"model=cnn"})
  checkerror("speech: protocol must be 'official' or 'loso'", run_speech, {"protocol=kfold"})
  checkerror("speech: noise must list 'white' and/or 'babble', got 'pink'", run_speech, {"noise=pink"})
  checkerror("speech: speed must list numbers, got 'fast'", run_speech, {"speed=fast"})
  checkerror("speech: test_warps must list numbers, got 'wide'", run_speech, {"test_warps=wide"})
  checkerror("speech: test_warps must lie in 0.5..2, got 3", run_speech, {"test_warps=1,3"})
  checkerror("speech: features must be 'mfcc' or 'fbank'", run_speech, {"features=plp"})
  checkerror("speech: augment must be 'spectral' or 'waveform'", run_speech, {"augment=both"})
  checkerror("speech: dtype must be 'float64' or 'float32'", run_speech, {"dtype=half"})
  checkerror("speech: espeak must be a number >= 0, got -0.5", run_speech, {"espeak=-0.5"})
  checkerror("speech: shift needs augment=waveform (a delay in silence is a waveform edit)", run_speech, {"shift=0.1"})
end)
