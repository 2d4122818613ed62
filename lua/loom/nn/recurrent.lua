-- loom.nn.recurrent: the constructors nn.RNN, nn.LSTM, nn.GRU and nn.RNNCell, nn.LSTMCell,
-- nn.GRUCell over the fused C layers, and the module behaviour they share with the rest of
-- nn. Not the kernels (src/core/rnn.c) nor sequence batching and losses (loom.seq).
-- Usage from lua/loom/nn/init.lua: require("loom.nn.recurrent")(nn)
local core = require "loom.core"
local crnn = core.rnn

local function py_bool(b) return b and "True" or "False" end

-- PyTorch's repr: "LSTM(16, 32, num_layers=2, bidirectional=True)", "GRUCell(3, 4)".
local function repr(m)
  local c = m:config()
  local parts = {string.format("%s(%d, %d", c.kind, c.input_size, c.hidden_size)}
  if c.kind:sub(1, 3) == "RNN" and c.nonlinearity ~= "tanh" then
    parts[#parts + 1] = ", nonlinearity='" .. c.nonlinearity .. "'"
  end
  if c.layers > 1 then parts[#parts + 1] = ", num_layers=" .. c.layers end
  if c.dropout > 0 then parts[#parts + 1] = string.format(", dropout=%g", c.dropout) end
  if c.bidirectional then parts[#parts + 1] = ", bidirectional=" .. py_bool(true) end
  return table.concat(parts) .. ")"
end

local function check_opts(opts, fn)
  if opts ~= nil and type(opts) ~= "table" then
    error(string.format("%s: options must be a table, got %s", fn, type(opts)), 3)
  end
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  o.name = fn
  return o
end

local function check_size(n, fn, what)
  if math.type(n) ~= "integer" or n < 1 then
    error(string.format("%s: %s must be an integer >= 1, got %s", fn, what, tostring(n)), 3)
  end
end

return function(nn)
  -- The behaviour every nn module shares (lua/loom/nn/init.lua).
  local Module = nn.Module
  for _, which in ipairs{"sequence", "cell"} do
    local methods, mt = crnn[which .. "_methods"], crnn[which .. "_metatable"]
    methods.repr = repr
    methods.num_parameters = Module.num_parameters
    methods.state_dict = Module.state_dict
    methods.load_state_dict = Module.load_state_dict
    methods.is_training = methods.training
    mt.__tostring = Module.__tostring
  end

  local function sequence(kind, fn, extra)
    return function(input, hidden, opts)
      local o = check_opts(opts, fn)
      check_size(input, fn, "input size")
      check_size(hidden, fn, "hidden size")
      if extra then extra(o) end
      return crnn.new(kind, input, hidden, o)
    end
  end

  local function cell(kind, fn)
    return function(input, hidden, opts)
      local o = check_opts(opts, fn)
      check_size(input, fn, "input size")
      check_size(hidden, fn, "hidden size")
      o.cell, o.layers, o.bidirectional, o.dropout = true, 1, false, 0
      return crnn.new(kind, input, hidden, o)
    end
  end

  -- nn.RNN(in, hidden [, {layers = 1, bidirectional = false, dropout = 0, batch,
  --        nonlinearity = "tanh"|"relu"}])
  nn.RNN = sequence("RNN", "nn.RNN")
  nn.LSTM = sequence("LSTM", "nn.LSTM")
  nn.GRU = sequence("GRU", "nn.GRU")
  nn.RNNCell = cell("RNN", "nn.RNNCell")
  nn.LSTMCell = cell("LSTM", "nn.LSTMCell")
  nn.GRUCell = cell("GRU", "nn.GRUCell")
  nn.is_recurrent = crnn.is_layer
  return nn
end
