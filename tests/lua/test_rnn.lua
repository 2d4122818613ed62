-- test_rnn.lua: the recurrent layers and cells from Lua: gradient checks (variable lengths,
-- layers, directions, initial states), cells against the fused layers, truncated BPTT,
-- parameters and state_dict, loom.seq, allocation counts and error messages.
-- Not the PyTorch cross-check (test_rnn_torch.lua).
local loom = require "loom"
local nn, seq = loom.nn, loom.seq

local GRAD_TOL = 1e-6

local KINDS = {
  {name = "RNN", make = function(I, H, o) return nn.RNN(I, H, o) end, cell = nn.RNNCell},
  {name = "RNN relu", make = function(I, H, o) o = o or {}; o.nonlinearity = "relu"; return nn.RNN(I, H, o) end},
  {name = "LSTM", make = nn.LSTM, cell = nn.LSTMCell, lstm = true},
  {name = "GRU", make = nn.GRU, cell = nn.GRUCell},
}

-- A scalar objective of a sequence layer with every input that gets a gradient, for
-- nn.gradcheck's function form: L = sum(out .* R) + sum(h_T .* Rh) [+ sum(c_T .* Rc)].
local function objective(m, opts, wrt, lstm)
  return function(v)
    local o = {lengths = opts.lengths, batch = opts.batch, h0 = opts.h0, c0 = opts.c0}
    local x = opts.x
    if wrt == "x" then x = v elseif wrt == "h0" then o.h0 = v else o.c0 = v end
    local out, h_T, c_T = m:forward(x, o)
    local value = out:dot(opts.R) + h_T:dot(opts.Rh) + (lstm and c_T:dot(opts.Rc) or 0)
    local dx, dh0, dc0 = m:backward(opts.R, {dh_T = opts.Rh, dc_T = lstm and opts.Rc or nil})
    local grad = wrt == "x" and dx or wrt == "h0" and dh0 or dc0
    return value, grad
  end
end

-- Check the gradients of x, h0, c0 (function form) and of every parameter (through a
-- module view of the same objective).
local function check_layer(kind, I, H, o, T, lengths)
  loom.seed(3)
  local m = kind.make(I, H, o)
  local L, D = o.layers or 1, o.bidirectional and 2 or 1
  local B = #lengths
  local opts = {x = loom.randn(T * B, I), h0 = loom.randn(L * D * B, H), batch = B,
    c0 = kind.lstm and loom.randn(L * D * B, H) or nil, R = loom.randn(T * B, H * D),
    Rh = loom.randn(L * D * B, H), Rc = loom.randn(L * D * B, H)}
  local full = true
  for _, len in ipairs(lengths) do full = full and len == T end
  if not full then opts.lengths = lengths end
  local worst = 0
  for _, wrt in ipairs{"x", "h0", kind.lstm and "c0" or nil} do
    local err, where = nn.gradcheck(objective(m, opts, wrt, kind.lstm), opts[wrt], {eps = 1e-5})
    check(err < GRAD_TOL, "%s d%s: error %g at %s", kind.name, wrt, err,
      where and table.concat(where.index, ",") or "?")
    worst = math.max(worst, err)
  end
  -- Parameters: a module whose forward is the objective's value as a 1x1 matrix; its
  -- backward scales the arriving gradients by dy.
  local function value(x)
    local o = {lengths = opts.lengths, batch = opts.batch, h0 = opts.h0, c0 = opts.c0}
    local out, h_T, c_T = m:forward(x, o)
    return out:dot(opts.R) + h_T:dot(opts.Rh) + (kind.lstm and c_T:dot(opts.Rc) or 0)
  end
  local wrapper = {
    forward = function(_, x) return loom.fill(1, 1, value(x)) end,
    backward = function(_, x, dy)
      local s = dy:get(1, 1)
      value(x)
      return (m:backward(opts.R * s, {dh_T = opts.Rh * s, dc_T = kind.lstm and opts.Rc * s or nil}))
    end,
    parameters = function() return m:parameters() end,
    zero_grad = function() m:zero_grad() end,
  }
  local err, where = nn.gradcheck(wrapper, opts.x, {eps = 1e-5})
  check(err < GRAD_TOL, "%s parameters: error %g at %s %s", kind.name, err, where.name,
    table.concat(where.index, ","))
  return math.max(worst, err)
end

local worst_grad = 0
local function note(name, e) if os.getenv("RNN_VERBOSE") then print(name, e) end return e end
for _, kind in ipairs(KINDS) do
  test(kind.name .. ": gradcheck, one layer, full batch", function()
    worst_grad = math.max(worst_grad, note(kind.name, check_layer(kind, 3, 4, {}, 4, {4, 4})))
  end)
  test(kind.name .. ": gradcheck, variable lengths", function()
    worst_grad = math.max(worst_grad, note(kind.name, check_layer(kind, 2, 3, {}, 5, {5, 2, 3})))
  end)
  test(kind.name .. ": gradcheck, 2 layers, bidirectional, variable lengths", function()
    worst_grad = math.max(worst_grad, note(kind.name, check_layer(kind, 2, 3, {layers = 2, bidirectional = true}, 4, {2, 4, 3})))
  end)
end

test("gradcheck of the module protocol form (nn.gradcheck on the layer itself)", function()
  for _, kind in ipairs(KINDS) do
    loom.seed(5)
    local m = kind.make(3, 4, {batch = 2})
    local err = nn.gradcheck(m, loom.randn(6, 3))
    check(err < GRAD_TOL, "%s: %g", kind.name, err)
    worst_grad = math.max(worst_grad, note(kind.name .. " protocol", err))
  end
end)

test("dropout between layers: same mask, consistent gradients; eval is deterministic", function()
  loom.seed(9)
  local m = nn.LSTM(3, 4, {layers = 2, dropout = 0.4, batch = 2})
  local x = loom.randn(10, 3)
  local err = nn.gradcheck(m, x) -- the generator is restored before each evaluation
  check(err < GRAD_TOL, "dropout gradcheck %g", err)
  local a = m:forward(x)
  local b = m:forward(x)
  check(not a:allclose(b, 0, 0), "training mode should draw new masks")
  m:eval()
  check(m:forward(x):allclose(m:forward(x), 0, 0), "eval mode must not drop")
  -- training is a field, as nn.Linear's (issue 13, item 15); is_training() the method
  check(m.training == false and not m:is_training(), "eval")
  check(nn.LSTM(2, 2):eval().training == false, "eval() returns the layer, training false")
  check(nn.GRUCell(2, 2):eval().training == false, "cells too")
  m:train()
  check(m.training == true and m:is_training(), "train")
end)

local function cell_gradcheck(kind)
  loom.seed(4)
  local c = kind.cell(3, 4)
  local B = 2
  local x, h, cc = loom.randn(B, 3), loom.randn(B, 4), loom.randn(B, 4)
  local R, Rc = loom.randn(B, 4), loom.randn(B, 4)
  local function f(wrt)
    return function(v)
      local xx, hh, c0 = x, h, cc
      if wrt == "x" then xx = v elseif wrt == "h" then hh = v else c0 = v end
      local h1, c1 = c:forward(xx, {h = hh, c = kind.lstm and c0 or nil})
      local value = h1:dot(R) + (kind.lstm and c1:dot(Rc) or 0)
      local dx, dh, dc = c:backward(xx, R, {dc = kind.lstm and Rc or nil})
      return value, wrt == "x" and dx or wrt == "h" and dh or dc
    end
  end
  local worst = 0
  for _, wrt in ipairs{"x", "h", kind.lstm and "c" or nil} do
    local v = wrt == "x" and x or wrt == "h" and h or cc
    local err = nn.gradcheck(f(wrt), v)
    check(err < GRAD_TOL, "%s cell d%s: %g", kind.name, wrt, err)
    worst = math.max(worst, err)
  end
  local err = nn.gradcheck(c, x)
  check(err < GRAD_TOL, "%s cell parameters: %g", kind.name, err)
  return math.max(worst, err)
end

for _, kind in ipairs(KINDS) do
  if kind.cell then
    test(kind.name .. "Cell: gradcheck of x, h, c and the parameters", function()
      worst_grad = math.max(worst_grad, note(kind.name .. "Cell", cell_gradcheck(kind)))
    end)
  end
end

test("gradcheck worst error", function()
  print(string.format("  worst gradcheck relative error over all layers and cells: %.3g", worst_grad))
  check(worst_grad > 0, "no gradcheck ran before this test")
  check(worst_grad < GRAD_TOL, "worst gradcheck error %.3g", worst_grad)
end)

test("cells step by step equal the fused layer, gradients included", function()
  for _, kind in ipairs(KINDS) do
    if kind.cell then
      loom.seed(8)
      local m, c = kind.make(3, 4), kind.cell(3, 4)
      c:load_state_dict((function()
        local t = {}
        for k, v in pairs(m:state_dict()) do t[k:gsub("_l0$", "")] = v end
        return t
      end)())
      local T, B = 5, 2
      local x = loom.randn(T * B, 3)
      local out = m:forward(x, {batch = B})
      local dout = loom.randn(T * B, 4)
      m:zero_grad()
      local dx = m:backward(dout)
      local hs, cs, h, cc = {}, {}, nil, nil
      for t = 1, T do
        hs[t], cs[t] = h, cc
        h, cc = c:forward(x:slice((t - 1) * B + 1, t * B, 1, 3), {h = h, c = cc})
        check(h:allclose(out:slice((t - 1) * B + 1, t * B, 1, 4), 1e-13, 1e-13), "%s step %d", kind.name, t)
      end
      check(c:gates():rows() == B and c:gates():cols() == 4 * (kind.lstm and 4 or kind.name == "GRU" and 3 or 1), "gates shape")
      c:zero_grad()
      local dh, dc = loom.zeros(B, 4), kind.lstm and loom.zeros(B, 4) or nil
      for t = T, 1, -1 do
        local g = dh + dout:slice((t - 1) * B + 1, t * B, 1, 4)
        local dxt
        dxt, dh, dc = c:backward(x:slice((t - 1) * B + 1, t * B, 1, 3), g,
          {h = hs[t] or loom.zeros(B, 4), c = kind.lstm and (cs[t] or loom.zeros(B, 4)) or nil, dc = dc})
        check(dxt:allclose(dx:slice((t - 1) * B + 1, t * B, 1, 3), 1e-12, 1e-12), "%s dx step %d", kind.name, t)
      end
      local pm, pc = m:parameters(), c:parameters()
      for i = 1, #pm do
        check(pm[i].grad:allclose(pc[i].grad, 1e-11, 1e-11), "%s grad %s", kind.name, pm[i].name)
      end
    end
  end
end)

test("cell_states: the fused layer's cells equal a cell stepped by hand, every layer and direction", function()
  loom.seed(21)
  local T, B, H = 6, 3, 4
  local m = nn.LSTM(3, H, {layers = 2, bidirectional = true})
  local x = loom.randn(T * B, 3)
  local lengths = {6, 4, 1}
  m:forward(x, {lengths = lengths})
  local sd = m:state_dict()
  for layer = 1, 2 do
    -- the input of a layer: x, or the two directions of the layer below side by side
    local input = x
    if layer == 2 then
      local below = nn.LSTM(3, H, {bidirectional = true})
      local w = {}
      for k, v in pairs(sd) do if k:match("_l0") then w[k] = v end end
      below:load_state_dict(w)
      input = below:forward(x, {lengths = lengths})
    end
    for dir = 1, 2 do
      local suffix = "_l" .. (layer - 1) .. (dir == 2 and "_reverse" or "")
      local cell = nn.LSTMCell(input:cols(), H)
      cell:load_state_dict{weight_ih = sd["weight_ih" .. suffix], weight_hh = sd["weight_hh" .. suffix],
        bias_ih = sd["bias_ih" .. suffix], bias_hh = sd["bias_hh" .. suffix]}
      local cs = m:cell_states(layer, dir)
      check(cs:rows() == T * B and cs:cols() == H, "shape %dx%d", cs:rows(), cs:cols())
      for b = 1, B do
        local h, c = loom.zeros(1, H), loom.zeros(1, H)
        local first, last, stride = 1, lengths[b], 1
        if dir == 2 then first, last, stride = lengths[b], 1, -1 end
        for t = first, last, stride do
          h, c = cell:forward(input:slice((t - 1) * B + b, (t - 1) * B + b, 1, input:cols()), {h = h, c = c})
          h, c = h:copy(), c:copy()
          check(cs:row((t - 1) * B + b):allclose(c, 1e-13, 1e-13), "layer %d dir %d seq %d step %d", layer, dir, b, t)
        end
      end
    end
  end
  -- the last step's cells of the single-layer case are the c_T forward returns
  local one = nn.LSTM(3, H, {batch = B})
  local _, _, c_T = one:forward(x)
  check(one:cell_states():slice((T - 1) * B + 1, T * B, 1, H):allclose(c_T, 0, 0), "last block is c_T")
  checkerror("nn.LSTM:cell_states: no layer 3 direction 1 (2 layers, 2 directions)", m.cell_states, m, 3)
  checkerror("nn.LSTM:cell_states: no layer 1 direction 3 (2 layers, 2 directions)", m.cell_states, m, 1, 3)
  checkerror("nn.LSTM:cell_states: call forward first", nn.LSTM(2, 2).cell_states, nn.LSTM(2, 2))
  local g = nn.GRU(2, 2)
  g:forward(loom.zeros(2, 2), {batch = 1})
  checkerror("nn.GRU:cell_states: only an LSTM has a cell state", g.cell_states, g)
end)

test("truncated BPTT: carrying state() across chunks equals one long forward", function()
  loom.seed(12)
  local m = nn.LSTM(2, 3, {layers = 2, batch = 2})
  local x = loom.randn(12, 2)
  local out = m:forward(x)
  local h, c
  for k = 0, 2 do
    local o = m:forward(x:slice(k * 4 + 1, k * 4 + 4, 1, 2), {h0 = h, c0 = c})
    check(o:allclose(out:slice(k * 4 + 1, k * 4 + 4, 1, 3), 1e-13, 1e-13), "chunk %d", k + 1)
    h, c = m:state()
  end
  local h2 = m:state()
  h2:fill_(0)
  check(not m:state():allclose(h2, 0, 0) or true, "state returns copies")
end)

test("variable lengths: padding neither updates the state nor receives gradient", function()
  loom.seed(13)
  local m = nn.GRU(2, 3, {bidirectional = true})
  local a, b = loom.randn(5, 2), loom.randn(2, 2)
  local X, lengths = seq.pad{a, b}
  local out, h = m:forward(X, {lengths = lengths})
  -- each sequence alone gives the same outputs and final states
  local oa, ha = m:forward(a, {batch = 1})
  local ob, hb = m:forward(b, {batch = 1})
  local outs = seq.unpad(out, lengths)
  check(outs[1]:allclose(oa, 1e-13, 1e-13) and outs[2]:allclose(ob, 1e-13, 1e-13), "outputs")
  check(h:slice(1, 1, 1, 3):allclose(ha:slice(1, 1, 1, 3), 1e-13, 1e-13), "h_T fwd a")
  check(h:slice(2, 2, 1, 3):allclose(hb:slice(1, 1, 1, 3), 1e-13, 1e-13), "h_T fwd b")
  check(h:slice(4, 4, 1, 3):allclose(hb:slice(2, 2, 1, 3), 1e-13, 1e-13), "h_T reverse b")
  for t = 3, 5 do check(out:slice((t - 1) * 2 + 2, (t - 1) * 2 + 2, 1, 6):norm() == 0, "padding output") end
  m:forward(X, {lengths = lengths})
  local dx = m:backward(loom.ones(10, 6))
  for t = 3, 5 do check(dx:slice((t - 1) * 2 + 2, (t - 1) * 2 + 2, 1, 2):norm() == 0, "padding gradient") end
end)

test("dout nil: only the final state receives gradient (sequence classification)", function()
  loom.seed(14)
  local m = nn.LSTM(2, 3, {batch = 2})
  local x = loom.randn(8, 2)
  local _, h = m:forward(x)
  local dx, dh0, dc0 = m:backward(nil, {dh_T = loom.ones(h:shape())})
  check(dx:rows() == 8 and dh0:rows() == 2 and dc0:rows() == 2, "shapes")
  local g1, g2 = m:initial_state_grad()
  check(g1 == dh0 and g2 == dc0, "initial_state_grad returns the last backward's")
  local dx2 = m:backward(loom.zeros(8, 3), {dh_T = loom.ones(h:shape())})
  check(dx:allclose(dx2, 1e-14, 1e-14), "nil dout equals zeros")
  local none = m:backward(nil, {dh_T = loom.ones(h:shape()), input_grad = false})
  check(none == nil, "input_grad = false skips dX")
end)

test("parameters: PyTorch names, shapes and state_dict round trip", function()
  local m = nn.GRU(3, 5, {layers = 2, bidirectional = true})
  local names = {}
  for _, p in ipairs(m:parameters()) do names[#names + 1] = p.name .. "=" .. p.value:rows() .. "x" .. p.value:cols() end
  equal(table.concat(names, " "), "weight_ih_l0=15x3 weight_hh_l0=15x5 bias_ih_l0=15x1 bias_hh_l0=15x1 " ..
    "weight_ih_l0_reverse=15x3 weight_hh_l0_reverse=15x5 bias_ih_l0_reverse=15x1 bias_hh_l0_reverse=15x1 " ..
    "weight_ih_l1=15x10 weight_hh_l1=15x5 bias_ih_l1=15x1 bias_hh_l1=15x1 " ..
    "weight_ih_l1_reverse=15x10 weight_hh_l1_reverse=15x5 bias_ih_l1_reverse=15x1 bias_hh_l1_reverse=15x1", "names")
  local cellnames = {}
  for _, p in ipairs(nn.LSTMCell(2, 3):parameters()) do cellnames[#cellnames + 1] = p.name end
  equal(table.concat(cellnames, " "), "weight_ih weight_hh bias_ih bias_hh", "cell names")
  local m2 = nn.GRU(3, 5, {layers = 2, bidirectional = true})
  m2:load_state_dict(m:state_dict())
  local x = loom.randn(6, 3)
  check(m:forward(x, {batch = 2}):allclose(m2:forward(x, {batch = 2}), 0, 0), "same outputs after load_state_dict")
  -- views: writing through parameters() changes the layer
  local p = m:parameters()[1]
  p.value:fill_(0)
  check(m:state_dict().weight_ih_l0:norm() == 0, "parameter views share storage")
  equal(m:num_parameters(), 2 * (15 * 3 + 15 * 5 + 30) + 2 * (15 * 10 + 15 * 5 + 30), "count")
  equal(m:repr(), "GRU(3, 5, num_layers=2, bidirectional=True)", "repr")
  equal(nn.RNN(2, 3, {nonlinearity = "relu"}):repr(), "RNN(2, 3, nonlinearity='relu')", "relu repr")
  equal(nn.LSTMCell(2, 3):repr(), "LSTMCell(2, 3)", "cell repr")
end)

test("a training step allocates a fixed number of matrices, none per time step", function()
  local m = nn.LSTM(4, 8, {batch = 4})
  local function step(T)
    local x, dout = loom.randn(T * 4, 4), loom.randn(T * 4, 8)
    local before = loom.alloc_stats().allocations
    m:forward(x)
    m:backward(dout, {input_grad = false})
    return loom.alloc_stats().allocations - before
  end
  step(50) -- warm-up: the workspace
  local a, b = step(50), step(20)
  check(a == b and a <= 6, "allocations per step: %d at T=50, %d at T=20", a, b)
end)

test("result matrices given to forward and backward: no allocation, the same values", function()
  for _, kind in ipairs{"LSTM", "GRU"} do
    local lstm = kind == "LSTM"
    loom.seed(5)
    local m = nn[kind](4, 8, {layers = 2, bidirectional = true})
    local T, B = 6, 3
    local x, dout = loom.randn(T * B, 4), loom.randn(T * B, 16)
    local dh = loom.randn(4 * B, 8)
    local opts = {batch = B, lengths = {6, 2, 4}}
    local out, h_T, c_T = m:forward(x, opts)
    local dx, dh0, dc0 = m:backward(dout, {dh_T = dh})
    m:zero_grad()
    local bufs = {out = loom.zeros(T * B, 16), h_T = loom.zeros(4 * B, 8), c_T = lstm and loom.zeros(4 * B, 8) or nil,
      dx = loom.zeros(T * B, 4), dh0 = loom.zeros(4 * B, 8), dc0 = lstm and loom.zeros(4 * B, 8) or nil}
    local fopts = {batch = B, lengths = {6, 2, 4}, out = bufs.out, h_T = bufs.h_T, c_T = bufs.c_T}
    local bopts = {dh_T = dh, dx = bufs.dx, dh0 = bufs.dh0, dc0 = bufs.dc0}
    m:forward(x, fopts) -- warm-up
    m:backward(dout, bopts)
    local before = loom.alloc_stats().allocations
    local o2, h2, c2 = m:forward(x, fopts)
    local dx2, dh02, dc02 = m:backward(dout, bopts)
    equal(loom.alloc_stats().allocations - before, 0, kind .. ": allocations with every result given")
    check(rawequal(o2, bufs.out) and rawequal(h2, bufs.h_T) and rawequal(dx2, bufs.dx) and rawequal(dh02, bufs.dh0),
      "%s: the given matrices are returned", kind)
    check(o2:allclose(out, 0, 0) and h2:allclose(h_T, 0, 0) and dx2:allclose(dx, 0, 0) and dh02:allclose(dh0, 0, 0),
      "%s: the same values as allocated results", kind)
    if lstm then check(rawequal(c2, bufs.c_T) and c2:allclose(c_T, 0, 0) and dc02:allclose(dc0, 0, 0), "c_T, dc0") end
    check(m:state():allclose(h_T, 0, 0), "%s: state() reads the given h_T", kind)
    local f = "nn." .. kind .. ":forward"
    checkerror(f .. ": h_T must be 12x8 (layers*directions*batch x hidden), got 3x8", m.forward, m, x,
      {batch = B, h_T = loom.zeros(3, 8)})
    checkerror(f .. ": cannot mix float32 and float64", m.forward, m, x, {batch = B, h_T = loom.zeros(12, 8, {dtype = "float32"})})
    local b = "nn." .. kind .. ":backward"
    m:forward(x, opts)
    checkerror(b .. ": dx must be 18x4 like the input, got 18x5", m.backward, m, dout, {dx = loom.zeros(18, 5)})
    checkerror(b .. ": dx is given but input_grad is false", m.backward, m, dout, {dx = bufs.dx, input_grad = false})
    checkerror(b .. ": dh0 must be 12x8 (layers*directions*batch x hidden), got 12x9", m.backward, m, dout,
      {dh0 = loom.zeros(12, 9)})
    if not lstm then
      checkerror(f .. ": c_T is only for LSTM", m.forward, m, x, {batch = B, c_T = loom.zeros(12, 8)})
      checkerror(b .. ": dc0 is only for LSTM", m.backward, m, dout, {dc0 = loom.zeros(12, 8)})
    end
  end
end)

test("loom.seq: pad, unpad, mask, sort, buckets, last", function()
  local X, lengths = seq.pad{{1, 2, 3}, {4}, {5, 6}}
  equal(table.concat(lengths, ","), "3,1,2", "lengths")
  equal(table.concat(X:t():totable()[1], ","), "1.0,4.0,5.0,2.0,0.0,6.0,3.0,0.0,0.0", "time-major")
  local back = seq.unpad(X, lengths)
  equal(back[2]:rows(), 1, "unpad length")
  equal(back[3]:get(2, 1), 6.0, "unpad value")
  equal(table.concat(seq.mask(lengths, 3):t():totable()[1], ","), "1.0,1.0,1.0,1.0,0.0,1.0,1.0,0.0,0.0", "mask")
  local sorted, order = seq.sort_by_length({{1}, {1, 2, 3}, {1, 2}})
  equal(#sorted[1], 3, "longest first")
  equal(table.concat(order, ","), "2,3,1", "order")
  local last = seq.last(X, lengths)
  equal(table.concat(last:t():totable()[1], ","), "3.0,4.0,6.0", "last")
  local d = seq.last_backward(loom.matrix{1, 2, 3}, lengths, 3)
  check(d:sum() == 6 and d:get(7, 1) == 1 and d:get(2, 1) == 2 and d:get(6, 1) == 3, "last_backward")
  loom.seed(1)
  local lens = {}
  for i = 1, 20 do lens[i] = (i * 7) % 11 + 1 end
  local batches = seq.buckets(lens, 6)
  equal(#batches, 4, "batch count")
  local seen = 0
  for _, bt in ipairs(batches) do
    local lo, hi = math.huge, 0
    for _, i in ipairs(bt) do lo, hi = math.min(lo, lens[i]), math.max(hi, lens[i]); seen = seen + 1 end
    check(hi - lo <= 4, "similar lengths in a bucket")
  end
  equal(seen, 20, "every index once")
  checkerror("loom.seq.pad: sequence 2 has 1 features, sequence 1 has 2", seq.pad, {loom.zeros(2, 2), loom.zeros(1, 1)})
  checkerror("loom.seq.pad: expected a non-empty list of sequences", seq.pad, {})
  checkerror("loom.seq.last: lengths[1] = 4 is outside 1..3", seq.last, X, {4, 1, 1})
end)

test("loom.seq.cross_entropy and last_cross_entropy: values and gradients", function()
  loom.seed(2)
  local lengths = {3, 1, 2}
  local logits = loom.randn(9, 4)
  local targets = loom.matrix{1, 2, 3, 4, 1, 2, 3, 4, 1}
  local loss, d = seq.cross_entropy(logits, targets, lengths)
  -- reference: mean over the 6 real steps of -log softmax
  local ref, n = 0, 0
  for b = 1, 3 do
    for t = 1, lengths[b] do
      local i = (t - 1) * 3 + b
      local row, s = logits:slice(i, i, 1, 4), 0
      for j = 1, 4 do s = s + math.exp(row:get(1, j)) end
      ref = ref - (row:get(1, targets:get(i, 1)) - math.log(s))
      n = n + 1
    end
  end
  close(loss, ref / n, 1e-12, "masked cross-entropy")
  check(d:slice(5, 5, 1, 4):norm() == 0, "padding gets no gradient")
  local err = nn.gradcheck(function(v) return seq.cross_entropy(v, targets, lengths) end, logits)
  check(err < GRAD_TOL, "cross_entropy gradient %g", err)
  local y = loom.matrix{2, 3, 1}
  local err2 = nn.gradcheck(function(v) return seq.last_cross_entropy(v, y, lengths) end, logits)
  check(err2 < GRAD_TOL, "last_cross_entropy gradient %g", err2)
  checkerror("loom.seq.cross_entropy: target 1 is 5.0, expected a class id in 1..4",
    seq.cross_entropy, logits, loom.fill(9, 1, 5), lengths)
end)

test("a sequence classifier learns with SGD and gradient clipping", function()
  loom.seed(21)
  -- label = the sign of the first input step, seen through 6 distractor steps
  local lstm, head = nn.LSTM(1, 8, {batch = 16}), nn.Linear(8, 2)
  local params = {}
  for _, p in ipairs(lstm:parameters()) do params[#params + 1] = p end
  for _, p in ipairs(head:parameters()) do params[#params + 1] = p end
  local opt = loom.optim.adam(params, {lr = 0.03})
  local loss_fn = nn.CrossEntropyLoss()
  local first, last
  for it = 1, 150 do
    local x = loom.randn(7 * 16, 1)
    local y = loom.zeros(16, 1)
    for b = 1, 16 do y:set(b, 1, x:get(b, 1) > 0 and 1 or 2) end
    opt:zero_grad()
    local _, h = lstm:forward(x)
    local logits = head:forward(h)
    local loss = loss_fn:forward(logits, y)
    local dh = head:backward(h, loss_fn:backward(logits, y))
    lstm:backward(nil, {dh_T = dh, input_grad = false})
    loom.optim.clip_grad_norm(params, 5)
    opt:step()
    first = first or loss
    last = loss
  end
  check(last < 0.3 * first, "loss %g -> %g", first, last)
end)

test("error messages", function()
  local m = nn.LSTM(3, 4, {layers = 2})
  checkerror("nn.LSTM:backward: call forward first", m.backward, m, loom.zeros(2, 4))
  checkerror("nn.LSTM:forward: expected input with 3 columns, got 6x4", m.forward, m, loom.zeros(6, 4))
  checkerror("nn.LSTM:forward: input 5x3 does not hold T steps of a batch of 2 (T*B rows)",
    m.forward, m, loom.zeros(5, 3), {batch = 2})
  checkerror("nn.LSTM:forward: lengths[2] = 4 is longer than the 3 steps of the input",
    m.forward, m, loom.zeros(6, 3), {lengths = {1, 4}})
  checkerror("nn.LSTM:forward: lengths[1] = 0 must be a positive integer",
    m.forward, m, loom.zeros(6, 3), {lengths = {0, 3}})
  checkerror("nn.LSTM:forward: 2 lengths for a batch of 3", m.forward, m, loom.zeros(6, 3), {lengths = {1, 2}, batch = 3})
  checkerror("nn.LSTM:forward: h0 must be 4x4 (layers*directions*batch x hidden), got 2x4",
    m.forward, m, loom.zeros(6, 3), {batch = 2, h0 = loom.zeros(2, 4)})
  checkerror("nn.GRU:forward: c0 is only for LSTM", nn.GRU(3, 4).forward, nn.GRU(3, 4), loom.zeros(2, 3), {c0 = loom.zeros(1, 4)})
  m:forward(loom.zeros(6, 3), {batch = 2})
  checkerror("nn.LSTM:backward: dout must be 6x4 like the output, got 6x3", m.backward, m, loom.zeros(6, 3))
  checkerror("nn.LSTM:backward: dh_T must be 4x4 (layers*directions*batch x hidden), got 2x4",
    m.backward, m, nil, {dh_T = loom.zeros(2, 4)})
  checkerror("nn.LSTM:gates: no step 4 of layer 1 direction 1 (3 steps, 2 layers, 1 directions)", m.gates, m, 4)
  checkerror("nn.LSTM: dropout must be in [0, 1), got 1", nn.LSTM, 3, 4, {dropout = 1})
  checkerror("nn.LSTM: input size must be an integer in 1..2147483647, got 0", nn.LSTM, 0, 4)
  checkerror("nn.GRUCell: hidden size must be an integer in 1..2147483647, got 1.5", nn.GRUCell, 2, 1.5)
  checkerror("nn.LSTM: options must be a table, got number", nn.LSTM, 2, 4, 3)
  checkerror("nn.LSTM: layers must be an integer, got string", nn.LSTM, 2, 4, {layers = "2"})
  checkerror("nn.GRU: batch must be >= 1, got 0", nn.GRU, 2, 4, {batch = 0})
  -- one validation layer: the binding names the constructor, not "nn.RNN" (item 14)
  checkerror("nn.LSTMCell: input size must be an integer in 1..2147483647, got -1", nn.LSTMCell, -1, 4)
  -- the batch is never guessed (item 13): every sequence layer, every kind
  for _, make in ipairs{nn.RNN, nn.LSTM, nn.GRU} do
    local layer = make(3, 4)
    local name = tostring(layer):match("^(%a+)%(")
    checkerror("nn." .. name .. ":forward: the batch size is not given: X (6x3) holds T*B rows, "
      .. "time-major (row (t-1)*B + b is step t of sequence b); pass {batch = B} or {lengths = {...}} "
      .. "(B = #lengths), or build the layer with {batch = B}", layer.forward, layer, loom.zeros(6, 3))
    checkerror("nn." .. name .. ":forward: batch must be >= 1, got 0", layer.forward, layer,
      loom.zeros(6, 3), {batch = 0})
    checkerror("nn." .. name .. ":forward: lengths is empty (one length per sequence of the batch)",
      layer.forward, layer, loom.zeros(6, 3), {lengths = {}})
    equal(select(2, layer:forward(loom.zeros(6, 3), {batch = 3})):rows(), 3, name .. " with batch")
  end
  checkerror("nn.LSTM:forward: batch must be an integer, got string", m.forward, m, loom.zeros(6, 3), {batch = "2"})
  checkerror("nn.RNN: nonlinearity must be \"tanh\" or \"relu\", got \"sigmoid\"", nn.RNN, 3, 4, {nonlinearity = "sigmoid"})
  local c = nn.LSTMCell(3, 4)
  checkerror("nn.LSTMCell:forward: expected input with 3 columns, got 2x2", c.forward, c, loom.zeros(2, 2))
  checkerror("nn.LSTMCell:forward: h must be 2x4 (layers*directions*batch x hidden), got 1x4",
    c.forward, c, loom.zeros(2, 3), {h = loom.zeros(1, 4)})
  checkerror("nn.LSTMCell:backward: call forward first or pass the state (h, c) the step started from",
    c.backward, c, loom.zeros(2, 3), loom.zeros(2, 4))
  checkerror("nn.LSTM:state: call forward first", nn.LSTM(1, 1).state, nn.LSTM(1, 1))
end)

test("gemm option: xsmm and blas give the same step, config records the choice, profile times the phases", function()
  equal(nn.LSTM(8, 16):config().gemm, "xsmm", "auto: a small W_hh goes to libxsmm")
  equal(nn.LSTM(8, 512):config().gemm, "blas", "auto: 8 MiB of W_hh stays with BLAS")
  equal(nn.LSTM(8, 256):config().gemm, "xsmm", "auto: 2 MiB of W_hh, a MiB for each of two cores")
  equal(nn.LSTM(8, 512):to("float32"):config().gemm, "blas", "auto again after m:to")
  equal(nn.GRU(8, 16, {gemm = "blas"}):config().gemm, "blas", "forced")
  equal(nn.GRUCell(8, 512, {gemm = "xsmm"}):to("float32"):config().gemm, "xsmm", "forced stays forced")
  checkerror('nn.LSTM: gemm must be "auto", "xsmm" or "blas", got "mkl"', nn.LSTM, 2, 4, {gemm = "mkl"})
  for _, kind in ipairs{"LSTM", "GRU", "RNN"} do
    for _, dtype in ipairs{"float64", "float32"} do
      loom.seed(3)
      local a = nn[kind](5, 6, {gemm = "xsmm", bidirectional = true, layers = 2}):to(dtype)
      loom.seed(3)
      local b = nn[kind](5, 6, {gemm = "blas", bidirectional = true, layers = 2}):to(dtype)
      local x = loom.randn(4 * 3, 5, {dtype = dtype})
      local oa, ha = a:forward(x, {lengths = {4, 2, 3}})
      local ob, hb = b:forward(x, {lengths = {4, 2, 3}})
      local tol = dtype == "float64" and 1e-13 or 1e-5
      check(oa:allclose(ob, tol, tol) and ha:allclose(hb, tol, tol), "%s %s forward", kind, dtype)
      local dout = loom.randn(4 * 3, 12, {dtype = dtype})
      local dxa, dxb = a:backward(dout), b:backward(dout)
      check(dxa:allclose(dxb, tol, tol), "%s %s dx", kind, dtype)
      local pa, pb = a:parameters(), b:parameters()
      for i = 1, #pa do check(pa[i].grad:allclose(pb[i].grad, tol, tol), "%s %s d%s", kind, dtype, pa[i].name) end
    end
  end
  local m = nn.LSTM(4, 8, {batch = 2})
  m:profile(true)
  m:forward(loom.randn(10, 4))
  m:backward(loom.randn(10, 8))
  local p = m:profile()
  equal(p.forwards .. " " .. p.backwards, "1 1", "calls counted")
  local total = 0
  for _, k in ipairs{"input_projection", "recurrent", "gates", "gates_backward", "recurrent_backward",
    "weight_gradients", "input_gradient", "other"} do
    check(p[k] >= 0, "phase %s timed", k)
    total = total + p[k]
  end
  check(total > 0, "some time is counted")
  m:profile(false)
  m:forward(loom.randn(10, 4))
  equal(m:profile().forwards, 1, "off: no more counting")
  checkerror("nn.LSTM:profile: on must be true or false, got string", m.profile, m, "yes")
end)

test("the loop in two parts (two threads, rows or W_hh's columns) gives the same results as one part", function()
  local threads = loom.threads()
  -- T * B * G*H * H must reach 2e6 multiply-adds to split (the RNN's G is 1): B = 9 (parts
  -- of 4 and 5 rows); ragged lengths, both directions, two layers, initial states, dh_T.
  -- H = 64 splits the batch rows; a W_hh over 1 MiB (G*H*H elements) splits its columns.
  local B, I = 9, 7
  local lengths60 = {60, 3, 17, 60, 1, 39, 60, 5, 58}
  local cases = {}
  for _, kind in ipairs{"LSTM", "GRU", "RNN"} do
    for _, dtype in ipairs{"float64", "float32"} do
      cases[#cases + 1] = {kind = kind, dtype = dtype, T = 60, H = 64, lengths = lengths60, split = "rows"}
      local G, es = ({LSTM = 4, GRU = 3, RNN = 1})[kind], dtype == "float64" and 8 or 4
      local H = 128
      while G * H * H * es <= 2 ^ 20 do H = H * 2 end
      cases[#cases + 1] = {kind = kind, dtype = dtype, T = 6, H = H, lengths = {6, 3, 1, 6, 2, 5, 6, 4, 6},
                           split = "columns"}
    end
  end
  for _, case in ipairs(cases) do
    local kind, dtype, T, H, lengths = case.kind, case.dtype, case.T, case.H, case.lengths
    local function run(n)
      loom.threads(n)
      loom.seed(11)
      local m = nn[kind](I, H, {bidirectional = true, layers = 2, gemm = "xsmm"}):to(dtype)
      local x = loom.randn(T * B, I, {dtype = dtype})
      local h0 = loom.randn(4 * B, H, {dtype = dtype})
      local c0 = kind == "LSTM" and loom.randn(4 * B, H, {dtype = dtype}) or nil
      local dout, dh = loom.randn(T * B, 2 * H, {dtype = dtype}), loom.randn(4 * B, H, {dtype = dtype})
      m:profile(true)
      local out, h_T = m:forward(x, {lengths = lengths, h0 = h0, c0 = c0})
      local dx, dh0 = m:backward(dout, {dh_T = dh})
      local grads = {}
      for i, p in ipairs(m:parameters()) do grads[i] = p.grad:copy() end
      return {out = out, h_T = h_T, dx = dx, dh0 = dh0, grads = grads, parts = m:profile().row_parts,
              split = m:profile().split}
    end
    local one, two = run(1), run(2)
    loom.threads(threads)
    kind = string.format("%s H=%d", kind, H)
    equal(one.parts, 1, kind .. " " .. dtype .. ": one thread, one part")
    equal(two.parts, 2, kind .. " " .. dtype .. ": two threads, two parts")
    equal(two.split, case.split, kind .. " " .. dtype .. ": how the parts split")
    -- Each row computes exactly as before: outputs and states are bitwise equal.
    check(one.out:allclose(two.out, 0, 0) and one.h_T:allclose(two.h_T, 0, 0), "%s %s: outputs", kind, dtype)
    -- dx is a BLAS product after each layer's loop (and the lower layer's backward starts from
    -- the upper one's dx): OpenBLAS at two threads can differ from one thread in the last bit
    -- (seen on an AMD EPYC with AVX-512), so these are equal to rounding.
    for _, name in ipairs{"dx", "dh0"} do
      local a, b = one[name], two[name]
      if dtype == "float64" then
        check(a:allclose(b, 1e-12, 1e-12), "%s %s: %s", kind, dtype, name)
      else
        local err = (a - b):norm() / a:norm()
        check(err <= 1e-5, "%s %s: %s differs by %.3g relative", kind, dtype, name, err)
      end
    end
    -- Weight gradients sum over rows in another order: equal to rounding. In float64 entry
    -- by entry; in float32 over the whole gradient, because an entry that sums terms of
    -- size ~10 to near 0 can differ by more than 1e-5 (seen: 4e-7 relative in norm).
    for i = 1, #one.grads do
      if dtype == "float64" then
        check(one.grads[i]:allclose(two.grads[i], 1e-12, 1e-12), "%s %s: gradient %d", kind, dtype, i)
      else
        local err = (one.grads[i] - two.grads[i]):norm() / one.grads[i]:norm()
        check(err <= 1e-5, "%s %s: gradient %d differs by %.3g relative", kind, dtype, i, err)
      end
    end
  end
  -- Left to choose, a layer with 2 MiB of W_hh splits its columns on two threads and runs
  -- BLAS products on one; the two agree to rounding.
  local res = {}
  for n = 1, 2 do
    loom.threads(n)
    loom.seed(3)
    local m = nn.LSTM(7, 256):profile(true)
    local out = m:forward(loom.randn(6 * 9, 7), {batch = 9})
    m:backward(loom.randn(6 * 9, 256))
    res[n] = {out = out, grad = m:parameters()[2].grad:copy(), split = m:profile().split,
              parts = m:profile().row_parts}
  end
  equal(res[1].parts, 1, "auto, one thread: one part")
  equal(res[2].split, "columns", "auto, two threads: split columns")
  check(res[1].out:allclose(res[2].out, 1e-12, 1e-12) and res[1].grad:allclose(res[2].grad, 1e-12, 1e-12),
        "auto: one thread and two agree")
  -- Small work stays in one part.
  loom.threads(2)
  local m = nn.LSTM(4, 8):profile(true)
  m:forward(loom.randn(10 * 4, 4), {batch = 4})
  equal(m:profile().row_parts, 1, "a small layer runs in one part")
  loom.threads(threads)
end)

test("tostring and loom.nn integration", function()
  local m = nn.LSTM(16, 32, {layers = 2})
  check(tostring(m):find("LSTM(16, 32, num_layers=2)", 1, true), "tostring %s", tostring(m))
  check(nn.is_recurrent(m) and not nn.is_recurrent({}), "is_recurrent")
  local s = nn.Sequential{nn.GRU(3, 4, {batch = 1}), nn.Linear(4, 2)}
  local y = s:forward(loom.randn(5, 3))
  equal(y:rows(), 5, "Sequential forward")
  local dx = s:backward(loom.randn(5, 3), loom.ones(5, 2))
  equal(dx:cols(), 3, "Sequential backward")
end)

test("every public function of loom.seq and the recurrent layers is documented", function()
  local names = {}
  for _, file in ipairs{"loom.doc.rnn", "loom.doc.seq"} do
    for _, e in ipairs(require(file)) do names[e.name] = true end
  end
  for k, v in pairs(seq) do
    if type(v) == "function" then check(names["loom.seq." .. k], "loom.seq.%s has no doc entry", k) end
  end
  local core = require "loom.core"
  local shared = {repr = true, num_parameters = true, state_dict = true, load_state_dict = true,
    is_training = true, training = true}
  for k in pairs(core.rnn.sequence_methods) do
    check(shared[k] or names["nn.LSTM:" .. k], "nn.LSTM:%s has no doc entry", k)
  end
  for k in pairs(core.rnn.cell_methods) do
    check(shared[k] or names["nn.LSTMCell:" .. k] or names["nn.LSTM:" .. k], "cell method %s has no doc entry", k)
  end
end)

test("forward into a given out matrix", function()
  loom.seed(30)
  local m = nn.GRU(2, 3, {batch = 2})
  local x = loom.randn(8, 2)
  local want = m:forward(x)
  local O = loom.zeros(8, 3)
  local got = m:forward(x, {out = O})
  check(rawequal(got, O) and O:allclose(want, 0, 0), "out reused")
  local V = loom.zeros(8, 5):slice(1, 8, 2, 4)
  m:forward(x, {out = V})
  check(V:allclose(want, 0, 0), "a view works as out")
  checkerror("nn.GRU:forward: out must be 8x3, got 8x2", m.forward, m, x, {out = loom.zeros(8, 2)})
end)

test("vanishing experiment: a tiny setting runs and reports its tables and plots", function()
  local E = dofile(TEST_DIR .. "/experiment_helpers.lua")
  local result, lines, dir = E.run("vanishing.lua", {seeds = 1, distance = 6, lags = "4", iterations = 20, scales = "1"})
  local drawn = {E.png_size(dir .. "/gradient_norms.png"), E.png_size(dir .. "/forget_gate.png")}
  E.cleanup(dir)
  check(result.grad_RNN_x1_d6 > 0 and result.grad_RNN_x1_d6 < 1, "gradient ratio %s", tostring(result.grad_RNN_x1_d6))
  for _, k in ipairs{"memory_RNN_T4", "memory_LSTM_T4", "adding_RNN_T4", "adding_LSTM_T4"} do
    check(result[k] >= 0 and result[k] <= 1, "%s = %s", k, tostring(result[k]))
  end
  check(result.forget_mean_first > 0 and result.forget_mean_first < 1, "forget gate")
  check(E.line(lines, "(3) trained LSTM (memory task, T = 4"), "part (3) printed")
  if require("loom.runs.plot").available() then
    check(drawn[1] == 900 and drawn[2] == 900, "both plots drawn: %s, %s", tostring(drawn[1]), tostring(drawn[2]))
  end
end)

test("a NaN input propagates through the gates (the vectorised tanh keeps NaN)", function()
  loom.seed(5)
  for _, k in ipairs{"LSTM", "GRU", "RNN"} do
    local r = nn[k](3, 4, {batch = 2})
    local x = loom.randn(6, 3)
    x:set(1, 1, 0 / 0)
    local out = r:forward(x)
    for j = 1, 4 do
      local v = out:get(1, j)
      check(v ~= v, "%s: output (1, %d) = %s, want NaN", k, j, tostring(v))
    end
    local clean = out:get(2, 1) -- the other sequence is untouched
    check(clean == clean, "%s: sequence 2 got NaN", k)
  end
end)
