-- test_data.lua: loom.data: shuffled index batches, the loader's reused buffers, the
-- deterministic hash split and the bounds on their sizes. Not datasets (loom.data.path).
local loom = require "loom"
local data = loom.data

test("data.batches: every index once per epoch, shuffled by the seed", function()
  loom.seed(3)
  local plan = data.batches(10, 4)
  equal(plan.count, 3, "batch count")
  local seen, sizes = {}, {}
  for b, idx in plan:epoch() do
    sizes[#sizes + 1] = #idx
    for _, i in ipairs(idx) do seen[i] = (seen[i] or 0) + 1 end
    equal(b, #sizes, "batch number")
  end
  equal(table.concat(sizes, ","), "4,4,2", "batch sizes")
  for i = 1, 10 do equal(seen[i], 1, "index " .. i) end
  loom.seed(3)
  local again = data.batches(10, 4)
  local _, i1 = again:epoch()()
  loom.seed(3)
  local _, i2 = data.batches(10, 4):epoch()()
  equal(table.concat(i1, ","), table.concat(i2, ","), "same seed, same order")
  local fixed = data.batches(5, 2, {shuffle = false, drop_last = true})
  local out = {}
  for _, idx in fixed:epoch() do out[#out + 1] = table.concat(idx, ",") end
  equal(table.concat(out, " "), "1,2 3,4", "in order, last partial batch dropped")
  checkerror("data.batches: batch_size must be an integer >= 1", data.batches, 5, 0)
end)

test("data.loader: gathers rows into reused buffers without allocating", function()
  local X = loom.matrix{{1, 10}, {2, 20}, {3, 30}, {4, 40}, {5, 50}}
  local y = loom.matrix{1, 2, 3, 4, 5}
  local loader = data.loader(X, y, 2)
  equal(#loader, 3, "#loader")
  for _ in loader:epoch() do end
  local before = loom.alloc_stats().allocations
  local total = 0
  for _ = 1, 3 do
    for xb, yb in loader:epoch() do
      for i = 1, xb:rows() do
        equal(xb:get(i, 2), 10 * yb:get(i, 1), "rows stay paired")
        total = total + 1
      end
    end
  end
  equal(total, 15, "rows seen")
  equal(loom.alloc_stats().allocations - before, 0, "allocations after warm-up")
  checkerror("data.loader: X has 5 rows but y has 2", data.loader, X, loom.zeros(2, 1), 2)
end)

test("data.split: deterministic hash split", function()
  local train, test_idx = data.split(1797, {test = 0.2})
  equal(#train + #test_idx, 1797, "every row once")
  close(#test_idx / 1797, 0.2, 0.03, "about 20% test")
  local again_train = data.split(1797, {test = 0.2})
  equal(table.concat(again_train, ","), table.concat(train, ","), "same split every time")
  equal(data.hash_index(1), 0x340ca71c, "FNV-1a of \"1\"")
end)

test("data.shuffle: a permutation from the seeded generator, in place", function()
  loom.seed(11)
  local t = {}
  for i = 1, 50 do t[i] = i end
  equal(data.shuffle(t), t, "shuffles in place and returns the list")
  local seen, moved = {}, 0
  for i, v in ipairs(t) do
    seen[v] = true
    if v ~= i then moved = moved + 1 end
  end
  for i = 1, 50 do check(seen[i], "value %d kept", i) end
  check(moved > 25, "only %d of 50 moved", moved)
  loom.seed(11)
  local u = {}
  for i = 1, 50 do u[i] = i end
  data.shuffle(u)
  equal(table.concat(u, ","), table.concat(t, ","), "same seed, same permutation")
  equal(#data.shuffle({}), 0, "the empty list")
  checkerror("data.shuffle: t must be a list, got number", data.shuffle, 5)
end)

test("data.split: the incremental hashes are hash_index's, and the test share is honoured", function()
  local train, test_idx = data.split(20000, {test = 0.3})
  local in_test = {}
  for _, i in ipairs(test_idx) do in_test[i] = true end
  for i = 1, 20000 do
    equal(in_test[i] == true, data.hash_index(i) % 100 < 30, "row " .. i)
  end
  equal(#train + #test_idx, 20000, "every row once")
  local all_train, none = data.split(100, {test = 0})
  equal(#all_train, 100, "test = 0 keeps every row for training")
  equal(#none, 0, "test = 0")
  local none_train = data.split(100, {test = 1})
  equal(#none_train, 0, "test = 1 keeps none for training")
  local a, b = data.split(0)
  equal(#a + #b, 0, "n = 0")
end)

test("data.split and data.batches: sizes are bounded and options checked", function()
  local t0 = os.clock()
  checkerror("data.split: n = 9223372036854775807 is beyond data.MAX_N = 33554432 rows", data.split,
    math.maxinteger)
  checkerror("data.batches: n = 33554433 is beyond data.MAX_N = 33554432 rows", data.batches, data.MAX_N + 1, 10)
  check(os.clock() - t0 < 1, "refusing took %.1f s", os.clock() - t0)
  checkerror("data.split: n must be an integer >= 0", data.split, 1.5)
  checkerror("data.split: test must be a finite number in 0..1, got 2", data.split, 10, {test = 2})
  checkerror("data.split: test must be a finite number in 0..1, got nan", data.split, 10, {test = 0 / 0})
  checkerror("data.split: unknown option 'tst' (did you mean 'test'?)", data.split, 10, {tst = 0.1})
  checkerror("data.batches: unknown option 'shufle' (did you mean 'shuffle'?)", data.batches, 10, 2, {shufle = false})
  checkerror("data.batches: n must be an integer >= 0", data.batches, -1, 2)
  checkerror("data.loader: expected matrices X [, y]", data.loader, {}, nil, 2)
  checkerror("data.loader: batch_size must be an integer >= 1", data.loader, loom.zeros(3, 1), nil, 0)
  checkerror("data.Loader:epoch: expected a loader (call it as loader:epoch()), got nil",
    data.loader(loom.zeros(3, 1), nil, 2).epoch)
  checkerror("data.Batches:epoch: expected a batch plan (call it as plan:epoch()), got nil",
    data.batches(3, 2).epoch)
end)

test("data.loader without y, and a partial last batch in its own buffer", function()
  local X = loom.matrix{{1}, {2}, {3}, {4}, {5}}
  local loader = data.loader(X, nil, 2, {shuffle = false})
  local seen, buffers = {}, {}
  for xb, yb, idx in loader:epoch() do
    equal(yb, nil, "no y")
    buffers[#buffers + 1] = xb
    for i = 1, xb:rows() do seen[#seen + 1] = xb:get(i, 1) .. "@" .. idx[i] end
  end
  equal(table.concat(seen, " "), "1.0@1 2.0@2 3.0@3 4.0@4 5.0@5", "rows in order with their indices")
  equal(buffers[1], buffers[2], "full batches share one buffer")
  equal(buffers[3]:rows(), 1, "the last batch has its own 1-row buffer")
end)
