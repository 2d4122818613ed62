-- loom.seq2seq: an LSTM encoder-decoder with attention (Luong dot/general/concat with input
-- feeding, Bahdanau additive), teacher-forced training, greedy and beam-search decoding,
-- and the pair-file data side. Not the kernels (nn.LSTM, nn.LSTMCell, nn.Attention in C).
local loom = require "loom"
local text = require "loom.text"
local nn = loom.nn

local seq2seq = {}

-- Ids every target vocabulary starts with (1-based like every loom id).
seq2seq.PAD, seq2seq.UNK, seq2seq.BOS, seq2seq.EOS = 1, 2, 3, 4
local PAD, BOS, EOS = seq2seq.PAD, seq2seq.BOS, seq2seq.EOS

local check = require "loom.check"
local is_matrix = loom.is_matrix
local cdecoder = require("loom.core").decoder

---- data ----

-- One line of a pair file: SCAN's "IN: ... OUT: ..." or "source<TAB>target".
local function parse_pair(line)
  local src, tgt = line:match("^IN:%s*(.-)%s+OUT:%s*(.-)%s*$")
  if not src then src, tgt = line:match("^([^\t]*)\t(.*)$") end
  if not src then return nil end
  return {src = text.tokenize(src), tgt = text.tokenize(tgt)}
end

-- seq2seq.read_pairs(path) -> {{src = tokens, tgt = tokens}, ...} | nil, message
local function read_pairs_impl(path)
  local f, err = io.open(path)
  if not f then return nil, err end
  local pairs_, n = {}, 0
  for line in f:lines() do
    n = n + 1
    if line:match("%S") then
      local p = parse_pair(line)
      if not p then
        f:close()
        return nil, string.format("%s:%d: expected 'IN: ... OUT: ...' or 'source<TAB>target'", path, n)
      end
      pairs_[#pairs_ + 1] = p
    end
  end
  f:close()
  return pairs_
end

-- A vocabulary with <pad> 1, <unk> 2, <s> 3, </s> 4, then tokens by count (loom.text order).
local function vocab_impl(token_lists)
  local v = text.vocab(token_lists, {min_count = 1})
  local itos = {"<pad>", "<unk>", "<s>", "</s>"}
  for i = 3, #v.itos do itos[#itos + 1] = v.itos[i] end
  return text.vocab_from_string(table.concat(itos, "\n"))
end

local function ids_matrix(lists, T, B)
  local X = loom.fill(T, B, PAD)
  for b, ids in ipairs(lists) do
    for t, id in ipairs(ids) do X:set(t, b, id) end
  end
  return X
end

-- seq2seq.batches(pairs, src_vocab, tgt_vocab, batch_size [, {reverse_source, sort = true}])
-- -> {batch, ...}: src (S x B ids, time-major), src_lengths, tgt_in (<s> y, T x B), tgt_out
-- (y </s>), pairs. Sorted by source length (stable) so padding is small.
local function batches_impl(pairs_, src_vocab, tgt_vocab, batch_size, opts)
  opts = opts or {}
  local order = {}
  for i = 1, #pairs_ do order[i] = i end
  if opts.sort ~= false then
    table.sort(order, function(a, b)
      local la, lb = #pairs_[a].src, #pairs_[b].src
      if la ~= lb then return la < lb end
      return a < b
    end)
  end
  local batches = {}
  for first = 1, #order, batch_size do
    local srcs, tin, tout, lengths, members = {}, {}, {}, {}, {}
    local S, T = 1, 1
    for k = first, math.min(first + batch_size - 1, #order) do
      local p = pairs_[order[k]]
      local s = src_vocab:encode(p.src)
      if opts.reverse_source then
        local r = {}
        for i = #s, 1, -1 do r[#r + 1] = s[i] end
        s = r
      end
      local y = tgt_vocab:encode(p.tgt)
      local yin, yout = {BOS}, {}
      for _, id in ipairs(y) do yin[#yin + 1] = id; yout[#yout + 1] = id end
      yout[#yout + 1] = EOS
      srcs[#srcs + 1], tin[#tin + 1], tout[#tout + 1] = s, yin, yout
      lengths[#lengths + 1] = math.max(#s, 1)
      members[#members + 1] = p
      S, T = math.max(S, #s), math.max(T, #yin)
    end
    local B = #srcs
    batches[#batches + 1] = {src = ids_matrix(srcs, S, B), src_lengths = lengths,
      tgt_in = ids_matrix(tin, T, B), tgt_out = ids_matrix(tout, T, B), size = B, pairs = members}
  end
  return batches
end

---- the model ----

local Model = {}
Model.__index = Model
seq2seq.Model = Model

-- A model: self of a method (what = nil) or a named argument.
local function check_vocab(fn, what, v)
  if getmetatable(v) ~= text.Vocab then
    check.fail(fn, "%s must be a vocabulary (seq2seq.vocab), got %s", what, check.kind(v))
  end
  return v
end

local function check_tokens(fn, what, list)
  check.list(fn, what, list)
  for i, tok in ipairs(list) do
    if type(tok) ~= "string" then check.fail(fn, "%s[%d] must be a string, got %s", what, i, check.kind(tok)) end
  end
  return list
end

local function check_pairs(fn, list)
  check.list(fn, "pairs", list)
  for i, p in ipairs(list) do
    local what = string.format("pairs[%d]", i)
    check.table(fn, what, p)
    check_tokens(fn, what .. ".src", p.src)
    check_tokens(fn, what .. ".tgt", p.tgt)
  end
  return list
end

-- lengths: one integer in 0..S per column of src (S x B ids).
local function check_src(fn, src, lengths, what)
  what = what or ""
  check.matrix(fn, what .. "src", src)
  local lname = what == "" and "lengths" or what .. "src_lengths"
  check.list(fn, lname, lengths, true)
  local S, B = src:shape()
  if #lengths ~= B then
    check.fail(fn, "%s has %d entries but %ssrc has %d columns (sequences)", lname, #lengths, what, B)
  end
  for i, n in ipairs(lengths) do check.integer(fn, string.format("%s[%d]", lname, i), n, 0, S) end
end

-- A batch of seq2seq.batches.
local function check_batch(fn, what, b)
  check.table(fn, what, b)
  check_src(fn, b.src, b.src_lengths, what .. ".")
  check.matrix(fn, what .. ".tgt_in", b.tgt_in)
  check.matrix(fn, what .. ".tgt_out", b.tgt_out)
  local B = #b.src_lengths
  local T, Bi = b.tgt_in:shape()
  local To, Bo = b.tgt_out:shape()
  if Bi ~= B or Bo ~= B or To ~= T or T == 0 then
    check.fail(fn, "%s.tgt_in (%dx%d) and %s.tgt_out (%dx%d) must be T x %d with T >= 1", what, T, Bi, what,
      To, Bo, B)
  end
  if b.size ~= B then check.fail(fn, "%s.size must be %d (its sequences), got %s", what, B, check.shown(b.size)) end
  return b
end

local function check_batches(fn, list)
  check.list(fn, "batches", list)
  for i, b in ipairs(list) do check_batch(fn, string.format("batches[%d]", i), b) end
  return list
end

local function check_lengths(fn, lengths)
  check.list(fn, "lengths", lengths, true)
  for i, n in ipairs(lengths) do check.integer(fn, string.format("lengths[%d]", i), n, 0) end
end

local function check_model(fn, m, what)
  if getmetatable(m) ~= Model then
    if what then check.fail(fn, "%s must be a seq2seq model (seq2seq.model{...}), got %s", what, check.kind(m)) end
    check.fail(fn, "expected a seq2seq model (call it as model:%s(...)), got %s", fn:match("[%w_]+$"),
      check.kind(m))
  end
  return m
end


local ATTENTION = {none = true, dot = true, general = true, concat = true, bahdanau = true}

local function positive(o, key, default)
  local v = o[key] == nil and default or o[key]
  return check.integer("seq2seq.model", key, v, 1)
end

-- seq2seq.model{src_vocab = n, tgt_vocab = n, embed = 32, hidden = 64, layers = 1,
--   bidirectional = false, attention = "general", input_feeding = true, dropout = 0}
-- dropout p (while training): on both sides' embeddings and on the decoder's outputs o_t
-- before the generator, each kept unit scaled by 1 / (1 - p) (nn.Dropout).
local function model_impl(o)
  local self = setmetatable({}, Model)
  self.Vs, self.Vt = positive(o, "src_vocab"), positive(o, "tgt_vocab")
  self.E, self.H = positive(o, "embed", 32), positive(o, "hidden", 64)
  self.layers = positive(o, "layers", 1)
  self.dirs = o.bidirectional and 2 or 1
  self.kind = o.attention or "general"
  if not ATTENTION[self.kind] then
    check.fail("seq2seq.model", "attention must be none, dot, general, concat or bahdanau, got %s", tostring(self.kind))
  end
  if o.dtype ~= nil and o.dtype ~= "float32" and o.dtype ~= "float64" then
    check.fail("seq2seq.model", "dtype must be \"float32\" or \"float64\", got \"%s\"", o.dtype)
  end
  if self.H % self.dirs ~= 0 then
    check.fail("seq2seq.model", "a bidirectional encoder needs an even hidden size, got %d", self.H)
  end
  self.luong = self.kind ~= "none" and self.kind ~= "bahdanau"
  self.feed = self.luong and o.input_feeding ~= false
  local E, H = self.E, self.H
  self.src_emb = nn.Embedding(self.Vs, E, {padding_idx = PAD})
  self.encoder = nn.LSTM(E, H // self.dirs, {layers = self.layers, bidirectional = self.dirs == 2})
  self.tgt_emb = nn.Embedding(self.Vt, E, {padding_idx = PAD})
  local cell_in = E + ((self.feed or self.kind == "bahdanau") and H or 0)
  self.cell = nn.LSTMCell(cell_in, H)
  if self.kind ~= "none" then
    self.attn = self.kind == "dot" and nn.Attention("dot", H) or nn.Attention(self.kind, H, H, H)
    self.combine = nn.Linear(2 * H, H, {bias = false})
  end
  self.generator = nn.Linear(H, self.Vt)
  self.dropout = o.dropout or 0
  if not (self.dropout >= 0 and self.dropout < 1) then
    check.fail("seq2seq.model", "dropout must be in [0, 1), got %s", check.shown(self.dropout))
  end
  if self.dropout > 0 then
    self.drops = {src = nn.Dropout(self.dropout), tgt = nn.Dropout(self.dropout), out = nn.Dropout(self.dropout)}
  end
  self.training = true
  self.dtype = "float64"
  self.bufs = {}
  if o.dtype and o.dtype ~= "float64" then self:to(o.dtype) end
  return self
end

-- The parts in parameter order with their name prefixes.
function Model:parts()
  check_model("seq2seq.Model:parts", self)
  local parts = {{"src_embedding", self.src_emb}, {"encoder", self.encoder},
    {"tgt_embedding", self.tgt_emb}, {"decoder", self.cell}}
  if self.attn then
    parts[#parts + 1] = {"attention", self.attn}
    parts[#parts + 1] = {"combine", self.combine}
  end
  parts[#parts + 1] = {"generator", self.generator}
  return parts
end

function Model:parameters()
  check_model("seq2seq.Model:parameters", self)
  local list = {}
  for _, part in ipairs(self:parts()) do
    for _, p in ipairs(part[2]:parameters()) do
      list[#list + 1] = {name = part[1] .. "." .. p.name, value = p.value, grad = p.grad}
    end
  end
  return list
end

Model.num_parameters = nn.Module.num_parameters
Model.state_dict = nn.Module.state_dict
Model.load_state_dict = nn.Module.load_state_dict

function Model:zero_grad()
  check_model("seq2seq.Model:zero_grad", self)
  for _, part in ipairs(self:parts()) do part[2]:zero_grad() end
  return self
end

function Model:train(mode)
  check_model("seq2seq.Model:train", self)
  self.training = mode == nil or not not mode
  for _, part in ipairs(self:parts()) do part[2]:train(self.training) end
  for _, drop in pairs(self.drops or {}) do drop:train(self.training) end
  return self
end

function Model:eval()
  check_model("seq2seq.Model:eval", self)
  return self:train(false)
end

function Model:config()
  check_model("seq2seq.Model:config", self)
  return {src_vocab = self.Vs, tgt_vocab = self.Vt, embed = self.E, hidden = self.H,
    layers = self.layers, bidirectional = self.dirs == 2, attention = self.kind,
    input_feeding = self.feed, dropout = self.dropout, dtype = self.dtype}
end

-- model:to(dtype) -> model: every part converted (parameters, gradients); the decoder kernel
-- and the buffers are made anew. Build the optimiser after converting.
function Model:to(dtype)
  check_model("seq2seq.Model:to", self)
  if dtype ~= "float32" and dtype ~= "float64" then
    check.fail("seq2seq.Model:to", "dtype must be \"float32\" or \"float64\", got %s", check.shown(dtype))
  end
  for _, part in ipairs(self:parts()) do part[2]:to(dtype) end
  self.dtype, self.core, self.bufs = dtype, nil, {}
  return self
end

-- A rows x cols matrix of the model's dtype kept under `name` and reused while the shape
-- stays (a view of a larger one otherwise): the training step and decoding allocate
-- nothing once every shape has been seen. Contents are whatever the last user left.
local function buffer(self, name, rows, cols)
  local b = self.bufs[name]
  if b and b.rows == rows and b.cols == cols then return b.view end
  if not b or b.cap < rows or b.cols ~= cols then
    b = {store = loom.zeros(math.max(rows, b and b.cols == cols and b.cap or 0), cols, {dtype = self.dtype})}
    b.cap, b.cols = b.store:rows(), cols
    self.bufs[name] = b
  end
  b.rows = rows
  b.view = rows == b.cap and b.store or b.store:slice(1, rows, 1, cols)
  return b.view
end

-- The decoder kernel (src/core/decoder.c) over views of the parts' parameters.
local ATTN_FIELDS = {
  general = {["linear_in.weight"] = "w"},
  concat = {["linear.weight"] = "w", ["v.weight"] = "v"},
  bahdanau = {["query_layer.weight"] = "w", ["query_layer.bias"] = "b", ["key_layer.weight"] = "u", ["v.weight"] = "v"},
}

local function core_decoder(self)
  if self.core then return self.core end
  local P, G = {attn = {}}, {attn = {}}
  local function take(module, names, into_p, into_g)
    for _, prm in ipairs(module:parameters()) do
      local key = names[prm.name]
      if key then into_p[key], into_g[key] = prm.value, prm.grad end
    end
  end
  take(self.cell, {weight_ih = "w_ih", weight_hh = "w_hh", bias_ih = "b_ih", bias_hh = "b_hh"}, P, G)
  take(self.tgt_emb, {weight = "embedding"}, P, G)
  take(self.generator, {weight = "gen_w", bias = "gen_b"}, P, G)
  if self.attn then
    take(self.combine, {weight = "combine"}, P, G)
    take(self.attn, ATTN_FIELDS[self.kind] or {}, P.attn, G.attn)
  end
  self.core = cdecoder.new({attention = self.kind, input_feeding = self.feed, embed = self.E, hidden = self.H,
    attn_size = self.H, vocab = self.Vt, dtype = self.dtype}, P, G)
  return self.core
end

-- Encode src (S x B ids): keys ((S*B) x H, time-major) and the decoder's first state, the
-- top layer's final h and c (both directions side by side when bidirectional).
-- keys is a buffer of the model, h0 and c0 views or buffers: valid until the next encode.
local function encode_impl(self, src, lengths)
  local B = #lengths
  local X = self.src_emb:forward(src)
  if self.drops then X = self.drops.src:forward(X) end
  local units, Hd = self.layers * self.dirs, self.H // self.dirs
  local keys, hT, cT = self.encoder:forward(X, {lengths = lengths, batch = B,
    out = buffer(self, "keys", X:rows(), self.H), h_T = buffer(self, "enc_h_T", units * B, Hd),
    c_T = buffer(self, "enc_c_T", units * B, Hd)})
  local top = (self.layers - 1) * self.dirs
  local function first_state(S, name)
    local fwd = S:slice(top * B + 1, (top + 1) * B)
    if self.dirs == 1 then return fwd end
    local state = buffer(self, name, B, self.H)
    state:slice(1, B, 1, Hd):copy_(fwd)
    state:slice(1, B, Hd + 1, self.H):copy_(S:slice((top + 1) * B + 1, (top + 2) * B))
    return state
  end
  return keys, first_state(hT, "h0"), first_state(cT, "c0")
end

-- One decoder step. emb: B x E; feed: the previous attentional state (input feeding) or nil.
-- Returns what backward needs: x, h_prev, c_prev, h, c, ctx, weights, cat, out (the step's
-- output, B x H: tanh(W [ctx; h]) with attention, h without).
local function step_impl(self, emb, feed, h, c, keys, lengths)
  local st = {h_prev = h, c_prev = c}
  local opts = {lengths = lengths}
  if self.kind == "bahdanau" then
    st.ctx, st.weights = self.attn:forward(h, keys, opts)
    st.x = loom.hcat{emb, st.ctx}
  elseif self.feed then
    st.x = loom.hcat{emb, feed}
  else
    st.x = emb
  end
  st.h, st.c = self.cell:forward(st.x, {h = h, c = c})
  if self.luong then st.ctx, st.weights = self.attn:forward(st.h, keys, opts) end
  if self.attn then
    st.cat = loom.hcat{st.ctx, st.h}
    st.out = self.combine:forward(st.cat):map("tanh")
  else
    st.out = st.h
  end
  return st
end

-- Backward through one step: dout (B x H) at the step's output, dh/dc from the step after.
-- Accumulates into dkeys and parameter gradients; returns demb, dfeed (or nil), dh_prev, dc_prev.
local function step_backward_impl(self, st, dout, dh, dc, keys, lengths, dkeys)
  local B, H, E = dout:rows(), self.H, self.E
  dh = dh:copy()
  local dctx
  if self.attn then
    local dz = dout:mul(st.out:mul(st.out):mul(-1):add(1))
    local dcat = self.combine:backward(st.cat, dz)
    dctx = dcat:slice(1, B, 1, H):copy()
    dh:add_(dcat:slice(1, B, H + 1, 2 * H))
    if self.luong then
      local dq = self.attn:backward(st.h, keys, dctx, {lengths = lengths, dkeys = dkeys})
      dh:add_(dq)
    end
  else
    dh:add_(dout)
  end
  local dx, dh_prev, dc_prev = self.cell:backward(st.x, dh, {h = st.h_prev, c = st.c_prev, dc = dc})
  local demb, dfeed = dx:slice(1, B, 1, E), nil
  if self.kind == "bahdanau" then
    dctx:add_(dx:slice(1, B, E + 1, E + H))
    local dq = self.attn:backward(st.h_prev, keys, dctx, {lengths = lengths, dkeys = dkeys})
    dh_prev:add_(dq)
  elseif self.feed then
    dfeed = dx:slice(1, B, E + 1, E + H)
  end
  return demb, dfeed, dh_prev, dc_prev
end

-- Cross-entropy of logits (N x V) against targets (N x 1), PAD rows ignored, mean over the
-- others; with smoothing eps the target is (1 - eps) one-hot + eps / V (PyTorch's
-- label_smoothing). Returns loss, dlogits, count.
local plain_ce -- nn.CrossEntropyLoss{ignore_index = PAD}: the C path when eps = 0

local function cross_entropy_impl(logits, targets, eps)
  if not eps or eps == 0 then
    plain_ce = plain_ce or nn.CrossEntropyLoss{ignore_index = PAD}
    local count = 0
    for i = 1, targets:rows() do if targets:get(i, 1) ~= PAD then count = count + 1 end end
    if count == 0 then return 0, loom.zeros(logits:rows(), logits:cols()), 0 end
    local d, loss = plain_ce:backward(logits, targets)
    return loss, d, count
  end
  local N, V = logits:shape()
  local mx = logits:max(2)
  local shifted = logits:copy()
  for i = 1, N do shifted:row(i):sub_(mx:get(i, 1)) end
  local probs = shifted:map("exp")
  local lse = probs:sum(2):map("log")
  local loss, count = 0, 0
  eps = eps or 0
  local d = probs
  for i = 1, N do
    local row, z = d:row(i), lse:get(i, 1)
    local y = targets:get(i, 1)
    if y == PAD then
      row:fill_(0)
    else
      count = count + 1
      row:div_(math.exp(z))
      local logp_y = shifted:get(i, y) - z
      loss = loss - (1 - eps) * logp_y
      if eps > 0 then
        loss = loss - eps / V * (shifted:row(i):sum() - V * z)
        row:sub_(eps / V)
      end
      row:set(1, y, row:get(1, y) - (1 - eps))
    end
  end
  if count > 0 then
    d:div_(count)
    loss = loss / count
  end
  return loss, d, count
end

local function top_state_grad(self, dstate, B, name)
  local units, Hd = self.layers * self.dirs, self.H // self.dirs
  local g = buffer(self, name, units * B, Hd):fill_(0)
  local top = (self.layers - 1) * self.dirs
  for d = 0, self.dirs - 1 do
    g:slice((top + d) * B + 1, (top + d + 1) * B):copy_(dstate:slice(1, B, d * Hd + 1, (d + 1) * Hd))
  end
  return g
end

-- x through the model's dropout at `site` (src, tgt, out) when it has one; and back.
local function dropped(self, site, x)
  return self.drops and self.drops[site]:forward(x) or x
end

local function dropped_grad(self, site, dy)
  return self.drops and self.drops[site]:backward(dy, dy) or dy
end

-- The teacher-forced forward pass through the C decoder: the loss and what backward needs.
local function forward_pass(self, batch, opts)
  local B, T = batch.size, batch.tgt_in:rows()
  local f = {B = B, T = T, lengths = batch.src_lengths}
  f.keys, f.h0, f.c0 = encode_impl(self, batch.src, f.lengths)
  f.outs = buffer(self, "outs", T * B, self.H)
  core_decoder(self):forward(f.outs, dropped(self, "tgt", self.tgt_emb:forward(batch.tgt_in)), f.h0, f.c0,
    f.keys, f.lengths, B)
  f.gen_in = dropped(self, "out", f.outs)
  local logits = self.generator:forward(f.gen_in)
  f.loss, f.dlogits, f.count = cross_entropy_impl(logits, batch.tgt_out:reshape(T * B, 1), opts.label_smoothing)
  return f
end

-- The same pass step by step in Lua (Model:step): the reference the kernel is tested against.
local function reference_forward_pass(self, batch, opts)
  local B, T, H = batch.size, batch.tgt_in:rows(), self.H
  local lengths = batch.src_lengths
  local f = {B = B, T = T, lengths = lengths}
  f.keys, f.h0, f.c0 = encode_impl(self, batch.src, lengths)
  local embs = dropped(self, "tgt", self.tgt_emb:forward(batch.tgt_in)):copy()
  local outs = loom.zeros(T * B, H)
  local steps, feed, h, c = {}, self.feed and loom.zeros(B, H) or nil, f.h0, f.c0
  for t = 1, T do
    local st = step_impl(self, embs:slice((t - 1) * B + 1, t * B), feed, h, c, f.keys, lengths)
    steps[t] = st
    outs:slice((t - 1) * B + 1, t * B):copy_(st.out)
    h, c, feed = st.h, st.c, st.out
  end
  f.steps, f.outs = steps, outs
  f.gen_in = dropped(self, "out", outs)
  local logits = self.generator:forward(f.gen_in)
  f.loss, f.dlogits, f.count = cross_entropy_impl(logits, batch.tgt_out:reshape(T * B, 1),
    opts.label_smoothing)
  return f
end

-- model:loss(batch [, {label_smoothing = 0}]) -> mean loss per target token, tokens
-- (teacher forcing, no gradients).
local function loss_impl(self, batch, opts)
  local f = forward_pass(self, batch, opts or {})
  return f.loss, f.count
end

-- model:forward_backward(batch [, {label_smoothing = 0}]) -> loss, tokens: one teacher-forced
-- pass and its backward; gradients accumulate (call zero_grad first).
local function forward_backward_impl(self, batch, opts)
  local f = forward_pass(self, batch, opts or {})
  local B, T, H = f.B, f.T, self.H
  local douts = dropped_grad(self, "out", self.generator:backward(f.gen_in, f.dlogits))
  local dembs, dkeys = buffer(self, "dembs", T * B, self.E), buffer(self, "dkeys", f.keys:rows(), H):fill_(0)
  local dh, dc = buffer(self, "dh", B, H), buffer(self, "dc", B, H)
  core_decoder(self):backward(dembs, dkeys, dh, dc, douts)
  self.tgt_emb:backward(batch.tgt_in, dropped_grad(self, "tgt", dembs))
  -- the encoder's gradients into the model's buffers: a step allocates no matrix
  local units, Hd = self.layers * self.dirs, H // self.dirs
  local dX = self.encoder:backward(dkeys, {dh_T = top_state_grad(self, dh, B, "dh_T"),
    dc_T = top_state_grad(self, dc, B, "dc_T"), dx = buffer(self, "enc_dx", f.keys:rows(), self.E),
    dh0 = buffer(self, "enc_dh0", units * B, Hd), dc0 = buffer(self, "enc_dc0", units * B, Hd)})
  self.src_emb:backward(batch.src, dropped_grad(self, "src", dX))
  return f.loss, f.count
end

-- forward_backward through Model:step and Model:step_backward (the Lua reference).
local function reference_forward_backward(self, batch, opts)
  local f = reference_forward_pass(self, batch, opts or {})
  local B, T, H = f.B, f.T, self.H
  local douts = dropped_grad(self, "out", self.generator:backward(f.gen_in, f.dlogits)):copy()
  local dkeys, dembs = loom.zeros(f.keys:rows(), H), loom.zeros(T * B, self.E)
  local dh, dc, dfeed = loom.zeros(B, H), loom.zeros(B, H), nil
  for t = T, 1, -1 do
    local dout = douts:slice((t - 1) * B + 1, t * B)
    if dfeed then dout:add_(dfeed) end
    local demb
    demb, dfeed, dh, dc = step_backward_impl(self, f.steps[t], dout, dh, dc, f.keys, f.lengths, dkeys)
    dembs:slice((t - 1) * B + 1, t * B):copy_(demb)
    if dfeed then dfeed = dfeed:copy() end
  end
  self.tgt_emb:backward(batch.tgt_in, dropped_grad(self, "tgt", dembs))
  local dX = self.encoder:backward(dkeys, {dh_T = top_state_grad(self, dh, B, "dh_T"),
    dc_T = top_state_grad(self, dc, B, "dc_T")})
  self.src_emb:backward(batch.src, dropped_grad(self, "src", dX))
  return f.loss, f.count
end

---- decoding ----

-- Encode src and set the decoder kernel up for k hypotheses per sequence.
local function decode_start(self, src, lengths, k)
  local keys, h0, c0 = encode_impl(self, src, lengths)
  local core = core_decoder(self)
  core:start(keys, lengths, h0, c0, k)
  return core
end

-- The model as a decoder for seq2seq.beam_search: start(src, lengths, k) -> state,
-- step(state, ids) -> log-probabilities (rows = hypotheses), reorder(state, rows). The steps
-- run in the decoder kernel; one decoding at a time per model (they share its state).
function Model:decoder()
  check_model("seq2seq.Model:decoder", self)
  local model = self
  local dec = {}
  function dec.start(src, lengths, k)
    check_src("decoder.start", src, lengths)
    return {core = decode_start(model, src, lengths, k), lp = buffer(model, "step_logprobs", #lengths * k, model.Vt)}
  end
  function dec.step(st, ids)
    st.core:step(ids, st.lp)
    return st.lp
  end
  function dec.reorder(st, rows) st.core:reorder(rows) end
  return dec
end

local function max_lengths(lengths, opts)
  local limits = {}
  for b, n in ipairs(lengths) do
    local lim = opts.max_len or 100
    if opts.max_len_ratio then lim = math.min(lim, math.ceil(opts.max_len_ratio * n)) end
    limits[b] = math.max(lim, 1)
  end
  return limits
end

-- model:greedy(src, lengths [, {max_len = 100, max_len_ratio, attention = false}])
--   -> {ids, ...} per sequence (without </s>), and with attention = true the weights of
--   each step ({B x S, ...}).
local function greedy_impl(self, src, lengths, opts)
  opts = opts or {}
  local B, limits, maxlim = #lengths, max_lengths(lengths, opts), 0
  for b = 1, B do maxlim = math.max(maxlim, limits[b]) end
  local core = decode_start(self, src, lengths, 1)
  -- one matrix for all steps' weights (they outlive the call), views of it per step
  local W = opts.attention and self.attn and loom.zeros(maxlim * B, src:rows(), {dtype = self.dtype}) or nil
  local out, steps = core:greedy(limits, BOS, EOS, W)
  local weights = {}
  for t = 1, W and steps or 0 do weights[t] = W:slice((t - 1) * B + 1, t * B) end
  return out, weights
end

-- A sort order: higher `field` first, ties by the earlier `order`.
local function higher(field)
  return function(x, y)
    if x[field] ~= y[field] then return x[field] > y[field] end
    return x.order < y.order
  end
end

-- GNMT's length penalty ((5 + len) / 6)^alpha; alpha = 0 leaves scores unnormalised.
local function length_penalty(len, alpha)
  if alpha == 0 then return 1 end
  return ((5 + len) / 6) ^ alpha
end

-- The search both beam searches share (src/core/beam.h says it in full): hypothesis j of
-- sequence b is row (b-1)*k + j; candidates are taken best first (ties to the lower
-- (j-1)*V + v, so beam 1 is greedy decoding); </s> finishes a hypothesis with score
-- log-probability / ((5 + len) / 6)^alpha (len counting </s>), any other token extends
-- one, until k are extended; the best k finished are kept. A sequence is done when none is
-- alive, when k have finished and the best alive one's log-probability divided by the penalty
-- of its length limit (a bound on any score it could reach) is no higher than the k-th, or, at
-- the start of the step after its length limit, when its alive hypotheses finish as they are.

-- seq2seq.beam_search_reference(decoder, src, lengths [, opts]): that search in plain Lua
-- tables, the reference the C bookkeeping (seq2seq.beam_search, model:beam) is tested against.
local function beam_reference_impl(decoder, src, lengths, opts)
  opts = opts or {}
  local k, nbest, alpha = opts.beam or 5, opts.nbest or 1, opts.length_penalty or 0
  local B = #lengths
  local st = decoder.start(src, lengths, k)
  local limits = max_lengths(lengths, opts)
  local hyps, finished, done = {}, {}, {}
  for b = 1, B do
    finished[b] = {}
    for j = 1, k do hyps[(b - 1) * k + j] = {ids = {}, logprob = j == 1 and 0 or -math.huge} end
  end
  local ids = {}
  for r = 1, B * k do ids[r] = BOS end
  local count = {}
  local function finish(b, h, logprob, len)
    count[b] = (count[b] or 0) + 1
    finished[b][#finished[b] + 1] = {ids = h.ids, logprob = logprob,
      score = logprob / length_penalty(len, alpha), order = count[b]}
  end
  local function keep_k(b)
    table.sort(finished[b], higher("score"))
    for i = #finished[b], k + 1, -1 do finished[b][i] = nil end
  end
  for step = 0, math.huge do
    local all = true
    for b = 1, B do
      if not done[b] and step >= limits[b] then
        for j = 1, k do
          local h = hyps[(b - 1) * k + j]
          if h.logprob > -math.huge then finish(b, h, h.logprob, #h.ids) end
        end
        keep_k(b)
        done[b] = true
      end
      all = all and done[b]
    end
    if all then break end
    local lp = decoder.step(st, ids)
    local V = lp:cols()
    local flat = lp:tolist()
    local rows, new_hyps = {}, {}
    for b = 1, B do
      local cands = {}
      if not done[b] then
        for j = 1, k do
          local r = (b - 1) * k + j
          local h = hyps[r]
          if h.logprob > -math.huge then
            for v = 1, V do
              cands[#cands + 1] = {r = r, v = v, logprob = h.logprob + flat[(r - 1) * V + v], order = (j - 1) * V + v}
            end
          end
        end
        table.sort(cands, higher("logprob"))
      end
      local alive = 0
      for _, cand in ipairs(cands) do
        if alive >= k then break end
        local prev = hyps[cand.r]
        if cand.v == EOS then
          finish(b, prev, cand.logprob, #prev.ids + 1)
        else
          alive = alive + 1
          local r = (b - 1) * k + alive
          local nid = table.move(prev.ids, 1, #prev.ids, 1, {})
          nid[#nid + 1] = cand.v
          new_hyps[r], rows[r], ids[r] = {ids = nid, logprob = cand.logprob}, cand.r, cand.v
        end
      end
      keep_k(b)
      if alive == 0 then
        done[b] = true
      elseif #finished[b] >= k then
        local best = new_hyps[(b - 1) * k + 1].logprob
        local bound = best < 0 and best / length_penalty(limits[b], alpha) or best
        if bound <= finished[b][k].score then done[b] = true end
      end
      for j = alive + 1, k do
        local r = (b - 1) * k + j
        new_hyps[r], rows[r], ids[r] = {ids = {}, logprob = -math.huge}, r, PAD
      end
    end
    hyps = new_hyps
    all = true
    for b = 1, B do all = all and done[b] end
    if all then break end
    decoder.reorder(st, rows)
  end
  local results = {}
  for b = 1, B do
    table.sort(finished[b], higher("score"))
    results[b] = {}
    for i = 1, math.min(nbest, #finished[b]) do
      local f = finished[b][i]
      results[b][i] = {ids = f.ids, score = f.score, logprob = f.logprob}
    end
  end
  return results
end

-- seq2seq.beam_search(decoder, src, lengths, {beam = 5, nbest = 1, length_penalty = 0,
--   max_len = 100, max_len_ratio}) -> per sequence a list of nbest {ids =, score =, logprob =},
--   best first: any decoder {start, step, reorder} (model:decoder()), the bookkeeping in C.
local function beam_search_impl(decoder, src, lengths, opts)
  opts = opts or {}
  local k, B = opts.beam or 5, #lengths
  local st = decoder.start(src, lengths, k)
  local ids, rows = {}, {}
  for r = 1, B * k do ids[r] = BOS end
  local lp = decoder.step(st, ids) -- every limit is >= 1: the first step always runs
  local search = cdecoder.search(B, k, lp:cols(), max_lengths(lengths, opts), opts.nbest or 1,
    opts.length_penalty or 0, BOS, EOS, PAD)
  while not search:advance(lp, ids, rows) do
    decoder.reorder(st, rows)
    if search:begin_step() then break end
    lp = decoder.step(st, ids)
  end
  return search:answers()
end

-- model:beam(src, lengths [, opts]): the whole search in C (decoder steps and bookkeeping).
local function model_beam_impl(self, src, lengths, opts)
  opts = opts or {}
  local core = decode_start(self, src, lengths, opts.beam or 5)
  return core:beam(max_lengths(lengths, opts), opts.nbest or 1, opts.length_penalty or 0, BOS, EOS, PAD)
end


-- Unknown-word replacement (Luong et al. 2015b): each <unk> of an output becomes the source
-- word its step attended to most. weights[t] is the B x S attention of output step t.
local function replace_unknowns(tokens, ids, weights, b, source, reverse)
  for t, id in ipairs(ids) do
    if id == seq2seq.UNK and weights[t] then
      local _, s = weights[t]:slice(b, b):argmax()
      tokens[t] = source[reverse and #source - s + 1 or s] or tokens[t]
    end
  end
  return tokens
end

-- model:translate(token_lists, src_vocab, tgt_vocab [, {beam = 1, reverse_source, max_len,
-- batch_size = 64, replace_unk = false}]) -> list of token lists (beam = 1 greedy, else the
-- best of a beam search). replace_unk (greedy, attention models) copies the most attended
-- source word in place of each <unk>.
local function translate_impl(self, sources, src_vocab, tgt_vocab, opts)
  opts = opts or {}
  local beam, replace = opts.beam or 1, opts.replace_unk and self.attn ~= nil
  local pairs_ = {}
  for i, s in ipairs(sources) do pairs_[i] = {src = s, tgt = {}} end
  local out = {}
  local bs = batches_impl(pairs_, src_vocab, tgt_vocab, opts.batch_size or 64,
    {reverse_source = opts.reverse_source, sort = false})
  local i = 0
  for _, batch in ipairs(bs) do
    local ids, weights
    if beam <= 1 then
      ids, weights = greedy_impl(self, batch.src, batch.src_lengths,
        {max_len = opts.max_len, max_len_ratio = opts.max_len_ratio, attention = replace})
    else
      ids = {}
      local bopts = {beam = beam, length_penalty = opts.length_penalty, max_len = opts.max_len,
        max_len_ratio = opts.max_len_ratio}
      for b, list in ipairs(model_beam_impl(self, batch.src, batch.src_lengths, bopts)) do ids[b] = list[1].ids end
    end
    for b, seq in ipairs(ids) do
      i = i + 1
      out[i] = tgt_vocab:decode(seq)
      if replace then replace_unknowns(out[i], seq, weights, b, sources[i], opts.reverse_source) end
    end
  end
  return out
end

---- training and evaluation loops (what an experiment script calls) ----

-- The batch with the decoder's inputs after <s> replaced by the model's own greedy outputs
-- where it has them (Lake & Baroni's training without teacher forcing, at the level of a
-- batch; no gradient flows through the choice of token). The targets stay the reference's.
local function self_fed(model, b)
  local T = b.tgt_in:rows()
  local out = greedy_impl(model, b.src, b.src_lengths, {max_len = math.max(T - 1, 1)})
  local tin = b.tgt_in:copy()
  for j, ids in ipairs(out) do
    for t = 1, math.min(#ids, T - 1) do
      if b.tgt_out:get(t + 1, j) ~= PAD then tin:set(t + 1, j, ids[t]) end
    end
  end
  return {src = b.src, src_lengths = b.src_lengths, tgt_in = tin, tgt_out = b.tgt_out, size = b.size}
end

-- seq2seq.train_epoch(model, batches, opt [, {clip = 5, label_smoothing = 0, sampling = 0,
-- order, on_step}]) -> mean loss per token: one pass over the batches (in `order`, default as
-- given) with gradient clipping by global norm; on_step(i, n, loss) after each batch; each
-- batch self-fed (above) with probability `sampling`.
local function train_epoch_impl(model, batches, opt, opts)
  opts = opts or {}
  local params = model:parameters()
  local order = opts.order
  if not order then
    order = {}
    for i = 1, #batches do order[i] = i end
  end
  local total, tokens = 0, 0
  for i, bi in ipairs(order) do
    model:zero_grad()
    local batch = batches[bi]
    if (opts.sampling or 0) > 0 and loom.rand(1, 1):get(1, 1) < opts.sampling then batch = self_fed(model, batch) end
    local loss, count = forward_backward_impl(model, batch, {label_smoothing = opts.label_smoothing})
    if opts.clip and opts.clip > 0 then loom.optim.clip_grad_norm(params, opts.clip) end
    opt:step()
    total, tokens = total + loss * count, tokens + count
    if opts.on_step then opts.on_step(i, #order, loss) end
  end
  return tokens > 0 and total / tokens or 0
end

-- seq2seq.mean_loss(model, batches [, {label_smoothing}]) -> teacher-forced loss per token.
local function mean_loss_impl(model, batches, opts)
  model:eval()
  local total, tokens = 0, 0
  for _, b in ipairs(batches) do
    local loss, count = loss_impl(model, b, opts)
    total, tokens = total + loss * count, tokens + count
  end
  model:train()
  return tokens > 0 and total / tokens or 0
end

-- seq2seq.evaluate(model, pairs, src_vocab, tgt_vocab [, {beam = 1, reverse_source,
--   max_len, length_penalty, batch_size = 64}]) -> {exact = fraction, hyps = {tokens, ...},
--   by_length = {[target length] = {right =, total =}}}
-- Exact match: the whole output sequence equals the reference.
local function evaluate_impl(model, pairs_, src_vocab, tgt_vocab, opts)
  opts = opts or {}
  model:eval()
  local sources = {}
  for i, p in ipairs(pairs_) do sources[i] = p.src end
  local hyps = translate_impl(model, sources, src_vocab, tgt_vocab, opts)
  model:train()
  local right, by_length = 0, {}
  for i, p in ipairs(pairs_) do
    local ok = table.concat(hyps[i], " ") == table.concat(p.tgt, " ")
    local n = #p.tgt
    by_length[n] = by_length[n] or {right = 0, total = 0}
    by_length[n].total = by_length[n].total + 1
    if ok then right, by_length[n].right = right + 1, by_length[n].right + 1 end
  end
  return {exact = #pairs_ > 0 and right / #pairs_ or 0, hyps = hyps, by_length = by_length}
end

-- model:attention_map(tokens, src_vocab [, {max_len, reverse_source}]) -> output ids, weights
-- (a list of rows, one per output step, over the source positions in reading order).
local function attention_map_impl(self, tokens, src_vocab, opts)
  opts = opts or {}
  if not self.attn then return nil end
  local ids = src_vocab:encode(tokens)
  if opts.reverse_source then
    local r = {}
    for i = #ids, 1, -1 do r[#r + 1] = ids[i] end
    ids = r
  end
  local src = loom.zeros(#ids, 1)
  for t, id in ipairs(ids) do src:set(t, 1, id) end
  self:eval()
  local out, weights = greedy_impl(self, src, {#ids}, {max_len = opts.max_len, attention = true})
  self:train()
  local rows = {}
  for t = 1, math.min(#weights, #out[1] + 1) do
    local w = weights[t]:tolist()
    if opts.reverse_source then
      local r = {}
      for i = #w, 1, -1 do r[#r + 1] = w[i] end
      w = r
    end
    rows[t] = w
  end
  return out[1], rows
end

---- saving and loading ----

-- The model's settings, both vocabularies and the source order go into the safetensors
-- metadata beside the weights (in the model's dtype).
local SAVED = {src_vocab = "integer", tgt_vocab = "integer", embed = "integer", hidden = "integer",
  layers = "integer", bidirectional = "boolean", attention = "string", input_feeding = "boolean", dtype = "string"}

local function save_impl(self, path, src_vocab, tgt_vocab, opts)
  local meta = {format = "loom.seq2seq", src_tokens = src_vocab:serialize(), tgt_tokens = tgt_vocab:serialize(),
    reverse_source = tostring(opts and opts.reverse_source == true)}
  for key, value in pairs(self:config()) do meta["config." .. key] = tostring(value) end
  for key, value in pairs(opts and opts.meta or {}) do meta["meta." .. key] = value end
  return loom.save(path, self:state_dict(), meta)
end

local function load_impl(path)
  local tensors, meta = loom.load(path)
  if not tensors then return nil, "seq2seq.load: " .. tostring(meta) end
  if meta.format ~= "loom.seq2seq" then
    return nil, string.format("seq2seq.load: %s is not a loom seq2seq model (no format = loom.seq2seq metadata)", path)
  end
  local o = {}
  for key, kind in pairs(SAVED) do
    local v = meta["config." .. key]
    if kind == "integer" then o[key] = math.tointeger(tonumber(v))
    elseif kind == "boolean" then o[key] = v == "true"
    else o[key] = v end
    if o[key] == nil or not (meta.src_tokens and meta.tgt_tokens) then
      return nil, string.format("seq2seq.load: %s lacks the model's %s", path, o[key] == nil and key or "vocabularies")
    end
  end
  local ok, model = pcall(seq2seq.model, o)
  if not ok then return nil, string.format("seq2seq.load: %s holds a bad configuration (%s)", path, model) end
  local src_vocab, tgt_vocab = text.vocab_from_string(meta.src_tokens), text.vocab_from_string(meta.tgt_tokens)
  if src_vocab:size() ~= o.src_vocab or tgt_vocab:size() ~= o.tgt_vocab then
    return nil, string.format("seq2seq.load: %s: the vocabularies do not match the model's sizes", path)
  end
  local loaded, err = pcall(model.load_state_dict, model, tensors)
  if not loaded then return nil, string.format("seq2seq.load: %s: %s", path, tostring(err):gsub("\n.*", "")) end
  local extra = {}
  for key, value in pairs(meta) do
    local name = key:match("^meta%.(.+)$")
    if name then extra[name] = value end
  end
  return model, src_vocab, tgt_vocab, {reverse_source = meta.reverse_source == "true", meta = extra}
end

---- the public functions: arguments checked (loom.check), then the work above ----

local MODEL_OPTS = {src_vocab = "integer", tgt_vocab = "integer", embed = "integer", hidden = "integer",
  layers = "integer", bidirectional = "boolean", attention = "string", input_feeding = "boolean", dropout = "number",
  dtype = "string"}
local BATCHES_OPTS = {reverse_source = "boolean", sort = "boolean"}
local LOSS_OPTS = {label_smoothing = "number"}
local GREEDY_OPTS = {max_len = "integer", max_len_ratio = "number", attention = "boolean"}
local BEAM_OPTS = {beam = "integer", nbest = "integer", length_penalty = "number", max_len = "integer",
  max_len_ratio = "number"}
local TRANSLATE_OPTS = {beam = "integer", reverse_source = "boolean", max_len = "integer",
  max_len_ratio = "number", length_penalty = "number", batch_size = "integer", replace_unk = "boolean"}
local TRAIN_OPTS = {clip = "number", label_smoothing = "number", sampling = "number", order = "list",
  on_step = "function"}
local MAP_OPTS = {max_len = "integer", reverse_source = "boolean"}

local function loss_options(fn, opts)
  opts = check.options(fn, opts, LOSS_OPTS)
  if opts.label_smoothing ~= nil then check.number(fn, "label_smoothing", opts.label_smoothing, 0, 1) end
  return opts
end

local function decode_options(fn, opts, spec)
  opts = check.options(fn, opts, spec)
  if opts.max_len ~= nil then check.integer(fn, "max_len", opts.max_len, 1) end
  if opts.max_len_ratio ~= nil then check.number(fn, "max_len_ratio", opts.max_len_ratio, 0) end
  if opts.beam ~= nil then check.integer(fn, "beam", opts.beam, 1) end
  if opts.nbest ~= nil then check.integer(fn, "nbest", opts.nbest, 1) end
  if opts.length_penalty ~= nil then check.number(fn, "length_penalty", opts.length_penalty) end
  if opts.batch_size ~= nil then check.integer(fn, "batch_size", opts.batch_size, 1) end
  local k, nbest = opts.beam or 5, opts.nbest or 1
  if spec == BEAM_OPTS and nbest > k then check.fail(fn, "nbest (%d) must not exceed the beam (%d)", nbest, k) end
  if opts.replace_unk and (opts.beam or 1) > 1 then check.fail(fn, "replace_unk needs greedy decoding (beam = 1)") end
  return opts
end

-- model:save(path, src_vocab, tgt_vocab [, {reverse_source = false, meta = {}}]) -> true | nil, message
function Model:save(path, src_vocab, tgt_vocab, opts)
  local fn = "seq2seq.Model:save"
  check_model(fn, self)
  check.string(fn, "path", path)
  check_vocab(fn, "src_vocab", src_vocab)
  check_vocab(fn, "tgt_vocab", tgt_vocab)
  opts = check.options(fn, opts, {reverse_source = "boolean", meta = "table"})
  for key, value in pairs(opts.meta or {}) do
    if type(key) ~= "string" or type(value) ~= "string" then
      check.fail(fn, "meta must map strings to strings, got %s = %s", type(key), type(value))
    end
  end
  if src_vocab:size() ~= self.Vs or tgt_vocab:size() ~= self.Vt then
    check.fail(fn, "the vocabularies have %d and %d tokens, the model %d and %d", src_vocab:size(), tgt_vocab:size(),
      self.Vs, self.Vt)
  end
  return save_impl(self, path, src_vocab, tgt_vocab, opts)
end

-- seq2seq.load(path) -> model, src_vocab, tgt_vocab, {reverse_source, meta} | nil, message
function seq2seq.load(path)
  check.string("seq2seq.load", "path", path)
  return load_impl(path)
end

function seq2seq.read_pairs(path)
  check.string("seq2seq.read_pairs", "path", path)
  return read_pairs_impl(path)
end

function seq2seq.vocab(token_lists)
  local fn = "seq2seq.vocab"
  check.list(fn, "token_lists", token_lists)
  for i, list in ipairs(token_lists) do check_tokens(fn, string.format("token_lists[%d]", i), list) end
  return check.call(fn, vocab_impl, token_lists)
end

function seq2seq.batches(pairs_, src_vocab, tgt_vocab, batch_size, opts)
  local fn = "seq2seq.batches"
  check_pairs(fn, pairs_)
  check_vocab(fn, "src_vocab", src_vocab)
  check_vocab(fn, "tgt_vocab", tgt_vocab)
  batch_size = check.integer(fn, "batch_size", batch_size, 1)
  opts = check.options(fn, opts, BATCHES_OPTS)
  return check.call(fn, batches_impl, pairs_, src_vocab, tgt_vocab, batch_size, opts)
end

function seq2seq.model(o)
  local fn = "seq2seq.model"
  o = check.options(fn, o, MODEL_OPTS)
  return check.call(fn, model_impl, o)
end

function Model:encode(src, lengths)
  local fn = "seq2seq.Model:encode"
  check_model(fn, self)
  check_src(fn, src, lengths)
  local keys, h0, c0 = check.call(fn, encode_impl, self, src, lengths)
  return keys:copy(), h0:copy(), c0:copy() -- the model's buffers are reused by the next call
end

function Model:step(emb, feed, h, c, keys, lengths)
  local fn = "seq2seq.Model:step"
  check_model(fn, self)
  check.matrix(fn, "emb", emb)
  if self.feed then check.matrix(fn, "feed", feed) end
  check.matrix(fn, "h", h)
  check.matrix(fn, "c", c)
  check.matrix(fn, "keys", keys)
  check_lengths(fn, lengths)
  return check.call(fn, step_impl, self, emb, feed, h, c, keys, lengths)
end

function Model:step_backward(st, dout, dh, dc, keys, lengths, dkeys)
  local fn = "seq2seq.Model:step_backward"
  check_model(fn, self)
  check.table(fn, "st", st)
  local fields = {"x", "h_prev", "c_prev", "h", "c", "out"}
  if self.attn then fields[#fields + 1] = "ctx"; fields[#fields + 1] = "cat" end
  for _, k in ipairs(fields) do check.matrix(fn, "st." .. k, st[k]) end
  check.matrix(fn, "dout", dout)
  check.matrix(fn, "dh", dh)
  check.matrix(fn, "dc", dc)
  check.matrix(fn, "keys", keys)
  check_lengths(fn, lengths)
  check.matrix(fn, "dkeys", dkeys)
  return check.call(fn, step_backward_impl, self, st, dout, dh, dc, keys, lengths, dkeys)
end

function seq2seq.cross_entropy(logits, targets, eps)
  local fn = "seq2seq.cross_entropy"
  check.matrix(fn, "logits", logits)
  check.matrix(fn, "targets", targets)
  local N, V = logits:shape()
  if targets:rows() ~= N or targets:cols() ~= 1 then
    check.fail(fn, "targets must be %dx1 (one id per row of logits), got %dx%d", N, targets:rows(), targets:cols())
  end
  for i = 1, N do
    local y = targets:get(i, 1)
    if math.tointeger(y) == nil or y < 1 or y > V then
      check.fail(fn, "targets[%d] must be an integer id in 1..%d, got %s", i, V, check.shown(y))
    end
  end
  if eps ~= nil then check.number(fn, "eps", eps, 0, 1) end
  return check.call(fn, cross_entropy_impl, logits, targets, eps)
end

function Model:loss(batch, opts)
  local fn = "seq2seq.Model:loss"
  check_model(fn, self)
  check_batch(fn, "batch", batch)
  opts = loss_options(fn, opts)
  return check.call(fn, loss_impl, self, batch, opts)
end

function Model:forward_backward(batch, opts)
  local fn = "seq2seq.Model:forward_backward"
  check_model(fn, self)
  check_batch(fn, "batch", batch)
  opts = loss_options(fn, opts)
  return check.call(fn, forward_backward_impl, self, batch, opts)
end

function Model:forward_backward_reference(batch, opts)
  local fn = "seq2seq.Model:forward_backward_reference"
  check_model(fn, self)
  check_batch(fn, "batch", batch)
  opts = loss_options(fn, opts)
  return check.call(fn, reference_forward_backward, self, batch, opts)
end

function Model:greedy(src, lengths, opts)
  local fn = "seq2seq.Model:greedy"
  check_model(fn, self)
  check_src(fn, src, lengths)
  opts = decode_options(fn, opts, GREEDY_OPTS)
  return check.call(fn, greedy_impl, self, src, lengths, opts)
end

-- The checks of beam_search and beam_search_reference, then impl.
local function beam_search_checked(fn, impl, decoder, src, lengths, opts)
  check.table(fn, "decoder", decoder)
  check.func(fn, "decoder.start", decoder.start)
  check.func(fn, "decoder.step", decoder.step)
  check.func(fn, "decoder.reorder", decoder.reorder)
  check_lengths(fn, lengths)
  opts = decode_options(fn, opts, BEAM_OPTS)
  local k, B = opts.beam or 5, #lengths
  -- the decoder's log-probabilities must have a row per hypothesis
  local checked = {start = decoder.start, reorder = decoder.reorder}
  function checked.step(st, ids)
    local lp = decoder.step(st, ids)
    if not is_matrix(lp) or lp:rows() ~= B * k then
      check.fail(fn, "decoder.step must return log-probabilities with %d rows (one per hypothesis), got %s", B * k,
        is_matrix(lp) and string.format("%dx%d", lp:shape()) or check.kind(lp))
    end
    return lp
  end
  return check.call(fn, impl, checked, src, lengths, opts)
end

function seq2seq.beam_search(decoder, src, lengths, opts)
  return beam_search_checked("seq2seq.beam_search", beam_search_impl, decoder, src, lengths, opts)
end

function seq2seq.beam_search_reference(decoder, src, lengths, opts)
  return beam_search_checked("seq2seq.beam_search_reference", beam_reference_impl, decoder, src, lengths, opts)
end

-- model:beam(src, lengths [, opts]) -> seq2seq.beam_search with this model, all of it in C.
function Model:beam(src, lengths, opts)
  local fn = "seq2seq.Model:beam"
  check_model(fn, self)
  check_src(fn, src, lengths)
  opts = decode_options(fn, opts, BEAM_OPTS)
  return check.call(fn, model_beam_impl, self, src, lengths, opts)
end

function Model:translate(sources, src_vocab, tgt_vocab, opts)
  local fn = "seq2seq.Model:translate"
  check_model(fn, self)
  check.list(fn, "sources", sources)
  for i, s in ipairs(sources) do check_tokens(fn, string.format("sources[%d]", i), s) end
  check_vocab(fn, "src_vocab", src_vocab)
  check_vocab(fn, "tgt_vocab", tgt_vocab)
  opts = decode_options(fn, opts, TRANSLATE_OPTS)
  return check.call(fn, translate_impl, self, sources, src_vocab, tgt_vocab, opts)
end

function seq2seq.train_epoch(model, batches, opt, opts)
  local fn = "seq2seq.train_epoch"
  check_model(fn, model, "model")
  check_batches(fn, batches)
  if type(opt) ~= "table" or type(opt.step) ~= "function" then
    check.fail(fn, "opt must be an optimiser (loom.optim.sgd, adam, ...), got %s", check.kind(opt))
  end
  opts = check.options(fn, opts, TRAIN_OPTS)
  if opts.clip ~= nil then check.number(fn, "clip", opts.clip, 0) end
  if opts.label_smoothing ~= nil then check.number(fn, "label_smoothing", opts.label_smoothing, 0, 1) end
  if opts.sampling ~= nil then check.number(fn, "sampling", opts.sampling, 0, 1) end
  if opts.order then
    for i, bi in ipairs(opts.order) do check.integer(fn, string.format("order[%d]", i), bi, 1, #batches) end
  end
  return check.call(fn, train_epoch_impl, model, batches, opt, opts)
end

function seq2seq.mean_loss(model, batches, opts)
  local fn = "seq2seq.mean_loss"
  check_model(fn, model, "model")
  check_batches(fn, batches)
  opts = loss_options(fn, opts)
  return check.call(fn, mean_loss_impl, model, batches, opts)
end

function seq2seq.evaluate(model, pairs_, src_vocab, tgt_vocab, opts)
  local fn = "seq2seq.evaluate"
  check_model(fn, model, "model")
  check_pairs(fn, pairs_)
  check_vocab(fn, "src_vocab", src_vocab)
  check_vocab(fn, "tgt_vocab", tgt_vocab)
  opts = decode_options(fn, opts, TRANSLATE_OPTS)
  return check.call(fn, evaluate_impl, model, pairs_, src_vocab, tgt_vocab, opts)
end

function Model:attention_map(tokens, src_vocab, opts)
  local fn = "seq2seq.Model:attention_map"
  check_model(fn, self)
  check_tokens(fn, "tokens", tokens)
  check_vocab(fn, "src_vocab", src_vocab)
  opts = decode_options(fn, opts, MAP_OPTS)
  return check.call(fn, attention_map_impl, self, tokens, src_vocab, opts)
end

return seq2seq
