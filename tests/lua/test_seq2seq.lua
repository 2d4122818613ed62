-- test_seq2seq.lua: loom.seq2seq: pair files and batches, the whole model's gradient by
-- central differences for every attention kind, beam search (k = 1 is greedy; a
-- hand-computed example), and one training step equal to PyTorch float64 (skips without torch).
local loom = require "loom"
local s2s = require "loom.seq2seq"

local function write(path, text)
  local f = assert(io.open(path, "w")); f:write(text); f:close()
end

test("read_pairs: SCAN lines and tab-separated lines; errors say where", function()
  local path = os.tmpname()
  write(path, "IN: jump twice OUT: I_JUMP I_JUMP\nIN: walk OUT: I_WALK\n\nquatre\tfour\n")
  local p = assert(s2s.read_pairs(path))
  equal(#p, 3, "pairs (blank line skipped)")
  equal(table.concat(p[1].src, " "), "jump twice", "SCAN source")
  equal(table.concat(p[1].tgt, " "), "I_JUMP I_JUMP", "SCAN target")
  equal(table.concat(p[3].tgt, " "), "four", "tab target")
  write(path, "IN: jump OUT: I_JUMP\nno separator here\n")
  local none, err = s2s.read_pairs(path)
  equal(none, nil, "bad file")
  equal(err, path .. ":2: expected 'IN: ... OUT: ...' or 'source<TAB>target'", "message")
  os.remove(path)
  local missing, why = s2s.read_pairs(path .. ".absent")
  check(missing == nil and why:find("absent", 1, true), "a missing file returns nil, message")
end)

test("vocab and batches: specials, <s>/</s>, padding, lengths, reverse_source", function()
  local pairs_ = {{src = {"a", "b", "c"}, tgt = {"X"}}, {src = {"b"}, tgt = {"Y", "X"}}}
  local sv = s2s.vocab{pairs_[1].src, pairs_[2].src}
  local tv = s2s.vocab{pairs_[1].tgt, pairs_[2].tgt}
  equal(table.concat(tv.itos, " "), "<pad> <unk> <s> </s> X Y", "target vocabulary")
  local bs = s2s.batches(pairs_, sv, tv, 2, {reverse_source = true})
  equal(#bs, 1, "one batch")
  local b = bs[1]
  equal(table.concat(b.src_lengths, ","), "1,3", "sorted by source length")
  equal(b.src:rows(), 3, "S")
  equal(sv.itos[b.src:get(1, 2)], "c", "source reversed")
  equal(b.src:get(2, 1), s2s.PAD, "padding")
  equal(b.tgt_in:get(1, 1), s2s.BOS, "<s> first")
  equal(tv.itos[b.tgt_out:get(2, 1)], "X", "target shifted")
  equal(b.tgt_out:get(3, 1), s2s.EOS, "</s> last")
  equal(b.tgt_out:get(3, 2), s2s.PAD, "padded target")
end)

-- A small random batch: B = 3 sources of lengths 4, 2, 3 and targets of 1..3 tokens.
local function random_batch(Vs, Vt)
  local srcs = {{5, 6, 7, 5}, {6, 5}, {7, 7, 6}}
  local tgts = {{5, 6}, {7}, {6, 5, 7}}
  local src, tin, tout = loom.fill(4, 3, 1), loom.fill(4, 3, 1), loom.fill(4, 3, 1)
  for b = 1, 3 do
    for t, id in ipairs(srcs[b]) do src:set(t, b, math.min(id, Vs)) end
    tin:set(1, b, s2s.BOS)
    for t, id in ipairs(tgts[b]) do
      tin:set(t + 1, b, math.min(id, Vt)); tout:set(t, b, math.min(id, Vt))
    end
    tout:set(#tgts[b] + 1, b, s2s.EOS)
  end
  return {src = src, src_lengths = {4, 2, 3}, tgt_in = tin, tgt_out = tout, size = 3}
end

local CONFIGS = {
  {attention = "none"},
  {attention = "dot", input_feeding = false},
  {attention = "general", bidirectional = true, layers = 2},
  {attention = "concat"},
  {attention = "bahdanau", bidirectional = true},
}

local function make_model(c, seed)
  loom.seed(seed)
  return s2s.model{src_vocab = 8, tgt_vocab = 9, embed = 3, hidden = 4, layers = c.layers,
    bidirectional = c.bidirectional, attention = c.attention, input_feeding = c.input_feeding}
end

for _, c in ipairs(CONFIGS) do
  test("seq2seq " .. c.attention .. ": every parameter's gradient equals central differences", function()
    local model = make_model(c, 3)
    local batch = random_batch(8, 9)
    local opts = {label_smoothing = 0.1}
    model:zero_grad()
    model:forward_backward(batch, opts)
    local eps, worst, n = 1e-6, 0, 0
    local grads = {} -- copied first: every forward_backward below accumulates again
    for i, p in ipairs(model:parameters()) do grads[i] = p.grad:copy() end
    for k, p in ipairs(model:parameters()) do
      local g = grads[k]
      for i = 1, p.value:rows() do
        for j = 1, p.value:cols() do
          local orig = p.value:get(i, j)
          p.value:set(i, j, orig + eps); local fp = model:forward_backward(batch, opts)
          p.value:set(i, j, orig - eps); local fm = model:forward_backward(batch, opts)
          p.value:set(i, j, orig)
          local num, ana = (fp - fm) / (2 * eps), g:get(i, j)
          local err = math.abs(num - ana) / math.max(math.abs(num), math.abs(ana), 1e-4)
          check(err < 1e-5, "%s (%d,%d): analytic %.10g numeric %.10g", p.name, i, j, ana, num)
          worst, n = math.max(worst, err), n + 1
        end
      end
    end
    check(n == model:num_parameters(), "every entry checked")
  end)
end

test("beam search with k = 1 equals greedy decoding, for every attention kind", function()
  for _, c in ipairs(CONFIGS) do
    local model = make_model(c, 5)
    local batch = random_batch(8, 9)
    local greedy = model:greedy(batch.src, batch.src_lengths, {max_len = 6})
    local beam = model:beam(batch.src, batch.src_lengths, {beam = 1, max_len = 6})
    for b = 1, 3 do
      equal(table.concat(beam[b][1].ids, " "), table.concat(greedy[b], " "), c.attention .. " sequence " .. b)
    end
  end
end)

test("beam search: batched beams give each sequence what it gets alone", function()
  local model = make_model(CONFIGS[3], 9)
  local batch = random_batch(8, 9)
  local all = model:beam(batch.src, batch.src_lengths, {beam = 3, max_len = 5, nbest = 2})
  local src2 = batch.src:slice(1, 2, 2, 2):copy()
  local alone = model:beam(src2, {2}, {beam = 3, max_len = 5, nbest = 2})
  for i = 1, 2 do
    equal(table.concat(all[2][i].ids, " "), table.concat(alone[1][i].ids, " "), "hypothesis " .. i)
    close(all[2][i].score, alone[1][i].score, 1e-12, "score " .. i)
  end
end)

-- A decoder whose next-token distribution depends only on the last token (ids 5 = x, 6 = y):
--   after <s>: x 0.5, y 0.4, </s> 0.1;  after x: </s> 0.3, x 0.35, y 0.35;  after y: </s> 0.9, x 0.05, y 0.05
local function toy_decoder()
  local P = {
    [s2s.BOS] = {[4] = 0.1, [5] = 0.5, [6] = 0.4},
    [5] = {[4] = 0.3, [5] = 0.35, [6] = 0.35},
    [6] = {[4] = 0.9, [5] = 0.05, [6] = 0.05},
  }
  local tiny = 1e-300
  return {
    start = function(_, lengths, k) return {n = #lengths * k} end,
    step = function(st, ids)
      local lp = loom.fill(st.n, 6, math.log(tiny))
      for r = 1, st.n do
        for v, p in pairs(P[ids[r]] or P[6]) do lp:set(r, v, math.log(p)) end
      end
      return lp
    end,
    reorder = function() end,
  }
end

test("beam search: a hand-computed example (beam 2, n-best, length penalty), C and the Lua reference", function()
  for name, search in pairs{["seq2seq.beam_search"] = s2s.beam_search,
                            ["seq2seq.beam_search_reference"] = s2s.beam_search_reference} do
    local src = loom.fill(1, 1, 5)
    -- Step 1 keeps x (.5) and y (.4). Step 2: y </s> = .36 finishes; x x = x y = .175 stay
    -- (tie: the lower id first). Step 3: x y </s> = .175 * .9 = .1575 finishes second: done.
    local r = search(toy_decoder(), src, {1}, {beam = 2, nbest = 2, max_len = 10})
    equal(table.concat(r[1][1].ids, " "), "6", "best: y")
    close(r[1][1].logprob, math.log(0.36), 1e-14, "its log-probability")
    equal(table.concat(r[1][2].ids, " "), "5 6", "second: x y")
    close(r[1][2].logprob, math.log(0.1575), 1e-14, "its log-probability")
    -- GNMT penalty ((5 + len) / 6)^alpha, len counting </s>: y (2 tokens), x y (3 tokens).
    local lp = search(toy_decoder(), src, {1}, {beam = 2, nbest = 2, max_len = 10, length_penalty = 1})
    close(lp[1][1].score, math.log(0.36) / (7 / 6), 1e-14, "normalised score of y")
    close(lp[1][2].score, math.log(0.1575) / (8 / 6), 1e-14, "normalised score of x y")
    -- Greedy (beam 1) takes x, then x (tie with y, lower id) until the length limit.
    local g = search(toy_decoder(), src, {1}, {beam = 1, max_len = 3})
    equal(table.concat(g[1][1].ids, " "), "5 5 5", "beam 1 is greedy: x x x at max_len")
    close(g[1][1].logprob, math.log(0.5 * 0.35 * 0.35), 1e-14, "greedy log-probability")
    checkerror(name .. ": nbest (3) must not exceed the beam (2)", search, toy_decoder(), src, {1},
      {beam = 2, nbest = 3})
  end
end)

test("beam search: k finished do not end the search while an alive hypothesis can still beat them", function()
  -- ids 5 = a, 6 = b, 7 = c: after <s> a .6, b .3, </s> .1; after a: c .99, </s> .01; after b:
  -- </s> .99, c .01; after c: </s> 1. Step 2's best candidates are a c (.594), b </s> (.297),
  -- a </s> (.006), b c (.003): two finish while a c is alive, and stopping at k = 2 finished
  -- would answer b. Step 3 finishes a c: the best.
  local P = {[s2s.BOS] = {[4] = 0.1, [5] = 0.6, [6] = 0.3}, [5] = {[7] = 0.99, [4] = 0.01},
    [6] = {[4] = 0.99, [7] = 0.01}, [7] = {[4] = 1}}
  local decoder = {
    start = function(_, lengths, k) return {n = #lengths * k} end,
    step = function(st, ids)
      local lp = loom.fill(st.n, 7, math.log(1e-300))
      for r = 1, st.n do
        for v, p in pairs(P[ids[r]] or P[7]) do lp:set(r, v, math.log(p)) end
      end
      return lp
    end,
    reorder = function() end,
  }
  for name, search in pairs{["seq2seq.beam_search"] = s2s.beam_search,
                            ["seq2seq.beam_search_reference"] = s2s.beam_search_reference} do
    for _, alpha in ipairs{0, 1} do
      local r = search(decoder, loom.fill(1, 1, 5), {1}, {beam = 2, nbest = 2, max_len = 10, length_penalty = alpha})
      local what = string.format("%s, length penalty %g", name, alpha)
      equal(table.concat(r[1][1].ids, " "), "5 7", what .. ": best a c")
      close(r[1][1].logprob, math.log(0.594), 1e-14, what .. ": its log-probability")
      equal(table.concat(r[1][2].ids, " "), "6", what .. ": second b")
    end
  end
end)

for _, c in ipairs(CONFIGS) do
  test("seq2seq " .. c.attention .. ": the C decoder equals the step-by-step Lua reference (loss, every gradient)", function()
    local model = make_model(c, 13)
    local batch = random_batch(8, 9)
    for _, eps in ipairs{0, 0.1} do
      model:zero_grad()
      local loss, count = model:forward_backward(batch, {label_smoothing = eps})
      local grads = {}
      for i, p in ipairs(model:parameters()) do grads[i] = p.grad:copy() end
      model:zero_grad()
      local ref_loss, ref_count = model:forward_backward_reference(batch, {label_smoothing = eps})
      equal(count, ref_count, "tokens")
      close(loss, ref_loss, 1e-13, "loss, eps " .. eps)
      for i, p in ipairs(model:parameters()) do
        local d = max_rel_diff(grads[i], p.grad, p.name)
        check(d <= 1e-12, "%s differs from the reference by %.3g (eps %g)", p.name, d, eps)
      end
    end
  end)
end

-- Every search the same: the model's own in C, C bookkeeping over the Lua decoder protocol,
-- and the Lua reference.
local function same_answers(a, b, what)
  equal(#a, #b, what .. ": sequences")
  for s = 1, #a do
    equal(#a[s], #b[s], what .. ": answers of sequence " .. s)
    for i = 1, #a[s] do
      equal(table.concat(a[s][i].ids, " "), table.concat(b[s][i].ids, " "), string.format("%s: ids %d.%d", what, s, i))
      close(a[s][i].score, b[s][i].score, 1e-12, string.format("%s: score %d.%d", what, s, i))
      close(a[s][i].logprob, b[s][i].logprob, 1e-12, string.format("%s: logprob %d.%d", what, s, i))
    end
  end
end

test("beam search in C equals the Lua reference (kinds, beams, n-best, length penalty, limits)", function()
  local settings = {
    {beam = 1, max_len = 6},
    {beam = 3, nbest = 3, max_len = 5},
    {beam = 4, nbest = 2, length_penalty = 0.8, max_len = 7, max_len_ratio = 1.5},
    {beam = 2, max_len = 1},
  }
  for _, c in ipairs(CONFIGS) do
    local model = make_model(c, 21)
    local batch = random_batch(8, 9)
    for _, o in ipairs(settings) do
      local what = string.format("%s beam %d", c.attention, o.beam)
      local ref = s2s.beam_search_reference(model:decoder(), batch.src, batch.src_lengths, o)
      same_answers(model:beam(batch.src, batch.src_lengths, o), ref, what .. " (model:beam)")
      same_answers(s2s.beam_search(model:decoder(), batch.src, batch.src_lengths, o), ref, what .. " (beam_search)")
    end
  end
end)

test("a model allocates nothing once warmed up: training steps and decoding, any target length", function()
  local model = make_model(CONFIGS[4], 3)
  local function batch_of(T)
    local b = random_batch(8, 9)
    local tin, tout = loom.fill(T, 3, s2s.PAD), loom.fill(T, 3, s2s.PAD)
    for t = 1, T do
      for j = 1, 3 do tin:set(t, j, 5 + (t + j) % 4); tout:set(t, j, 5 + (t + j + 1) % 4) end
    end
    b.tgt_in, b.tgt_out = tin, tout
    return b
  end
  local function allocations(f)
    local before = loom.alloc_stats().allocations
    f()
    return loom.alloc_stats().allocations - before
  end
  -- the encoder (nn.LSTM) writes its results (h_T, c_T, dX, dh0, dc0) into the model's buffers
  local long, short = batch_of(30), batch_of(5)
  model:forward_backward(long); model:forward_backward(short) -- warm-up: buffers of both shapes
  local src, lengths = long.src, long.src_lengths
  model:greedy(src, lengths, {max_len = 30}); model:beam(src, lengths, {beam = 3, max_len = 30})
  for _, b in ipairs{long, short, long} do
    equal(allocations(function() model:forward_backward(b) end), 0,
      "allocations of a training step of " .. b.tgt_in:rows() .. " steps, encoder included")
  end
  equal(allocations(function() model:greedy(src, lengths, {max_len = 30}) end), 0, "greedy")
  equal(allocations(function() model:beam(src, lengths, {beam = 3, nbest = 2, max_len = 30}) end), 0, "beam 3")
end)

test("float32 models: model:to and the dtype option; a training step and decoding agree with float64", function()
  for _, c in ipairs(CONFIGS) do
    local m64, m32 = make_model(c, 31), make_model(c, 31):to("float32")
    equal(m32:config().dtype, "float32", "config")
    for _, p in ipairs(m32:parameters()) do equal(p.value:dtype(), "float32", p.name) end
    local batch = random_batch(8, 9)
    m64:zero_grad(); m32:zero_grad()
    local l64 = m64:forward_backward(batch)
    local l32 = m32:forward_backward(batch)
    close(l32, l64, 1e-5, c.attention .. " loss")
    local g32 = m32:parameters()
    for i, p in ipairs(m64:parameters()) do
      local d = g32[i].grad:double() - p.grad
      check(d:norm() <= 1e-4 * math.max(p.grad:norm(), 1e-3), "%s %s: float32 gradient off by %g", c.attention, p.name,
        d:norm())
    end
    local g64 = m64:greedy(batch.src, batch.src_lengths, {max_len = 5})
    local b32 = m32:beam(batch.src, batch.src_lengths, {beam = 3, max_len = 5})
    local b64 = m64:beam(batch.src, batch.src_lengths, {beam = 3, max_len = 5})
    local g32 = m32:greedy(batch.src, batch.src_lengths, {max_len = 5})
    for b = 1, 3 do
      equal(table.concat(g32[b], " "), table.concat(g64[b], " "), c.attention .. " greedy " .. b)
      equal(table.concat(b32[b][1].ids, " "), table.concat(b64[b][1].ids, " "), c.attention .. " beam " .. b)
      close(b32[b][1].logprob, b64[b][1].logprob, 1e-5, c.attention .. " beam log-probability " .. b)
    end
  end
  local m = s2s.model{src_vocab = 8, tgt_vocab = 9, embed = 3, hidden = 4, dtype = "float32"}
  equal(m.generator:dtype(), "float32", "dtype option")
  checkerror('seq2seq.model: dtype must be "float32" or "float64", got "half"', s2s.model,
    {src_vocab = 8, tgt_vocab = 9, dtype = "half"})
  checkerror('seq2seq.Model:to: dtype must be "float32" or "float64", got "half"', m.to, m, "half")
end)

-- Dropout draws its masks from loom's generator: seeding before each pass fixes them, so the
-- gradient of one fixed-mask network can be checked by central differences.
test("dropout: gradients with fixed masks equal central differences; C equals the Lua reference; off in eval", function()
  for _, c in ipairs{CONFIGS[1], CONFIGS[3], CONFIGS[5]} do
    loom.seed(3)
    local model = s2s.model{src_vocab = 8, tgt_vocab = 9, embed = 3, hidden = 4, layers = c.layers,
      bidirectional = c.bidirectional, attention = c.attention, dropout = 0.4}
    local batch = random_batch(8, 9)
    local function pass(f)
      loom.seed(77)
      return f(model, batch, {label_smoothing = 0.1})
    end
    model:zero_grad()
    local loss = pass(model.forward_backward)
    local grads = {}
    for i, p in ipairs(model:parameters()) do grads[i] = p.grad:copy() end
    model:zero_grad()
    close(pass(model.forward_backward_reference), loss, 1e-12, c.attention .. " reference loss")
    for i, p in ipairs(model:parameters()) do
      check((p.grad - grads[i]):norm() <= 1e-10 * math.max(1, grads[i]:norm()), "%s %s: C and reference differ",
        c.attention, p.name)
    end
    for k, p in ipairs(model:parameters()) do
      for i = 1, p.value:rows() do
        for j = 1, p.value:cols() do
          local orig, eps = p.value:get(i, j), 1e-6
          p.value:set(i, j, orig + eps); local fp = pass(model.loss)
          p.value:set(i, j, orig - eps); local fm = pass(model.loss)
          p.value:set(i, j, orig)
          local num, ana = (fp - fm) / (2 * eps), grads[k]:get(i, j)
          local err = math.abs(num - ana) / math.max(math.abs(num), math.abs(ana), 1e-4)
          check(err < 1e-5, "%s %s (%d,%d): analytic %.10g numeric %.10g", c.attention, p.name, i, j, ana, num)
        end
      end
    end
    -- the masks matter while training, and evaluation is the same network without dropout
    loom.seed(78)
    check(math.abs(model:loss(batch) - pass(model.loss)) > 1e-6, "%s: another mask, another loss", c.attention)
    local plain = s2s.model{src_vocab = 8, tgt_vocab = 9, embed = 3, hidden = 4, layers = c.layers,
      bidirectional = c.bidirectional, attention = c.attention}
    plain:load_state_dict(model:state_dict())
    model:eval()
    close(model:loss(batch), plain:loss(batch), 1e-14, c.attention .. " eval loss")
    equal(table.concat(model:greedy(batch.src, batch.src_lengths, {max_len = 5})[2], " "),
      table.concat(plain:greedy(batch.src, batch.src_lengths, {max_len = 5})[2], " "), c.attention .. " eval greedy")
    model:train()
  end
end)

test("dropout in float32: the same masks and gradients as float64", function()
  loom.seed(5)
  local m64 = s2s.model{src_vocab = 8, tgt_vocab = 9, embed = 3, hidden = 4, dropout = 0.3}
  loom.seed(5)
  local m32 = s2s.model{src_vocab = 8, tgt_vocab = 9, embed = 3, hidden = 4, dropout = 0.3, dtype = "float32"}
  local batch = random_batch(8, 9)
  m64:zero_grad(); m32:zero_grad()
  loom.seed(9); local l64 = m64:forward_backward(batch)
  loom.seed(9); local l32 = m32:forward_backward(batch)
  close(l32, l64, 1e-5, "loss")
  local g32 = m32:parameters()
  for i, p in ipairs(m64:parameters()) do
    local d = g32[i].grad:double() - p.grad
    check(d:norm() <= 1e-4 * math.max(p.grad:norm(), 1e-3), "%s: float32 gradient off by %g", p.name, d:norm())
  end
  equal(m32:config().dropout, 0.3, "config")
end)

test("train_epoch with sampling = 1 trains on the model's own greedy outputs as decoder inputs", function()
  local batch = random_batch(8, 9)
  local a, b = make_model(CONFIGS[4], 12), make_model(CONFIGS[4], 12)
  -- by hand: the greedy outputs after <s> where the reference has a target, then one step
  local out = a:greedy(batch.src, batch.src_lengths, {max_len = batch.tgt_in:rows() - 1})
  local tin = batch.tgt_in:copy()
  for j, ids in ipairs(out) do
    for t = 1, math.min(#ids, tin:rows() - 1) do
      if batch.tgt_out:get(t + 1, j) ~= s2s.PAD then tin:set(t + 1, j, ids[t]) end
    end
  end
  check((tin - batch.tgt_in):norm() > 0, "the model's outputs differ from the reference somewhere")
  local fed = {src = batch.src, src_lengths = batch.src_lengths, tgt_in = tin, tgt_out = batch.tgt_out, size = 3}
  a:zero_grad()
  local want = a:forward_backward(fed)
  loom.optim.sgd(a:parameters(), {lr = 0.1}):step()
  local got = s2s.train_epoch(b, {batch}, loom.optim.sgd(b:parameters(), {lr = 0.1}), {sampling = 1})
  close(got, want, 1e-12, "loss")
  local pa = a:parameters()
  for i, p in ipairs(b:parameters()) do
    check((p.value - pa[i].value):norm() <= 1e-12, "%s after the step", p.name)
  end
  -- sampling = 0 is teacher forcing
  local c, d = make_model(CONFIGS[4], 12), make_model(CONFIGS[4], 12)
  c:zero_grad()
  close(s2s.train_epoch(d, {batch}, loom.optim.sgd(d:parameters(), {lr = 0.1}), {sampling = 0}),
    c:forward_backward(batch), 1e-12, "teacher forcing")
  checkerror("seq2seq.train_epoch: sampling must be a finite number in 0..1, got 1.5", s2s.train_epoch, d, {batch},
    loom.optim.sgd(d:parameters()), {sampling = 1.5})
end)

test("model options are checked", function()
  checkerror("seq2seq.model: attention must be none, dot, general, concat or bahdanau, got luong",
    s2s.model, {src_vocab = 5, tgt_vocab = 5, attention = "luong"})
  checkerror("seq2seq.model: a bidirectional encoder needs an even hidden size, got 5",
    s2s.model, {src_vocab = 5, tgt_vocab = 5, hidden = 5, bidirectional = true})
  checkerror("seq2seq.model: src_vocab must be an integer >= 1, got nil", s2s.model, {tgt_vocab = 5})
  checkerror("seq2seq.model: unknown option 'hiden' (did you mean 'hidden'?)", s2s.model,
    {src_vocab = 5, tgt_vocab = 5, hiden = 8})
  checkerror("seq2seq.model: option 'bidirectional' must be a boolean, got number", s2s.model,
    {src_vocab = 5, tgt_vocab = 5, bidirectional = 1})
  checkerror("seq2seq.model: options must be a table, got number", s2s.model, 5)
  checkerror("seq2seq.model: dropout must be in [0, 1), got 1", s2s.model, {src_vocab = 5, tgt_vocab = 5, dropout = 1})
  checkerror("seq2seq.model: dropout must be in [0, 1), got -0.1", s2s.model,
    {src_vocab = 5, tgt_vocab = 5, dropout = -0.1})
  checkerror("seq2seq.model: option 'dropout' must be a number, got string", s2s.model,
    {src_vocab = 5, tgt_vocab = 5, dropout = "0.5"})
end)

test("arguments of the data side, the model's methods and the loops are checked", function()
  local pairs_ = {{src = {"a", "b"}, tgt = {"x"}}, {src = {"b"}, tgt = {"y"}}}
  local sv, tv = s2s.vocab{{"a", "b"}}, s2s.vocab{{"x", "y"}}
  checkerror("seq2seq.read_pairs: path must be a string, got nil", s2s.read_pairs)
  checkerror("seq2seq.vocab: token_lists[2][1] must be a string, got number", s2s.vocab, {{"a"}, {1}})
  checkerror("seq2seq.batches: pairs[2].tgt must be a list, got nil", s2s.batches, {pairs_[1], {src = {"a"}}}, sv,
    tv, 2)
  checkerror("seq2seq.batches: tgt_vocab must be a vocabulary (seq2seq.vocab), got table", s2s.batches, pairs_, sv,
    {}, 2)
  checkerror("seq2seq.batches: batch_size must be an integer >= 1, got 0", s2s.batches, pairs_, sv, tv, 0)
  checkerror("seq2seq.batches: unknown option 'reverse_sorce' (did you mean 'reverse_source'?)", s2s.batches, pairs_, sv,
    tv, 2, {reverse_sorce = true})
  local model = s2s.model{src_vocab = sv:size(), tgt_vocab = tv:size(), embed = 3, hidden = 4}
  local batch = s2s.batches(pairs_, sv, tv, 2)[1]
  checkerror("seq2seq.Model:loss: expected a seq2seq model (call it as model:loss(...)), got nil", model.loss, nil,
    batch)
  checkerror("seq2seq.Model:loss: batch.tgt_out must be a matrix, got nil", model.loss, model,
    {src = batch.src, src_lengths = batch.src_lengths, tgt_in = batch.tgt_in, size = 2})
  checkerror("seq2seq.Model:forward_backward: label_smoothing must be a finite number in 0..1, got 2",
    model.forward_backward, model, batch, {label_smoothing = 2})
  checkerror("seq2seq.Model:greedy: lengths has 1 entries but src has 2 columns (sequences)", model.greedy, model,
    batch.src, {1})
  checkerror("seq2seq.Model:greedy: lengths[2] must be an integer in 0..2, got 3", model.greedy, model, batch.src,
    {1, 3})
  checkerror("seq2seq.Model:encode: nn.Embedding:forward: id 9 at (1, 1) is not in 1..6", model.encode, model,
    loom.fill(2, 2, 9), {2, 2})
  checkerror("seq2seq.Model:beam: nbest (3) must not exceed the beam (2)", model.beam, model, batch.src,
    batch.src_lengths, {beam = 2, nbest = 3})
  checkerror("seq2seq.Model:translate: unknown option 'beem' (did you mean 'beam'?)", model.translate, model,
    {{"a"}}, sv, tv, {beem = 2})
  checkerror("seq2seq.Model:translate: sources[1][2] must be a string, got boolean", model.translate, model,
    {{"a", true}}, sv, tv)
  checkerror("seq2seq.Model:attention_map: option 'max_len' must be an integer, got number", model.attention_map,
    model, {"a"}, sv, {max_len = 2.5})
  checkerror("seq2seq.cross_entropy: targets[2] must be an integer id in 1..5, got 7", s2s.cross_entropy,
    loom.zeros(2, 5), loom.matrix{{1}, {7}})
  checkerror("seq2seq.cross_entropy: eps must be a finite number in 0..1, got -0.1", s2s.cross_entropy,
    loom.zeros(2, 5), loom.matrix{{1}, {2}}, -0.1)
  checkerror("seq2seq.beam_search: decoder.step must be a function, got nil", s2s.beam_search,
    {start = function() end, reorder = function() end}, batch.src, batch.src_lengths)
  checkerror("seq2seq.beam_search: decoder.step must return log-probabilities with 2 rows (one per hypothesis), got 1x6",
    s2s.beam_search, {start = function() return {} end, step = function() return loom.zeros(1, 6) end,
      reorder = function() end}, batch.src, {1}, {beam = 2})
  local opt = loom.optim.sgd(model:parameters(), {lr = 0.1})
  checkerror("seq2seq.train_epoch: opt must be an optimiser (loom.optim.sgd, adam, ...), got nil", s2s.train_epoch,
    model, {batch})
  checkerror("seq2seq.train_epoch: order[1] must be an integer in 1..1, got 2", s2s.train_epoch, model, {batch}, opt,
    {order = {2}})
  checkerror("seq2seq.train_epoch: unknown option 'on_stop' (did you mean 'on_step'?)", s2s.train_epoch, model,
    {batch}, opt, {on_stop = print})
  checkerror("seq2seq.mean_loss: batches[1] must be a table, got number", s2s.mean_loss, model, {1})
  checkerror("seq2seq.evaluate: model must be a seq2seq model (seq2seq.model{...}), got table", s2s.evaluate, {},
    pairs_, sv, tv)
  -- the message points at the caller's line
  local line = debug.getinfo(1, "l").currentline + 1
  local ok, err = pcall(function() local r = model:greedy(batch.src, batch.src_lengths, {max_len = 0}); return r end)
  check(not ok, "greedy accepted max_len = 0")
  equal(err, string.format("%s:%d: seq2seq.Model:greedy: max_len must be an integer >= 1, got 0",
    debug.getinfo(1, "S").short_src, line), "position")
end)

test("parameter names follow the parts (PyTorch names inside each)", function()
  local model = make_model(CONFIGS[5], 1)
  local names = {}
  for _, p in ipairs(model:parameters()) do names[#names + 1] = p.name end
  local s = table.concat(names, " ")
  check(s:find("src_embedding.weight encoder.weight_ih_l0 ", 1, true), "encoder names: %s", s)
  check(s:find("encoder.weight_ih_l0_reverse", 1, true), "reverse direction: %s", s)
  check(s:find("decoder.weight_ih decoder.weight_hh decoder.bias_ih decoder.bias_hh attention.query_layer.weight", 1, true), "decoder: %s", s)
  check(s:find("combine.weight generator.weight generator.bias$"), "output layers: %s", s)
end)

---- one training step against PyTorch float64 ----


local PROGRAM = [==[
import sys, torch
import torch.nn.functional as F
torch.set_default_dtype(torch.float64)
d = {}
for line in open(sys.argv[1]):
    p = line.split()
    d[p[0]] = torch.tensor([float(v) for v in p[3:]]).reshape(int(p[1]), int(p[2]))
kind, layers, bidi, feed, eps = sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1", sys.argv[5] == "1", float(sys.argv[6])
src = d["src"].long() - 1; tin = d["tgt_in"].long() - 1; tout = d["tgt_out"].long() - 1
lengths = d["lengths"].reshape(-1).long()
S, B = src.shape; T = tin.shape[0]
P = {k: v.clone().requires_grad_(True) for k, v in d.items() if "." in k}
E = P["src_embedding.weight"].shape[1]; dirs = 2 if bidi else 1
H = P["generator.weight"].shape[1]
enc = torch.nn.LSTM(E, H // dirs, layers, bidirectional=bidi)
for name, p in enc.named_parameters():
    p.data = P["encoder." + name].reshape(p.shape); # shares storage with the leaf below
enc_params = {name: p for name, p in enc.named_parameters()}
x = F.embedding(src, P["src_embedding.weight"], padding_idx=0)
packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)
out, (hT, cT) = enc(packed)
keys, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=S)   # S x B x H
top = (layers - 1) * dirs
h = torch.cat([hT[top], hT[top + 1]], 1) if bidi else hT[top]
c = torch.cat([cT[top], cT[top + 1]], 1) if bidi else cT[top]
Kb = keys.transpose(0, 1)
mask = torch.arange(S).unsqueeze(0) >= lengths.unsqueeze(1)
def attend(q):
    if kind == "dot": sc = torch.einsum("bh,bsh->bs", q, Kb)
    elif kind == "general": sc = torch.einsum("bh,bsh->bs", q @ P["attention.linear_in.weight"].t(), Kb)
    else:
        if kind == "concat":
            W = P["attention.linear.weight"]; qp, kp = q @ W[:, :H].t(), Kb @ W[:, H:].t()
        else:
            qp = q @ P["attention.query_layer.weight"].t() + P["attention.query_layer.bias"].reshape(-1)
            kp = Kb @ P["attention.key_layer.weight"].t()
        sc = (torch.tanh(qp.unsqueeze(1) + kp) @ P["attention.v.weight"].t()).squeeze(2)
    a = torch.softmax(sc.masked_fill(mask, float("-inf")), dim=1)
    return torch.einsum("bs,bsh->bh", a, Kb)
def cell(x, h, c):
    g = x @ P["decoder.weight_ih"].t() + P["decoder.bias_ih"].reshape(-1) + h @ P["decoder.weight_hh"].t() + P["decoder.bias_hh"].reshape(-1)
    i, f, gg, o = g.chunk(4, 1)
    c2 = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)
    return torch.sigmoid(o) * torch.tanh(c2), c2
outs = []
prev = torch.zeros(B, H)
for t in range(T):
    e = F.embedding(tin[t], P["tgt_embedding.weight"], padding_idx=0)
    if kind == "bahdanau":
        ctx = attend(h); xin = torch.cat([e, ctx], 1)
    elif kind != "none" and feed: xin = torch.cat([e, prev], 1)
    else: xin = e
    h, c = cell(xin, h, c)
    if kind not in ("none", "bahdanau"): ctx = attend(h)
    o = torch.tanh(torch.cat([ctx, h], 1) @ P["combine.weight"].t()) if kind != "none" else h
    outs.append(o); prev = o
logits = torch.cat(outs, 0) @ P["generator.weight"].t() + P["generator.bias"].reshape(-1)
loss = F.cross_entropy(logits, tout.reshape(-1), ignore_index=0, label_smoothing=eps)
loss.backward()
def emit(name, x):
    x = x.detach(); x = x.reshape(x.shape[0], -1) if x.dim() > 1 else x.reshape(-1, 1)
    print(name, x.shape[0], x.shape[1], " ".join(repr(float(v)) for v in x.reshape(-1)))
emit("loss", loss.reshape(1, 1))
for k, v in P.items():
    g = enc_params[k[len("encoder."):]].grad if k.startswith("encoder.") else v.grad
    emit("d:" + k, g if g is not None else torch.zeros_like(v))
]==]


local torch = dofile(TEST_DIR .. "/torch_helpers.lua")
local serialize = torch.serialize
local py, why = reference_python({"torch"})
for _, c in ipairs(CONFIGS) do
  test("seq2seq " .. c.attention .. ": one training step equals PyTorch float64 to 1e-10 (loss, every gradient)", function()
    if not py then skip(why) end
    local model = make_model(c, 17)
    local batch = random_batch(8, 9)
    local eps = 0.1
    model:zero_grad()
    local loss = model:forward_backward(batch, {label_smoothing = eps})
    local lines = {}
    serialize(lines, "src", batch.src); serialize(lines, "tgt_in", batch.tgt_in)
    serialize(lines, "tgt_out", batch.tgt_out); serialize(lines, "lengths", loom.matrix{batch.src_lengths})
    for _, p in ipairs(model:parameters()) do serialize(lines, p.name, p.value) end
    local ref, text = torch.run(py, PROGRAM, lines, string.format("%s %d %d %d %s", c.attention, c.layers or 1,
      c.bidirectional and 1 or 0, c.input_feeding == false and 0 or 1, eps))
    check(ref.loss, "python failed:\n%s", text)
    close(loss, ref.loss:get(1, 1), 1e-10, "loss")
    for _, prm in ipairs(model:parameters()) do
      local want = ref["d:" .. prm.name]
      check(want, "torch did not report %s", prm.name)
      local d = max_rel_diff(prm.grad, want, prm.name)
      check(d <= 1e-10, "%s differs from torch by %.3g", prm.name, d)
    end
  end)
end

test("cross_entropy: padding ignored, mean over tokens, smoothing as PyTorch's label_smoothing", function()
  loom.seed(4)
  local logits, targets = loom.randn(4, 5), loom.matrix{{3}, {1}, {5}, {2}}
  for _, eps in ipairs{0, 0.2} do
    local loss, d, count = s2s.cross_entropy(logits, targets, eps)
    equal(count, 3, "tokens (PAD rows ignored)")
    local want, dwant = 0, loom.zeros(4, 5)
    for i = 1, 4 do
      local y = targets:get(i, 1)
      if y ~= s2s.PAD then
        local z = 0
        for k = 1, 5 do z = z + math.exp(logits:get(i, k)) end
        for k = 1, 5 do
          local logp = logits:get(i, k) - math.log(z)
          local target = (k == y and 1 - eps or 0) + eps / 5
          want = want - target * logp / 3
          dwant:set(i, k, (math.exp(logp) - target) / 3)
        end
      end
    end
    close(loss, want, 1e-14, "loss, eps " .. eps)
    check(max_rel_diff(d, dwant) < 1e-14, "gradient, eps %g", eps)
  end
end)

test("translate: replace_unk copies the most attended source word in place of <unk>", function()
  loom.seed(2)
  local sv = s2s.vocab{{"a", "b", "c"}}
  local tv = s2s.vocab{{"X"}}
  for _, reverse in ipairs{false, true} do
    local model = s2s.model{src_vocab = sv:size(), tgt_vocab = tv:size(), embed = 4, hidden = 6, attention = "dot"}
    -- The generator always prefers <unk> (id 2) until the length limit.
    local bias = model.generator:parameters()[2].value
    bias:set(s2s.UNK, 1, 100)
    local sources = {{"a", "b", "c"}, {"c", "a"}}
    local plain = model:translate(sources, sv, tv, {max_len = 3, reverse_source = reverse})
    equal(table.concat(plain[1], " "), "<unk> <unk> <unk>", "without replacement")
    local out = model:translate(sources, sv, tv, {max_len = 3, replace_unk = true, reverse_source = reverse})
    -- The attention of each step, from greedy decoding of the same batch.
    local bs = s2s.batches({{src = sources[1], tgt = {}}, {src = sources[2], tgt = {}}}, sv, tv, 64,
      {reverse_source = reverse, sort = false})
    local _, weights = model:greedy(bs[1].src, bs[1].src_lengths, {max_len = 3, attention = true})
    for b = 1, 2 do
      for t = 1, 3 do
        local _, s = weights[t]:slice(b, b):argmax()
        local want = sources[b][reverse and #sources[b] - s + 1 or s]
        equal(out[b][t], want, string.format("reverse %s, sequence %d, step %d", tostring(reverse), b, t))
      end
    end
  end
  local model = s2s.model{src_vocab = sv:size(), tgt_vocab = tv:size(), attention = "dot"}
  checkerror("seq2seq.Model:translate: replace_unk needs greedy decoding (beam = 1)", model.translate, model,
    {{"a"}}, sv, tv, {beam = 2, replace_unk = true})
end)

test("save and load: the loaded model decodes alike (greedy, beam, float32); bad files are one-line errors", function()
  local sv, tv = s2s.vocab{{"a", "b", "c", "d", "e"}}, s2s.vocab{{"v", "w", "x", "y", "z"}}
  local path = os.tmpname()
  for _, c in ipairs{CONFIGS[3], CONFIGS[5], {attention = "general", dtype = "float32"}} do
    loom.seed(8)
    local model = s2s.model{src_vocab = sv:size(), tgt_vocab = tv:size(), embed = 3, hidden = 4, layers = c.layers,
      bidirectional = c.bidirectional, attention = c.attention, dtype = c.dtype}
    assert(model:save(path, sv, tv, {reverse_source = true, meta = {tokens = "words", epoch = "3"}}))
    local back, sv2, tv2, info = s2s.load(path)
    check(back, "load failed: %s", sv2)
    equal(info.reverse_source, true, "reverse_source")
    equal(info.meta.tokens .. " " .. info.meta.epoch, "words 3", "the caller's metadata")
    equal(table.concat(tv2.itos, " "), table.concat(tv.itos, " "), "target vocabulary")
    equal(back:config().dtype, model:config().dtype, "dtype")
    local sources = {{"a", "b", "c"}, {"e", "d"}, {"c"}}
    for _, beam in ipairs{1, 3} do
      local want = model:translate(sources, sv, tv, {beam = beam, max_len = 6})
      local got = back:translate(sources, sv2, tv2, {beam = beam, max_len = 6})
      for i = 1, #sources do
        equal(table.concat(got[i], " "), table.concat(want[i], " "), string.format("%s beam %d sentence %d",
          c.attention, beam, i))
      end
    end
  end
  local f = assert(io.open(path, "w")); f:write("not a safetensors file"); f:close()
  local none, err = s2s.load(path)
  check(none == nil and err:match("^seq2seq%.load: ") and not err:find("\n"), "corrupt file: %s", tostring(err))
  assert(loom.save(path, {w = loom.zeros(2, 2)}, {format = "other"}))
  none, err = s2s.load(path)
  equal(err, "seq2seq.load: " .. path .. " is not a loom seq2seq model (no format = loom.seq2seq metadata)", "foreign")
  os.remove(path)
  local model = s2s.model{src_vocab = sv:size(), tgt_vocab = tv:size()}
  checkerror("seq2seq.Model:save: the vocabularies have 9 and 4 tokens, the model 9 and 9", model.save, model, path, sv,
    s2s.vocab{{}})
  checkerror("seq2seq.Model:save: meta must map strings to strings, got string = number", model.save, model, path, sv,
    tv, {meta = {epoch = 3}})
end)
