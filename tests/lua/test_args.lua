-- test_args.lua: every public function of loom's Lua half answers a wrong argument with a
-- message that starts with its public name and shows none of Lua's internals; then the
-- exact messages of the examples that once did (issue 13, item 11). Not the C bindings'
-- own checks (test_matrix, test_nn, ... assert those).
local loom = require "loom"
local lcheck = require "loom.check"
local nn, seq, text, data = loom.nn, loom.seq, loom.text, loom.data

-- ---- the walker ----

-- Source files of the Lua half whose functions the walker calls. Files owned by other
-- areas are listed with the reason so that taking one in is a one-line change.
local NOT_WALKED = {
  ["runs/"] = "loom.runs: the run store, argument checks tested in test_runs",
  ["nn/recurrent.lua"] = "nn.RNN/LSTM/GRU constructors: validated by the rnn binding",
}

local function loom_file(f)
  local src = debug.getinfo(f, "S").source
  local rel = src:match("^@.*/lua/loom/(.*)$")
  if not rel then return nil end
  for prefix in pairs(NOT_WALKED) do
    if rel:sub(1, #prefix) == prefix then return nil end
  end
  return rel
end

-- Every Lua function reachable from require "loom" by fields: {f = {paths...}}.
local function reachable()
  local found, seen = {}, {}
  local function walk(t, path, depth)
    if seen[t] or depth > 4 then return end
    seen[t] = true
    for k, v in pairs(t) do
      if type(k) == "string" then
        local name = path .. "." .. k
        if type(v) == "function" and loom_file(v) and k:sub(1, 2) ~= "__" then
          found[v] = found[v] or {}
          table.insert(found[v], name)
        elseif type(v) == "table" and not loom.is_matrix(v) then
          walk(v, name, depth + 1)
        end
      end
    end
  end
  walk(loom, "loom", 0)
  return found
end

-- Objects whose methods (their metatables' __index chains) are public too, with the class
-- names a message may use: "<class>:<method>: ...".
local function samples()
  local lin = nn.Linear(2, 1)
  local opt = loom.optim.sgd(lin, {lr = 0.1})
  local fit = loom.regress(loom.matrix{{1}, {2}, {3}}, loom.matrix{{1}, {2}, {4}})
  return {
    {obj = function() return loom.optim.sgd(nn.Linear(2, 1), {momentum = 0.9}) end,
      classes = {"optim.Optimizer", "sgd"}},
    {obj = function() return loom.optim.adam(nn.Linear(2, 1)) end, classes = {"optim.Optimizer", "adam"}},
    {obj = function() return loom.optim.step_lr(opt, {step_size = 2}) end, classes = {"optim.Schedule"}},
    {obj = function() return fit end, classes = {"fit"}},
    {obj = function() return text.vocab{{"a", "b"}} end, classes = {"text.Vocab"}},
    {obj = function() return data.batches(5, 2) end, classes = {"data.Batches"}},
    {obj = function() return data.loader(loom.zeros(5, 2), loom.zeros(5, 1), 2) end, classes = {"data.Loader"}},
    {obj = function() return nn.Sequential{nn.Linear(2, 1)} end, classes = {"nn.Sequential", "nn.Module"}},
    {obj = function() return nn.Linear(2, 1) end, classes = {"nn.Linear", "nn.Module"}},
    {obj = function() return nn.MSELoss() end, classes = {"nn.MSELoss", "nn.Loss"}},
  }
end

-- Lua methods of an object: {name = f} over its metatable's __index chain.
local function methods_of(obj)
  local out, mt = {}, getmetatable(obj)
  local index = mt and mt.__index
  local depth = 0
  while type(index) == "table" and depth < 4 do
    for k, v in pairs(index) do
      if type(k) == "string" and type(v) == "function" and out[k] == nil and loom_file(v)
          and k:sub(1, 2) ~= "__" then
        out[k] = v
      end
    end
    local imt = getmetatable(index)
    index = imt and imt.__index
    depth = depth + 1
  end
  return out
end

-- Good arguments for each walked function (a fresh tuple per call). A public function
-- without an entry fails the walk: a new function comes with its entry.
local function list3() return {{1, 2, 3}, {4}, {5, 6}} end

-- A tiny translation setting for loom.seq2seq: pairs, vocabularies, a model, batches.
local s2s = loom.seq2seq
local S2S_SAVE_PATH = os.tmpname() -- model:save's file, removed at the end
local function s2s_pairs() return {{src = {"a", "b"}, tgt = {"x"}}, {src = {"b"}, tgt = {"y", "x"}}} end
local function s2s_vocabs()
  local ps = s2s_pairs()
  return s2s.vocab{ps[1].src, ps[2].src}, s2s.vocab{ps[1].tgt, ps[2].tgt}
end
local function s2s_model(attention)
  local sv, tv = s2s_vocabs()
  return s2s.model{src_vocab = sv:size(), tgt_vocab = tv:size(), embed = 3, hidden = 4,
    attention = attention or "general"}
end
local function s2s_batch()
  local sv, tv = s2s_vocabs()
  return s2s.batches(s2s_pairs(), sv, tv, 2)[1]
end
-- model, emb, feed, h, c, keys, lengths of one decoder step on s2s_batch()
local function s2s_step_args()
  local m, b = s2s_model(), s2s_batch()
  local keys, h, c = m:encode(b.src, b.src_lengths)
  return m, loom.zeros(2, 3), loom.zeros(2, 4), h, c, keys, b.src_lengths
end
local GOOD = {
  ["loom.audio.add_noise"] = function() return loom.randn(80, 1), loom.randn(20, 1), 10 end,
  ["loom.audio.cmvn"] = function() return loom.ones(4, 2), {variance = true} end,
  ["loom.audio.cmvn_stats"] = function() return {loom.ones(4, 2), loom.zeros(3, 2)} end,
  ["loom.audio.shift"] = function() return loom.randn(80, 1), 3 end,
  ["loom.audio.trim"] = function() return loom.randn(80, 1), 8000, {top_db = 40} end,
  ["loom.audio.spec_augment"] = function() return loom.ones(20, 6), {time_masks = 1} end,
  ["loom.audio.speed"] = function() return loom.randn(800, 1), 1.1 end,
  ["loom.audio.vtln_warp"] = function() return 1000, 1.05, 20, 4000, 100, 3500 end,
  ["loom.audio.vtlp"] = function() return loom.randn(800, 1), 8000, 1.05, {num_mel_bins = 5} end,
  ["loom.audio.vtlp_melbank"] = function() return 5, 256, 8000, 20, 0, 1.05 end,
  ["loom.audio.spectra"] = function() return loom.randn(800, 1), 8000, {} end,
  ["loom.audio.perturbed"] = function() return loom.audio.spectra(loom.randn(800, 1), 8000), {speed = 1.1} end,
  ["loom.audio.defaults"] = function() return "mfcc" end,
  ["loom.audio.deltas"] = function() return loom.ones(4, 2), 1, {window = 1} end,
  ["loom.audio.fbank"] = function() return loom.randn(800, 1), 8000, {num_mel_bins = 5} end,
  ["loom.audio.mfcc"] = function() return loom.randn(800, 1), 8000, {num_mel_bins = 5, num_ceps = 3} end,
  ["loom.audio.spectrogram"] = function() return loom.randn(800, 1), 8000, {} end,
  ["loom.audio.load"] = function() return "/nonexistent.wav", {rate = 8000} end,
  ["loom.audio.read"] = function() return "/nonexistent.wav" end,
  ["loom.audio.resample"] = function() return loom.ones(8, 1), 8000, 16000, {quality = "fast"} end,
  ["loom.audio.write"] = function() return "/nonexistent/dir/x.wav", loom.zeros(4, 1), 8000, {format = "pcm16"} end,
  ["loom.checkpoint.load"] = function() return "/nonexistent.safetensors", {rng = false} end,
  ["loom.checkpoint.load_model"] = function() return "/nonexistent.safetensors", nn.Linear(2, 1), {strict = true} end,
  ["loom.checkpoint.path"] = function() return {artifact = function(_, n) return "/nonexistent/" .. n end}, "c" end,
  ["loom.checkpoint.resume"] = function() return "/nonexistent.safetensors", {}, "c" end,
  ["loom.checkpoint.save"] = function() return "/nonexistent/dir/c", {step = 1, rng = false} end,
  ["loom.checkpoint.save_model"] = function() return "/nonexistent/dir/m", nn.Linear(2, 1), {}, {dtype = "F32"} end,
  ["loom.checkpoint.torch_shapes"] = function() return {bias = loom.zeros(2, 1)} end,
  ["loom.data.batches"] = function() return 5, 2, {shuffle = false} end,
  ["loom.data.fetch"] = function() return "digits", {report = function() end} end,
  ["loom.data.fnv1a32"] = function() return "abc" end,
  ["loom.data.generator"] = function() return "agreement.lua" end,
  ["loom.data.list"] = function() end,
  ["loom.data.path"] = function() return "digits" end,
  ["loom.data.require"] = function() return "digits" end,
  ["loom.data.verify"] = function() return "nist-strd" end,
  ["loom.data.hash_index"] = function() return 7 end,
  ["loom.data.loader"] = function() return loom.zeros(5, 2), loom.zeros(5, 1), 2, {drop_last = true} end,
  ["loom.data.shuffle"] = function() return {1, 2, 3} end,
  ["loom.data.split"] = function() return 10, {test = 0.5} end,
  ["loom.experiment"] = function() return {name = "x", params = {n = 1}, run = function() end} end,
  ["loom.linalg.as_column"] = function() return {1, 2} end,
  ["loom.linalg.cholesky"] = function() return loom.eye(2) end,
  ["loom.linalg.cond"] = function() return loom.eye(2) end,
  ["loom.linalg.det"] = function() return loom.eye(2), {log = true} end,
  ["loom.linalg.eigh"] = function() return loom.eye(2), {vectors = false} end,
  ["loom.linalg.inv"] = function() return loom.eye(2) end,
  ["loom.linalg.lstsq"] = function() return loom.eye(2), loom.ones(2, 1), {method = "qr"} end,
  ["loom.linalg.pinv"] = function() return loom.eye(2), {rcond = 1e-10} end,
  ["loom.linalg.qr"] = function() return loom.eye(2) end,
  ["loom.linalg.rank"] = function() return loom.eye(2), {tol = 1e-10} end,
  ["loom.linalg.solve"] = function() return loom.eye(2), loom.ones(2, 1) end,
  ["loom.linalg.svd"] = function() return loom.eye(2), {vectors = false} end,
  ["loom.nn.BCELoss"] = function() return {reduction = "sum"} end,
  ["loom.nn.BCEWithLogitsLoss"] = function() return {reduction = "sum"} end,
  ["loom.nn.CrossEntropyLoss"] = function() return {reduction = "sum", ignore_index = 1} end,
  ["loom.nn.MSELoss"] = function() return {reduction = "sum"} end,
  ["loom.nn.Dropout"] = function() return 0.5 end,
  ["loom.nn.AvgPool1d"] = function() return 2, {stride = 2} end,
  ["loom.nn.Conv1d"] = function() return 2, 3, 3, {padding = 1} end,
  ["loom.nn.Embedding"] = function() return 4, 2, {padding_idx = 1} end,
  ["loom.nn.MaxPool1d"] = function() return 2, {stride = 2} end,
  ["loom.nn.Linear"] = function() return 2, 1, {bias = false} end,
  ["loom.nn.LogSoftmax"] = function() end,
  ["loom.nn.Softmax"] = function() end,
  ["loom.nn.ReLU"] = function() end,
  ["loom.nn.Sigmoid"] = function() end,
  ["loom.nn.Tanh"] = function() end,
  ["loom.nn.Sequential"] = function() return {nn.Linear(2, 1)} end,
  ["loom.nn.gradcheck"] = function() return nn.Linear(2, 1), loom.ones(1, 2), {eps = 1e-6} end,
  ["loom.nn.is_conv"] = function() return nn.ReLU() end,
  ["loom.nn.is_loss"] = function() return nn.MSELoss() end,
  ["loom.nn.is_native"] = function() return nn.ReLU() end,
  ["loom.nn.repr"] = function() return nn.ReLU() end,
  ["loom.nn.Module.load_state_dict"] = function()
    return nn.Linear(2, 1), {weight = loom.zeros(1, 2), bias = loom.zeros(1, 1)}, {strict = true}
  end,
  ["loom.nn.Module.num_parameters"] = function() return nn.Linear(2, 1) end,
  ["loom.nn.Module.state_dict"] = function() return nn.Linear(2, 1) end,
  ["loom.optim.adam"] = function() return nn.Linear(2, 1), {lr = 0.1, betas = {0.9, 0.99}} end,
  ["loom.optim.adamw"] = function() return nn.Linear(2, 1), {lr = 0.1} end,
  ["loom.optim.sgd"] = function() return nn.Linear(2, 1), {lr = 0.1, momentum = 0.5} end,
  ["loom.optim.clip_grad_norm"] = function() return nn.Linear(2, 1), 1.0 end,
  ["loom.optim.cosine_lr"] = function() return loom.optim.sgd(nn.Linear(2, 1)), {t_max = 4} end,
  ["loom.optim.step_lr"] = function() return loom.optim.sgd(nn.Linear(2, 1)), {step_size = 2} end,
  ["loom.optim.Optimizer.load_state_dict"] = function()
    local o = loom.optim.sgd(nn.Linear(2, 1))
    return o, o:state_dict()
  end,
  ["loom.optim.Optimizer.state_dict"] = function() return loom.optim.sgd(nn.Linear(2, 1)) end,
  ["loom.optim.Optimizer.zero_grad"] = function() return loom.optim.sgd(nn.Linear(2, 1)) end,
  ["loom.regress"] = function() return loom.matrix{{1}, {2}, {3}}, {1, 2, 4}, {intercept = true} end,
  ["loom.metrics.bleu"] = function() return {"a b c"}, {{"a b d"}}, {tokenize = "none", smooth_method = "floor"} end,
  ["loom.metrics.chrf"] = function() return {"a b c"}, {{"a b d"}}, {char_order = 4, beta = 1} end,
  ["loom.nn.Attention"] = function() return "concat", 3, 4, 2 end,
  ["loom.seq2seq.read_pairs"] = function() return "/nonexistent.tsv" end,
  ["loom.seq2seq.vocab"] = function() return {{"a", "b"}, {"b"}} end,
  ["loom.seq2seq.batches"] = function()
    local sv, tv = s2s_vocabs()
    return s2s_pairs(), sv, tv, 1, {reverse_source = true, sort = false}
  end,
  ["loom.seq2seq.model"] = function()
    return {src_vocab = 6, tgt_vocab = 6, embed = 3, hidden = 4, layers = 1, bidirectional = true,
      attention = "dot", input_feeding = false}
  end,
  ["loom.seq2seq.cross_entropy"] = function() return loom.zeros(3, 5), loom.matrix{{1}, {2}, {5}}, 0.1 end,
  ["loom.seq2seq.beam_search"] = function()
    local m, b = s2s_model(), s2s_batch()
    return m:decoder(), b.src, b.src_lengths, {beam = 2, nbest = 2, length_penalty = 1, max_len = 3, max_len_ratio = 2}
  end,
  ["loom.seq2seq.beam_search_reference"] = function()
    local m, b = s2s_model(), s2s_batch()
    return m:decoder(), b.src, b.src_lengths, {beam = 2, nbest = 2, length_penalty = 1, max_len = 3}
  end,
  ["loom.seq2seq.load"] = function() return "/nonexistent.safetensors" end,
  ["loom.seq2seq.train_epoch"] = function()
    local m = s2s_model()
    return m, {s2s_batch()}, loom.optim.sgd(m:parameters(), {lr = 0.1}),
      {clip = 1, label_smoothing = 0.1, order = {1}, on_step = function() end}
  end,
  ["loom.seq2seq.mean_loss"] = function() return s2s_model(), {s2s_batch()}, {label_smoothing = 0.1} end,
  ["loom.seq2seq.evaluate"] = function()
    local sv, tv = s2s_vocabs()
    return s2s_model(), s2s_pairs(), sv, tv, {beam = 2, reverse_source = true, max_len = 3, max_len_ratio = 2,
      length_penalty = 0.5, batch_size = 1}
  end,
  ["loom.seq2seq.Model.parts"] = function() return s2s_model() end,
  ["loom.seq2seq.Model.parameters"] = function() return s2s_model() end,
  ["loom.seq2seq.Model.zero_grad"] = function() return s2s_model() end,
  ["loom.seq2seq.Model.train"] = function() return s2s_model(), false end,
  ["loom.seq2seq.Model.eval"] = function() return s2s_model() end,
  ["loom.seq2seq.Model.config"] = function() return s2s_model() end,
  ["loom.seq2seq.Model.decoder"] = function() return s2s_model() end,
  ["loom.seq2seq.Model.encode"] = function() local b = s2s_batch(); return s2s_model(), b.src, b.src_lengths end,
  ["loom.seq2seq.Model.step"] = s2s_step_args,
  ["loom.seq2seq.Model.step_backward"] = function()
    local m, emb, feed, h, c, keys, lengths = s2s_step_args()
    local st = m:step(emb, feed, h, c, keys, lengths)
    return m, st, loom.ones(2, 4), loom.zeros(2, 4), loom.zeros(2, 4), keys, lengths, loom.zeros(keys:shape())
  end,
  ["loom.seq2seq.Model.loss"] = function() return s2s_model(), s2s_batch(), {label_smoothing = 0.1} end,
  ["loom.seq2seq.Model.forward_backward"] = function() return s2s_model(), s2s_batch(), {label_smoothing = 0} end,
  ["loom.seq2seq.Model.forward_backward_reference"] = function() return s2s_model(), s2s_batch(), {label_smoothing = 0} end,
  ["loom.seq2seq.Model.to"] = function() return s2s_model(), "float32" end,
  ["loom.seq2seq.Model.save"] = function()
    local sv, tv = s2s_vocabs()
    return s2s_model(), S2S_SAVE_PATH, sv, tv, {reverse_source = true}
  end,
  ["loom.seq2seq.Model.greedy"] = function()
    local b = s2s_batch()
    return s2s_model(), b.src, b.src_lengths, {max_len = 3, max_len_ratio = 2, attention = true}
  end,
  ["loom.seq2seq.Model.beam"] = function()
    local b = s2s_batch()
    return s2s_model(), b.src, b.src_lengths, {beam = 2, nbest = 1, length_penalty = 0, max_len = 3}
  end,
  ["loom.seq2seq.Model.translate"] = function()
    local sv, tv = s2s_vocabs()
    return s2s_model(), {{"a", "b"}, {"c"}}, sv, tv, {beam = 1, replace_unk = true, max_len = 3, batch_size = 1}
  end,
  ["loom.seq2seq.Model.attention_map"] = function()
    local sv = s2s_vocabs()
    return s2s_model(), {"a", "b"}, sv, {max_len = 3, reverse_source = true}
  end,
  ["loom.seq.batch"] = function() return list3(), {1, 3}, {value = 0} end,
  ["loom.seq.buckets"] = function() return list3(), 2, {shuffle = false} end,
  ["loom.seq.cross_entropy"] = function() return loom.zeros(6, 3), loom.ones(6, 1), {3, 1}, {reduction = "sum"} end,
  ["loom.seq.last"] = function() return loom.zeros(6, 2), {3, 1} end,
  ["loom.seq.last_backward"] = function() return loom.ones(2, 2), {3, 1}, 3 end,
  ["loom.seq.last_cross_entropy"] = function() return loom.zeros(6, 3), loom.ones(2, 1), {3, 1} end,
  ["loom.seq.mask"] = function() return {3, 1}, 3 end,
  ["loom.seq.pad"] = function() return list3(), {value = -1} end,
  ["loom.seq.sort_by_length"] = function() return list3(), {descending = false} end,
  ["loom.seq.unpad"] = function() return loom.zeros(6, 2), {3, 1} end,
  ["loom.dictionary.read"] = function() return "/nonexistent/dictionary" end,
  ["loom.dictionary.translate"] = function() return {house = "casa"}, "the house" end,
  ["loom.text.batch_matrix"] = function()
    return {X = loom.ones(2, 1), examples = {{suf = {{3, 4}, {5, 6}}}}}, "suf", 1
  end,
  ["loom.text.batches"] = function() return {{ids = {3, 4}, label = 1}, {ids = {5}, label = 2}}, 2, 1 end,
  ["loom.text.suffix_vocab"] = function() return {{"keys", "cabinet"}}, {n = 2, min_count = 1} end,
  ["loom.text.suffixes"] = function() return "keys", 2 end,
  ["loom.text.tokenize_words"] = function() return "the senator's keys, too" end,
  ["loom.text.word_class"] = function() return "surgeons" end,
  ["loom.text.word_classes"] = function() end,
  ["loom.text.tokenize"] = function() return "a b" end,
  ["loom.text.vocab"] = function() return {{"a", "b"}, {"a"}}, {min_count = 1, max_size = 10} end,
  ["loom.text.vocab_from_string"] = function() return "<pad>\n<unk>\na" end,
  ["loom.text.Vocab.class_ids"] = function() return text.vocab({{"a"}}, {unk_classes = true}), {"a", "zebras"} end,
  ["loom.text.Vocab.decode"] = function() return text.vocab{{"a"}}, {1, 3} end,
  ["loom.text.Vocab.id"] = function() return text.vocab{{"a"}}, "a" end,
  ["loom.text.Vocab.suffix_ids"] = function() return text.suffix_vocab{{"keys"}}, {"keys", "doors"}, 2 end,
  ["loom.text.Vocab.encode"] = function() return text.vocab{{"a"}}, {"a", "z"} end,
  ["loom.text.Vocab.serialize"] = function() return text.vocab{{"a"}} end,
  ["loom.text.Vocab.size"] = function() return text.vocab{{"a"}} end,
}

-- Further names a message may use: the callable table loom.checkpoint, the kinds of
-- optimiser and the classes of modules.
local ALSO_NAMED = {
  ["loom.checkpoint.save"] = {"loom.checkpoint"},
  ["loom.checkpoint.load"] = {"loom.load_checkpoint"},
  ["loom.optim.Optimizer.load_state_dict"] = {"sgd:load_state_dict", "adam:load_state_dict"},
  ["loom.nn.Module.load_state_dict"] = {"nn.Linear:load_state_dict", "nn.Sequential:load_state_dict",
    "nn.ReLU:load_state_dict"},
}

-- The string is a path nothing can be written to: a save given it as its path fails.
local BAD = {
  {"nil", nil}, {"42", 42}, {"-1", -1}, {"1.5", 1.5}, {"inf", math.huge}, {"nan", 0 / 0},
  {"a path string", "/nonexistent-loom-dir/x"}, {"''", ""}, {"true", true}, {"{}", {}}, {"{3, 2}", {3, 2}}, {"{{}}", {{}}},
  {"{'a'}", {"a"}}, {"function", function() end}, {"2x3 matrix", "matrix"}, {"0x0 matrix", "empty"},
}
local function bad_value(b)
  if b[2] == "matrix" then return loom.zeros(2, 3) end
  if b[2] == "empty" then return loom.zeros(0, 0) end
  if type(b[2]) == "table" then return b[1] == "{{}}" and {{}} or {table.unpack(b[2])} end
  return b[2]
end

-- Names accepted as the start of f's messages.
local function accepted_names(paths, classes, method)
  local names = {}
  local function add(n)
    names[#names + 1] = n
    if n:sub(1, 5) == "loom." then names[#names + 1] = n:sub(6) end
  end
  for _, p in ipairs(paths) do
    add(p)
    add((p:gsub("%.([%w_]+)$", ":%1"))) -- loom.text.Vocab.encode as loom.text.Vocab:encode
    for _, extra in ipairs(ALSO_NAMED[p] or {}) do add(extra) end
  end
  for _, c in ipairs(classes or {}) do add(c .. ":" .. method) end
  return names
end

-- nil when msg is a proper message for one of names, else what is wrong with it.
local function judge(msg, names)
  if type(msg) ~= "string" then return "the error is a " .. type(msg) .. ", not a message" end
  local src, rest = msg:match("^([^\n:]+):%d+: (.*)$")
  if src then
    if src:find("lua/loom/", 1, true) or src:find("[C]", 1, true) then
      return "the position is loom's own file, not the caller's line"
    end
    msg = rest
  end
  if msg:find("attempt to", 1, true) or msg:find("bad argument", 1, true) or msg:find("%.lua:%d")
      or msg:find("stack traceback", 1, true) then
    return "Lua internals in the message"
  end
  for _, n in ipairs(names) do
    if msg:sub(1, #n + 2) == n .. ": " then return nil end
  end
  return "the message does not start with the function's name (" .. names[1] .. ")"
end

local function show(args, n)
  local parts = {}
  for i = 1, n do
    local v = args[i]
    parts[i] = lcheck.kind(v) == "matrix" and string.format("%dx%d matrix", v:shape())
      or (type(v) == "number" or type(v) == "string" or v == nil) and lcheck.shown(v) or type(v)
  end
  return table.concat(parts, ", ")
end

-- Call f with good arguments where one (or the tail) is bad; collect what is wrong.
local function walk_one(f, good, names, problems, self_of)
  local n = select("#", good())
  n = math.max(n, debug.getinfo(f, "u").nparams)
  local function try(args, count)
    local saved = loom.rng_state()
    local ok, err = pcall(f, table.unpack(args, 1, count))
    loom.rng_state(saved)
    if not ok then
      local why = judge(err, names)
      if why then
        problems[#problems + 1] = string.format("%s(%s): %s\n      %s", names[1], show(args, count), why,
          tostring(err))
      end
    end
  end
  local first = self_of and 2 or 1
  for i = first, n do
    for _, b in ipairs(BAD) do
      local args = table.pack(good())
      args[i] = bad_value(b)
      try(args, n)
    end
    -- the call cut short before argument i
    local args = table.pack(good())
    try(args, i - 1)
  end
  if self_of then
    -- a method called with a dot or on another object
    for _, b in ipairs(BAD) do
      local args = table.pack(good())
      args[1] = bad_value(b)
      try(args, n)
    end
  end
end

test("every public Lua function names itself and its bad argument", function()
  local problems, missing, walked = {}, {}, 0
  local found = reachable()
  local by_name = {}
  for f, paths in pairs(found) do
    table.sort(paths)
    local key
    for _, p in ipairs(paths) do if GOOD[p] then key = p end end
    if not key then
      missing[#missing + 1] = paths[1]
    else
      walked = walked + 1
      by_name[key] = true
      walk_one(f, GOOD[key], accepted_names(paths), problems, key:match("%u%w*%.[%w_]+$") and true)
    end
  end
  -- methods of objects, called on the object with bad arguments and with a bad self
  for _, s in ipairs(samples()) do
    for method, f in pairs(methods_of(s.obj())) do
      if not found[f] then
        walked = walked + 1
        local good = function() return s.obj() end
        walk_one(f, good, accepted_names({}, s.classes, method), problems, true)
      end
    end
  end
  table.sort(missing)
  check(#missing == 0, "public functions without good arguments in GOOD (add them):\n  %s",
    table.concat(missing, "\n  "))
  check(walked >= 100, "only %d functions walked", walked)
  table.sort(problems)
  check(#problems == 0, "%d calls answered with Lua's internals or without the function's name:\n  %s",
    #problems, table.concat(problems, "\n  ", 1, math.min(#problems, 60)))
end)

-- ---- the examples of issue 13, item 11, message for message ----

test("the reported calls name the function and the argument", function()
  local lin = nn.Linear(2, 1)
  checkerror("optim.sgd: options must be a table, got number", loom.optim.sgd, lin, 0.1)
  checkerror("loom.text.tokenize: line must be a string, got number", text.tokenize, 42)
  checkerror("loom.seq.mask: T must be an integer >= 0, got nil", seq.mask, {3, 2})
  local fit = loom.regress(loom.matrix{{1}, {2}, {3}}, loom.matrix{{1}, {2}, {4}})
  checkerror("fit:predict: Xnew must be a matrix, got nil", fit.predict, fit)
  local opt = loom.optim.sgd(lin)
  checkerror("sgd:load_state_dict: the state (argument 1) must be a table, got nil", opt.load_state_dict, opt, nil)
  checkerror("loom.audio.cmvn: options must be a table, got number", loom.audio.cmvn, loom.ones(3, 2), 3)
  checkerror("optim.Optimizer:step: expected an optimiser (call it as opt:step()), got nil", opt.step)
  checkerror("loom.text.Vocab:encode: tokens must be a list, got string", text.vocab{{"a"}}.encode,
    text.vocab{{"a"}}, "a")
  checkerror("data.loader: batch_size must be an integer >= 1", data.loader, loom.zeros(3, 1), nil, 0)
  checkerror("nn.Sequential:forward: nn.Linear:forward: expected input with 2 columns, got 1x3",
    function() local s = nn.Sequential{nn.Linear(2, 1)}; s:forward(loom.zeros(1, 3)) end)
  checkerror("linalg.inv: expected a square matrix, got 2x3", loom.linalg.inv, loom.zeros(2, 3))
  checkerror("nn.gradcheck: nn.Linear:forward: expected input with 2 columns, got 1x3", nn.gradcheck,
    nn.Linear(2, 1), loom.zeros(1, 3))
  checkerror("loom.checkpoint.torch_shapes: state_dict keys must be strings, got number",
    loom.checkpoint.torch_shapes, {loom.zeros(1, 1)})
end)

test("lstsq by QR on 0 rows answers zeros with a warning", function()
  local beta, info = loom.linalg.lstsq(loom.zeros(0, 2), loom.zeros(0, 1))
  equal(beta:rows(), 2, "rows of beta")
  equal(beta:norm(), 0, "beta")
  equal(info.rank, 0, "rank")
  equal(info.warnings[1], "X has no rows: all 2 coefficients are set to 0", "warning")
end)

-- ---- loom.check itself ----

test("check.options: unknown keys with a did-you-mean hint, kinds, non-table options", function()
  local spec = {lr = "number", momentum = "number", nesterov = "boolean", steps = "integer", X = "matrix"}
  checkerror("f: unknown option 'momentun' (did you mean 'momentum'?)", lcheck.options, "f", {momentun = 1}, spec)
  checkerror("f: unknown option 'lrr' (did you mean 'lr'?)", lcheck.options, "f", {lrr = 1}, spec)
  checkerror("f: unknown option 'batch_size'", lcheck.options, "f", {batch_size = 1}, spec)
  checkerror("f: unknown option 1", lcheck.options, "f", {0.1}, spec)
  checkerror("f: option 'nesterov' must be a boolean, got string", lcheck.options, "f", {nesterov = "yes"}, spec)
  checkerror("f: option 'steps' must be an integer, got number", lcheck.options, "f", {steps = 1.5}, spec)
  checkerror("f: option 'X' must be a matrix, got table", lcheck.options, "f", {X = {}}, spec)
  checkerror("f: options must be a table, got matrix", lcheck.options, "f", loom.zeros(1, 1), spec)
  local o = lcheck.options("f", nil, spec)
  equal(next(o), nil, "nil options give an empty table")
  local given = {steps = 2.0, X = loom.zeros(1, 1)}
  equal(lcheck.options("f", given, spec), given, "valid options pass through")
end)

test("check: numbers, integers, lists, and the user's line as the position", function()
  checkerror("f: n must be an integer >= 1, got 0", lcheck.integer, "f", "n", 0, 1)
  checkerror("f: n must be an integer in 0..8, got 9", lcheck.integer, "f", "n", 9, 0, 8)
  checkerror("f: n must be an integer >= 1, got \"3\"", lcheck.integer, "f", "n", "3", 1)
  equal(math.type(lcheck.integer("f", "n", 3.0, 1)), "integer", "whole floats become integers")
  checkerror("f: p must be a finite number in 0..1, got inf", lcheck.number, "f", "p", math.huge, 0, 1)
  checkerror("f: p must be a finite number, got nan", lcheck.number, "f", "p", 0 / 0)
  checkerror("f: xs must be a non-empty list, got an empty one", lcheck.list, "f", "xs", {}, true)
  checkerror("f: xs must be a list, got matrix", lcheck.list, "f", "xs", loom.zeros(1, 1))
  -- a message from inside loom points at this file, the line of the call
  local line = debug.getinfo(1, "l").currentline + 1
  local ok, err = pcall(function() local m = seq.mask({3, 2}, 1); return m end)
  check(not ok, "seq.mask accepted a length beyond T")
  equal(err, string.format("%s:%d: loom.seq.mask: lengths[1] = 3 is outside 0..1",
    debug.getinfo(1, "S").short_src, line), "position")
  ok, err = pcall(function() local o = loom.optim.sgd(nn.Linear(1, 1), {lr = "big"}); return o end)
  check(not ok and err:find("^[^:]*test_args%.lua:%d+: optim%.sgd: option 'lr' must be a number, got string$"),
    "position of an options error: %s", tostring(err))
end)

-- ---- experiment params (`loom run script key=value`) ----

test("experiment params: 1e400 and integers beyond 64 bits are refused, not crashed on", function()
  local experiment = require "loom.experiment"
  local e = loom.experiment{name = "x", params = {n = 3, lr = 0.1}, run = function() end}
  local function first_line(s) return (s:match("^[^\n]*")) end
  local p, err = experiment.resolve(e, {"n=1e400"})
  equal(p, nil, "n=1e400 resolves")
  equal(first_line(err), "param 'n' expects an integer, got '1e400'", "n=1e400")
  p, err = experiment.resolve(e, {"n=9223372036854775808"})
  equal(first_line(err), "param 'n' expects an integer, got '9223372036854775808'", "n=2^63")
  p, err = experiment.resolve(e, {"lr=1e400"})
  equal(first_line(err), "param 'lr' expects a finite number, got '1e400'", "lr=1e400")
  p, err = experiment.resolve(e, {"lr=-1e999"})
  equal(first_line(err), "param 'lr' expects a finite number, got '-1e999'", "lr=-1e999")
  p = assert(experiment.resolve(e, {"n=9223372036854775807", "lr=1e300"}))
  equal(p.n, math.maxinteger, "the largest integer")
  equal(p.lr, 1e300, "a large finite number")
end)

test("loom run script n=1e400 says what is wrong (the CLI's error path)", function()
  local bin = os.getenv("LOOM_BIN")
  if not bin then skip("LOOM_BIN is not set (run through ctest)") end
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. dir))
  local script = dir .. "/e.lua"
  local f = assert(io.open(script, "w"))
  f:write('local loom = require "loom"\n',
    'return loom.experiment{name = "e", params = {n = 3}, run = function(p) end}\n')
  f:close()
  local h = io.popen(string.format("cd %s && %s run e.lua n=1e400 2>&1; echo status=$?", dir, bin))
  local out = h:read("a")
  h:close()
  os.execute("rm -rf " .. dir)
  check(out:find("loom run: param 'n' expects an integer, got '1e400'", 1, true), "output: %s", out)
  check(not out:find("traceback", 1, true) and not out:find("runner.lua", 1, true), "a crash: %s", out)
  check(out:find("status=[1-9]"), "exit status: %s", out)
end)

os.remove(S2S_SAVE_PATH)
