-- test_hostile.lua: the API driven with hostile Lua values: option tables and lists whose
-- metamethods (__index, __len) and user callbacks release a matrix, or the matrix a view's
-- storage belongs to, in the middle of a call. Each case once read freed memory (ASan
-- reported them, issue 13 item 3); now each raises a clear error or finishes on storage
-- that is still alive. Runs in the normal and the sanitizer suites. Not a random fuzzer:
-- the same calls every run.
local loom = require "loom"
local nn = loom.nn

-- A table whose every field read first runs `act` (once), then answers from `fields`.
local function hostile(fields, act)
  local done = false
  return setmetatable({}, {__index = function(_, k)
    if not done then done = true; act() end
    return fields[k]
  end})
end

-- A list of `values` whose first element read runs `act`.
local function hostile_list(values, act)
  local done = false
  return setmetatable({}, {
    __len = function() return #values end,
    __index = function(_, k)
      if not done then done = true; act() end
      return values[k]
    end})
end

-- A parent and a view of it; closing the parent frees the view's storage.
local function parent_and_view(r, c)
  local P = loom.randn(r, c)
  return P, P:slice(1, r, 1, c)
end

test("apply: the function closes the view's parent", function()
  local P, V = parent_and_view(3, 2)
  checkerror("matrix:apply: the matrix was released during the call", V.apply, V,
    function(v) P:close(); return v end)
end)

test("apply: the function closes the matrix itself (no truncated result)", function()
  local A = loom.randn(3, 3)
  local calls = 0
  checkerror("matrix:apply: the matrix was released during the call", A.apply, A,
    function(v) calls = calls + 1; if calls == 2 then A:close() end; return v end)
  equal(calls, 2, "stops at the call that closed it")
end)

test("index_rows: the list's __index closes the parent", function()
  local P, V = parent_and_view(4, 3)
  local list = hostile_list({1, 2, 3}, function() P:close() end)
  checkerror("matrix:index_rows: the matrix was released during the call", V.index_rows, V, list)
  -- the output closed by the list
  local A = loom.randn(4, 3)
  local out = loom.zeros(2, 3)
  checkerror("matrix:index_rows: the output was released during the call", A.index_rows, A,
    hostile_list({1, 2}, function() out:close() end), out)
  -- a list that is only read: the same rows as a plain list
  local B = loom.randn(5, 2)
  check(B:index_rows(hostile_list({5, 1}, function() end)):allclose(B:index_rows{5, 1}, 0, 0),
    "a harmless metatable reads like a table")
end)

test("vcat and hcat: a list item's __index closes another item's parent", function()
  local P, V = parent_and_view(2, 2)
  local list = setmetatable({}, {__len = function() return 2 end, __index = function(_, k)
    if k == 2 then P:close() end
    return k == 1 and V or loom.ones(1, 2)
  end})
  local ok, err = pcall(loom.vcat, list)
  check(not ok and (err:find("released") ~= nil), "vcat raises: %s", tostring(err))
end)

test("loom.save: the options' __index closes a tensor's parent", function()
  local dir = os.tmpname()
  local P, V = parent_and_view(3, 3)
  local opts = hostile({}, function() P:close() end)
  checkerror("loom.save: a tensor was released during the call", loom.save, dir .. ".st",
    {v = V}, {note = "x"}, opts)
  -- the metadata changed by the options' metamethod: no borrowed string is lost
  local meta = {a = "1"}
  local W = loom.randn(2, 2)
  local opts2 = hostile({}, function() meta.a = nil; meta.b = string.rep("z", 100); collectgarbage() end)
  check(loom.save(dir .. ".st", {w = W}, meta, opts2), "saves")
  local t, m = loom.load(dir .. ".st")
  check(t.w:allclose(W, 0, 0) and m.b == string.rep("z", 100), "what the table held after the options")
  os.remove(dir .. ".st")
  os.remove(dir)
end)

test("matmul_: the options close an operand", function()
  local C, A = loom.zeros(2, 2), loom.randn(2, 2)
  local P, V = parent_and_view(2, 2)
  checkerror("matrix:matmul_: B was released during the call", C.matmul_, C, A, V,
    hostile({alpha = 2}, function() P:close() end))
  checkerror("matrix:matmul_: alpha must be a number, got string", C.matmul_, C, A, A, {alpha = "2"})
end)

test("recurrent forward and backward: the options close the input or a state", function()
  for _, make in ipairs{nn.RNN, nn.LSTM, nn.GRU} do
    local m = make(2, 3)
    local name = tostring(m):match("^(%a+)%(")
    local P, V = parent_and_view(4, 2)
    checkerror("nn." .. name .. ":forward: the input was released during the call", m.forward, m, V,
      hostile({batch = 2}, function() P:close() end))
    local H, h0 = parent_and_view(2, 3)
    checkerror("nn." .. name .. ":forward: h0 was released during the call", m.forward, m,
      loom.randn(4, 2), hostile({batch = 2, h0 = h0}, function() H:close() end))
    m:forward(loom.randn(4, 2), {batch = 2})
    local D, dout = parent_and_view(4, 3)
    checkerror("nn." .. name .. ":backward: dout was released during the call", m.backward, m, dout,
      hostile({}, function() D:close() end))
  end
  local lstm = nn.LSTM(2, 3)
  local P, V = parent_and_view(6, 2)
  checkerror("nn.LSTM:forward: the input was released during the call", lstm.forward, lstm, V,
    hostile({lengths = {3, 3}}, function() P:close() end))
  -- lengths as a hostile list
  checkerror("nn.LSTM:forward: the input was released during the call", lstm.forward, lstm,
    select(2, (function() local Q, W = parent_and_view(6, 2); P = Q; return Q, W end)()),
    {lengths = hostile_list({3, 3}, function() P:close() end)})
end)

test("cells: the options close the input or the state", function()
  local cell = nn.LSTMCell(2, 3)
  local P, V = parent_and_view(2, 2)
  checkerror("nn.LSTMCell:forward: the input was released during the call", cell.forward, cell, V,
    hostile({}, function() P:close() end))
  local H, h = parent_and_view(2, 3)
  checkerror("nn.LSTMCell:forward: h was released during the call", cell.forward, cell,
    loom.randn(2, 2), hostile({h = h}, function() H:close() end))
  local x = loom.randn(2, 2)
  cell:forward(x)
  local D, dh = parent_and_view(2, 3)
  checkerror("nn.LSTMCell:backward: dh was released during the call", cell.backward, cell, x, dh,
    hostile({}, function() D:close() end))
end)

test("linalg.lstsq and audio features: the options close the data", function()
  local P, X = parent_and_view(6, 2)
  local y = loom.randn(6, 1)
  local core = require "loom.core"
  checkerror("linalg.lstsq: X was released during the call", core.linalg.lstsq, X, y, "qr",
    hostile({}, function() P:close() end))
  local S, s = parent_and_view(800, 1)
  local fields = {sample_rate = 8000, frame_length = 25, frame_shift = 10, preemphasis = 0.97,
    remove_dc = true, window = "povey", blackman_coeff = 0.42, snip_edges = true,
    round_to_power_of_two = true, dither = 0, energy_floor = 0, raw_energy = true}
  checkerror("loom.audio.spectrogram: the signal was released during the call", core.audio.features,
    "spectrogram", s, 1, hostile(fields, function() S:close() end))
end)

test("read_csv: the options close nothing they hold, and raise before reading", function()
  checkerror("loom.read_csv: max_bytes must be an integer, got string", loom.read_csv, "/nonexistent",
    {max_bytes = "1"})
end)

test("a checkpoint whose loom.rng is all zeros is refused (issue 13, item 9)", function()
  local path = os.tmpname()
  local zero = string.rep("00", 32)
  check(loom.save(path, {["model.w"] = loom.ones(1, 1)}, {["loom.format"] = "loom.checkpoint/1", ["loom.rng"] = zero}),
    "write the hostile file")
  local before = loom.rng_state()
  local info, err = loom.load_checkpoint(path)
  equal(info, nil, "no checkpoint")
  equal(err, path .. ": bad loom.rng: an all-zero generator state", "message")
  equal(loom.rng_state(), before, "the generator is untouched")
  os.remove(path)
end)

test("a finalizer that closes a parent during an allocation frees nothing under the call", function()
  -- __gc metamethods run during any allocation, in the middle of a call that holds pointers
  -- into the storage: close() there only marks the matrix, the collector frees it later.
  local P = loom.randn(300, 300)
  local V = P:slice(1, 300, 1, 300)
  local want = V:copy()
  for _ = 1, 50 do setmetatable({}, {__gc = function() P:close() end}) end
  local got = V:copy() -- the 720 KB result steps the collector, which runs the finalizers
  collectgarbage()
  check(got:allclose(want, 0, 0), "the copy read intact storage")
  checkerror("attempt to use a released matrix", P.rows, P)
  checkerror("attempt to use a released matrix", V.rows, V)
  -- and the storage is freed once the matrix is collected
  collectgarbage(); collectgarbage()
  local live = loom.alloc_stats().live_blocks
  P, V = nil, nil
  collectgarbage(); collectgarbage()
  equal(loom.alloc_stats().live_blocks, live - 1, "freed with the userdata")
  -- a close outside finalizers still frees at once
  local A = loom.zeros(10, 10)
  live = loom.alloc_stats().live_blocks
  A:close()
  equal(loom.alloc_stats().live_blocks, live - 1, "close frees now")
end)
