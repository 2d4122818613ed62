-- test_seq.lua: loom.seq: time-major padding and its inverse, masks, length sorting and
-- bucketing, and the losses over padded batches, against plain-Lua references; the bounds
-- every length must keep. Not the recurrent layers that read these batches (test_rnn).
local loom = require "loom"
local seq = loom.seq

local function column(m)
  return table.concat(m:t():totable()[1], ",")
end

test("seq.pad: time-major rows, the padding value, matrices of several features", function()
  local X, lengths = seq.pad({{1, 2}, {3}}, {value = -1})
  equal(table.concat(lengths, ","), "2,1", "lengths")
  equal(column(X), "1.0,3.0,2.0,-1.0", "row (t-1)*B + b, -1 past the end")
  local a = loom.matrix{{1, 10}, {2, 20}, {3, 30}}
  local b = loom.matrix{{4, 40}}
  local Y = seq.pad{a, b}
  equal(Y:rows(), 6, "T*B rows")
  equal(Y:get(3, 2), 20, "step 2 of sequence 1, feature 2")
  equal(Y:get(4, 1), 0, "padding is 0 by default")
  checkerror("loom.seq.pad: sequence 2 has a string at step 1, expected a number", seq.pad, {{1}, {"x"}})
  checkerror("loom.seq.pad: sequence 1 is a number, expected a matrix or a list of numbers", seq.pad, {5})
  checkerror("loom.seq.pad: sequence 2 is empty", seq.pad, {{1}, {}})
  checkerror("loom.seq.pad: unknown option 'valeu' (did you mean 'value'?)", seq.pad, {{1}}, {valeu = 0})
  checkerror("loom.seq.pad: expected a non-empty list of sequences", seq.pad, loom.zeros(2, 1))
end)

test("seq.unpad inverts pad, and gives a 0-row matrix for a length of 0", function()
  local list = {loom.matrix{{1, 2}, {3, 4}}, loom.matrix{{5, 6}}, loom.matrix{{7, 8}, {9, 10}}}
  local X, lengths = seq.pad(list)
  local back = seq.unpad(X, lengths)
  for b = 1, 3 do check(back[b]:allclose(list[b], 0, 0), "sequence %d back", b) end
  local parts = seq.unpad(loom.matrix{{1}, {2}, {3}, {4}}, {2, 0})
  equal(parts[1]:rows(), 2, "first keeps both steps")
  equal(parts[2]:rows(), 0, "length 0: no rows")
  equal(parts[2]:cols(), 1, "length 0: the features stay")
  checkerror("loom.seq.unpad: lengths[1] = 3 is outside 0..2", seq.unpad, loom.zeros(4, 1), {3, 1})
  checkerror("loom.seq.unpad: 5 rows do not hold whole steps of a batch of 2", seq.unpad, loom.zeros(5, 1), {1, 1})
  checkerror("loom.seq.unpad: X must be a matrix, got table", seq.unpad, {1, 2}, {1})
end)

test("seq.mask: 1 on real steps; lengths beyond T, negative or fractional are errors", function()
  equal(column(seq.mask({2, 0, 1}, 2)), "1.0,0.0,1.0,1.0,0.0,0.0", "mask")
  equal(seq.mask({0}, 0):rows(), 0, "T = 0")
  checkerror("loom.seq.mask: lengths[2] = 4 is outside 0..3", seq.mask, {1, 4}, 3)
  checkerror("loom.seq.mask: lengths[1] = -1 is outside 0..3", seq.mask, {-1, 2}, 3)
  checkerror("loom.seq.mask: lengths[1] = 1.5 is outside 0..3", seq.mask, {1.5}, 3)
  checkerror("loom.seq.mask: lengths[1] = \"2\" is outside 0..3", seq.mask, {"2"}, 3)
  checkerror("loom.seq.mask: T must be an integer >= 0, got nil", seq.mask, {3, 2})
  checkerror("loom.seq.mask: T must be an integer >= 0, got -1", seq.mask, {0}, -1)
  checkerror("loom.seq.mask: expected a non-empty list of lengths, got an empty list", seq.mask, {}, 2)
  checkerror("loom.seq.mask: expected a non-empty list of lengths, got number", seq.mask, 3, 2)
end)

test("seq.sort_by_length: stable, either direction, sequences or lengths", function()
  local sorted, order = seq.sort_by_length({2, 3, 2, 1}, {descending = false})
  equal(table.concat(sorted, ","), "1,2,2,3", "ascending")
  equal(table.concat(order, ","), "4,1,3,2", "ties keep their order")
  local _, down = seq.sort_by_length({loom.zeros(2, 1), {1, 2, 3}, {1, 2}})
  equal(table.concat(down, ","), "2,1,3", "descending by default; matrices count rows")
  checkerror("loom.seq.sort_by_length: item 2 is a string, expected a sequence or a length",
    seq.sort_by_length, {1, "x"})
  checkerror("loom.seq.sort_by_length: option 'descending' must be a boolean, got string",
    seq.sort_by_length, {1}, {descending = "no"})
end)

test("seq.buckets without shuffle: sorted by length and cut in order; seq.batch pads one", function()
  local list = {{1, 2, 3}, {1}, {1, 2}, {1, 2, 3, 4}, {1}}
  local batches = seq.buckets(list, 2, {shuffle = false})
  local text = {}
  for k, b in ipairs(batches) do text[k] = table.concat(b, ",") end
  equal(table.concat(text, " "), "2,5 3,1 4", "buckets")
  local X, lengths = seq.batch(list, batches[2])
  equal(table.concat(lengths, ","), "2,3", "lengths of the bucket")
  equal(X:rows(), 6, "T*B rows")
  checkerror("loom.seq.batch: no sequence 9", seq.batch, list, {1, 9})
  checkerror("loom.seq.batch: indices must be a non-empty list, got an empty one", seq.batch, list, {})
  checkerror("loom.seq.buckets: batch_size must be an integer >= 1, got 0", seq.buckets, list, 0)
  checkerror("loom.seq.buckets: list must be a list, got nil", seq.buckets, nil, 2)
end)

test("seq.cross_entropy: sum reduction, T x B targets, no steps at all", function()
  loom.seed(4)
  local lengths = {2, 1}
  local logits = loom.randn(4, 3)
  local targets = loom.matrix{{1, 2}, {3, 1}} -- T x B: row t holds step t of every sequence
  local mean = seq.cross_entropy(logits, targets, lengths)
  local sum, d = seq.cross_entropy(logits, targets:copy():reshape(4, 1), lengths, {reduction = "sum"})
  close(sum, 3 * mean, 1e-12, "sum over the 3 real steps")
  equal(d:slice(4, 4, 1, 3):norm(), 0, "padding has no gradient")
  local zero, dz = seq.cross_entropy(logits, targets, {0, 0}, {reduction = "sum"})
  equal(zero, 0, "the sum over no steps")
  equal(dz:norm(), 0, "no gradient")
  checkerror("loom.seq.cross_entropy: every length is 0: no step to average over", seq.cross_entropy, logits,
    targets, {0, 0})
  checkerror("loom.seq.cross_entropy: lengths[1] = 3 is outside 0..2", seq.cross_entropy, logits, targets, {3, 1})
  checkerror("loom.seq.cross_entropy: reduction must be \"mean\" or \"sum\", got \"avg\"", seq.cross_entropy,
    logits, targets, lengths, {reduction = "avg"})
  checkerror("loom.seq.cross_entropy: targets must be 4x1 (or 2x2), got 3x1", seq.cross_entropy, logits,
    loom.ones(3, 1), lengths)
  checkerror("loom.seq.cross_entropy: logits must be a matrix, got nil", seq.cross_entropy, nil, targets, lengths)
end)

test("seq.last_cross_entropy: the loss at each last step, against a plain-Lua reference", function()
  loom.seed(5)
  local lengths = {1, 3}
  local logits = loom.randn(6, 2)
  local y = loom.matrix{2, 1}
  local loss, d = seq.last_cross_entropy(logits, y, lengths)
  local ref = 0
  for b, row in ipairs{1, 6} do -- last step of sequence 1 is row 1, of sequence 2 row (3-1)*2+2
    local l1, l2 = logits:get(row, 1), logits:get(row, 2)
    local lse = math.log(math.exp(l1) + math.exp(l2))
    ref = ref - (logits:get(row, y:get(b, 1)) - lse)
  end
  close(loss, ref / 2, 1e-12, "mean over the sequences")
  equal(d:slice(2, 5, 1, 2):norm(), 0, "only the last steps get a gradient")
  checkerror("loom.seq.last_cross_entropy: lengths[1] = 0 is outside 1..3", seq.last_cross_entropy, logits, y,
    {0, 3})
  checkerror("loom.seq.last_cross_entropy: targets must be 2x1, got 1x1", seq.last_cross_entropy, logits,
    loom.ones(1, 1), lengths)
  checkerror("loom.seq.last_backward: dlast has 1 rows for 2 sequences", seq.last_backward, loom.ones(1, 2),
    lengths, 3)
  checkerror("loom.seq.last_backward: T must be an integer >= 1, got nil", seq.last_backward, loom.ones(2, 2),
    lengths)
end)
