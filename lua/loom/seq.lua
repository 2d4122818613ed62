-- loom.seq: batches of sequences in the time-major layout (row (t-1)*B + b is step t of
-- sequence b), length sorting and bucketing, and losses over padded batches. Not the
-- recurrent layers themselves (loom.nn.LSTM, ...), which consume these batches.
local loom = require "loom"
local check = require "loom.check"

local seq = {}

-- A sequence as a matrix: matrices pass through, a list of numbers becomes a column.
local function as_matrix(s, fn, i)
  if loom.is_matrix(s) then return s end
  if type(s) == "table" then
    if #s == 0 then check.fail(fn, "sequence %d is empty", i) end
    for t = 1, #s do
      if type(s[t]) ~= "number" then
        check.fail(fn, "sequence %d has a %s at step %d, expected a number", i, check.kind(s[t]), t)
      end
    end
    return loom.matrix(s)
  end
  check.fail(fn, "sequence %d is a %s, expected a matrix or a list of numbers", i, check.kind(s))
end

-- seq.pad(list [, {value = 0}]) -> X, lengths
-- list holds B sequences, each a T_b x F matrix (rows are steps) or a list of T_b numbers.
-- X is T*B x F with T = max T_b, time-major, `value` past each end; lengths = {T_1, ...}.
function seq.pad(list, opts)
  local fn = "loom.seq.pad"
  opts = check.options(fn, opts, {value = "number"})
  if type(list) ~= "table" or loom.is_matrix(list) or #list == 0 then
    check.fail(fn, "expected a non-empty list of sequences")
  end
  local value = opts.value or 0
  local B, T, F = #list, 0, nil
  local mats, lengths = {}, {}
  for b = 1, B do
    local m = as_matrix(list[b], fn, b)
    if m:rows() == 0 then check.fail(fn, "sequence %d is empty", b) end
    F = F or m:cols()
    if m:cols() ~= F then check.fail(fn, "sequence %d has %d features, sequence 1 has %d", b, m:cols(), F) end
    mats[b], lengths[b] = m, m:rows()
    if m:rows() > T then T = m:rows() end
  end
  local like = {dtype = mats[1]:dtype()} -- the batch keeps the sequences' dtype
  -- T x B*F, row t holding every sequence's step t side by side, is the T*B x F result in
  -- the same memory: one strided copy per sequence (few objects for the collector)
  local X = value == 0 and loom.zeros(T, B * F, like) or loom.fill(T, B * F, value, like)
  for b = 1, B do
    X:slice(1, lengths[b], (b - 1) * F + 1, b * F):copy_(mats[b])
  end
  return X:reshape(T * B, F), lengths
end

-- B for a list of lengths; with T, every length must be an integer in min_length..T.
local function check_lengths(lengths, fn, T, min_length)
  if type(lengths) ~= "table" or loom.is_matrix(lengths) or #lengths == 0 then
    check.fail(fn, "expected a non-empty list of lengths, got %s",
      type(lengths) == "table" and "an empty list" or check.kind(lengths))
  end
  if T then
    min_length = min_length or 0
    for b = 1, #lengths do
      local len = lengths[b]
      if math.type(len) ~= "integer" and not (type(len) == "number" and math.tointeger(len)) or
          len < min_length or len > T then
        check.fail(fn, "lengths[%d] = %s is outside %d..%d", b, check.shown(len), min_length, T)
      end
    end
  end
  return #lengths
end

local function steps_of(X, B, fn)
  if X:rows() % B ~= 0 then
    check.fail(fn, "%d rows do not hold whole steps of a batch of %d", X:rows(), B)
  end
  return X:rows() // B
end

-- seq.unpad(X, lengths) -> list of B matrices T_b x F (copies), the inverse of pad.
function seq.unpad(X, lengths)
  local fn = "loom.seq.unpad"
  check.matrix(fn, "X", X)
  local B = check_lengths(lengths, fn)
  check_lengths(lengths, fn, steps_of(X, B, fn))
  local out = {}
  for b = 1, B do
    local idx = {}
    for t = 1, lengths[b] do idx[t] = (t - 1) * B + b end
    out[b] = #idx > 0 and X:index_rows(idx) or loom.zeros(0, X:cols())
  end
  return out
end

-- seq.mask(lengths, T) -> T*B x 1 matrix: 1 for real steps, 0 for padding. Every length
-- is an integer in 0..T.
function seq.mask(lengths, T)
  local fn = "loom.seq.mask"
  T = check.integer(fn, "T", T, 0)
  local B = check_lengths(lengths, fn, T)
  local M = loom.zeros(T, B) -- the T*B x 1 column in the same memory
  for b = 1, B do
    if lengths[b] > 0 then M:slice(1, lengths[b], b, b):fill_(1) end
  end
  return M:reshape(T * B, 1)
end

local function length_of(s)
  if type(s) == "number" then return s end
  if loom.is_matrix(s) then return s:rows() end
  return #s
end

-- Every item of list is a sequence (matrix or list) or a length.
local function check_items(list, fn)
  check.list(fn, "list", list)
  for i = 1, #list do
    local v = list[i]
    if not (type(v) == "number" and v == v or type(v) == "table" or loom.is_matrix(v)) then
      check.fail(fn, "item %d is a %s, expected a sequence or a length", i, check.kind(v))
    end
  end
end

-- seq.sort_by_length(list [, {descending = true}]) -> sorted copy of list, order
-- (order[k] is the original index of the k-th item). Items may be sequences or lengths.
-- The sort is stable: equal lengths keep their order.
function seq.sort_by_length(list, opts)
  local fn = "loom.seq.sort_by_length"
  check_items(list, fn)
  opts = check.options(fn, opts, {descending = "boolean"})
  local descending = opts.descending ~= false
  local order = {}
  for i = 1, #list do order[i] = i end
  table.sort(order, function(a, b)
    local la, lb = length_of(list[a]), length_of(list[b])
    if la ~= lb then
      if descending then return la > lb end
      return la < lb
    end
    return a < b
  end)
  local sorted = {}
  for k, i in ipairs(order) do sorted[k] = list[i] end
  return sorted, order
end

-- seq.buckets(list, batch_size [, {shuffle = true}]) -> list of batches, each a list of
-- indices into list whose sequences have similar lengths (sorted by length, then cut into
-- batch_size chunks), so little padding is wasted. With shuffle the order of the batches
-- comes from the seeded generator (and ties are broken at random).
function seq.buckets(list, batch_size, opts)
  local fn = "loom.seq.buckets"
  check_items(list, fn)
  if math.type(batch_size) ~= "integer" or batch_size < 1 then
    check.fail(fn, "batch_size must be an integer >= 1, got %s", tostring(batch_size))
  end
  opts = check.options(fn, opts, {shuffle = "boolean"})
  local shuffle = opts.shuffle ~= false
  local n = #list
  local base = shuffle and loom.permutation(n) or nil
  local order = {}
  for i = 1, n do order[i] = base and base[i] or i end
  local rank = {}
  for k, i in ipairs(order) do rank[i] = k end
  table.sort(order, function(a, b)
    local la, lb = length_of(list[a]), length_of(list[b])
    if la ~= lb then return la < lb end
    return rank[a] < rank[b]
  end)
  local batches = {}
  for start = 1, n, batch_size do
    local batch = {}
    for k = start, math.min(n, start + batch_size - 1) do batch[#batch + 1] = order[k] end
    batches[#batches + 1] = batch
  end
  if shuffle and #batches > 1 then
    local perm, shuffled = loom.permutation(#batches), {}
    for k, i in ipairs(perm) do shuffled[k] = batches[i] end
    batches = shuffled
  end
  return batches
end

-- seq.batch(list, indices [, opts]) -> X, lengths: pad the sequences list[indices[k]].
function seq.batch(list, indices, opts)
  local fn = "loom.seq.batch"
  check.list(fn, "list", list)
  check.list(fn, "indices", indices, true)
  local chosen = {}
  for k, i in ipairs(indices) do
    if list[i] == nil then check.fail(fn, "no sequence %s", tostring(i)) end
    chosen[k] = list[i]
  end
  opts = check.options(fn, opts, {value = "number"})
  return seq.pad(chosen, opts)
end

-- The row of each sequence's last step (lengths in 1..T).
local function last_rows(lengths, T, fn)
  local B = check_lengths(lengths, fn, T, 1)
  local idx = {}
  for b = 1, B do idx[b] = (lengths[b] - 1) * B + b end
  return idx, B
end

-- seq.last(out, lengths) -> B x F: each sequence's output at its own last step.
function seq.last(out, lengths)
  local fn = "loom.seq.last"
  check.matrix(fn, "out", out)
  local B = check_lengths(lengths, fn)
  local idx = last_rows(lengths, steps_of(out, B, fn), fn)
  return out:index_rows(idx)
end

-- seq.last_backward(dlast, lengths, T) -> T*B x F: dlast placed at each last step, zeros
-- elsewhere (the gradient of seq.last).
function seq.last_backward(dlast, lengths, T)
  local fn = "loom.seq.last_backward"
  check.matrix(fn, "dlast", dlast)
  T = check.integer(fn, "T", T, 1)
  local idx, B = last_rows(lengths, T, fn)
  if dlast:rows() ~= B then check.fail(fn, "dlast has %d rows for %d sequences", dlast:rows(), B) end
  local F = dlast:cols()
  local d = loom.zeros(T * B, F, {dtype = dlast:dtype()})
  for b = 1, B do d:slice(idx[b], idx[b], 1, F):copy_(dlast:slice(b, b, 1, F)) end
  return d
end

-- Row-wise log-softmax of logits and the softmax (N x C each).
local function log_softmax(logits)
  local z = logits - logits:max(2)
  local e = z:map("exp")
  local s = e:sum(2)
  return z - s:map("log"), e / s
end

local function class_of(targets, i, C, fn)
  local y = targets:get(i, 1)
  if not math.tointeger(y) or y < 1 or y > C then
    check.fail(fn, "target %d is %s, expected a class id in 1..%d", i, tostring(y), C)
  end
  return math.tointeger(y)
end

-- seq.cross_entropy(logits, targets, lengths [, {reduction = "mean"}]) -> loss, dlogits
-- Per-step cross-entropy for taggers. logits: T*B x C; targets: T*B x 1 class ids (1-based;
-- a T x B id matrix is accepted too); only steps within each sequence's length count, the
-- mean is over those steps and dlogits is zero on padding. With every length 0 the mean
-- has no steps to average: an error (the sum is 0).
function seq.cross_entropy(logits, targets, lengths, opts)
  local fn = "loom.seq.cross_entropy"
  check.matrix(fn, "logits", logits)
  check.matrix(fn, "targets", targets)
  local B = check_lengths(lengths, fn)
  local T = steps_of(logits, B, fn)
  check_lengths(lengths, fn, T)
  opts = check.options(fn, opts, {reduction = "string"})
  local N, C = logits:rows(), logits:cols()
  if targets:rows() == T and targets:cols() == B and B > 1 then targets = targets:copy():reshape(N, 1) end
  if targets:rows() ~= N or targets:cols() ~= 1 then
    local r, c = targets:shape()
    check.fail(fn, "targets must be %dx1 (or %dx%d), got %dx%d", N, T, B, r, c)
  end
  if opts.reduction ~= nil and opts.reduction ~= "mean" and opts.reduction ~= "sum" then
    check.fail(fn, "reduction must be \"mean\" or \"sum\", got %s", check.shown(opts.reduction))
  end
  local mean = opts.reduction ~= "sum"
  if mean then
    local steps = 0
    for b = 1, B do steps = steps + lengths[b] end
    if steps == 0 then check.fail(fn, "every length is 0: no step to average over") end
  end
  local logp, p = log_softmax(logits)
  local mask = seq.mask(lengths, T)
  local count, loss = 0, 0
  for b = 1, B do
    for t = 1, lengths[b] do
      local i = (t - 1) * B + b
      local y = class_of(targets, i, C, fn)
      loss = loss - logp:get(i, y)
      p:set(i, y, p:get(i, y) - 1)
      count = count + 1
    end
  end
  local scale = mean and 1 / count or 1
  local d = p:mul(mask)
  d:mul_(scale)
  return loss * scale, d
end

-- seq.last_cross_entropy(logits, targets, lengths) -> loss, dlogits
-- Sequence classification on the last step: logits T*B x C (one row per step, e.g. a
-- linear layer over the recurrent output), targets B x 1 class ids; only each sequence's
-- last step counts (mean over B); dlogits is T*B x C, zero except at the last steps.
function seq.last_cross_entropy(logits, targets, lengths)
  local fn = "loom.seq.last_cross_entropy"
  check.matrix(fn, "logits", logits)
  check.matrix(fn, "targets", targets)
  local B = check_lengths(lengths, fn)
  local T = steps_of(logits, B, fn)
  if targets:rows() ~= B or targets:cols() ~= 1 then
    local r, c = targets:shape()
    check.fail(fn, "targets must be %dx1, got %dx%d", B, r, c)
  end
  local last = logits:index_rows((last_rows(lengths, T, fn)))
  local logp, p = log_softmax(last)
  local loss = 0
  for b = 1, B do
    local y = class_of(targets, b, last:cols(), fn)
    loss = loss - logp:get(b, y)
    p:set(b, y, p:get(b, y) - 1)
  end
  p:mul_(1 / B)
  return loss / B, seq.last_backward(p, lengths, T)
end

return seq
