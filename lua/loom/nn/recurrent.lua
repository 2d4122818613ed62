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

return function(nn)
  -- The behaviour every nn module shares (lua/loom/nn/init.lua).
  local Module = nn.Module
  for _, which in ipairs{"sequence", "cell"} do
    local methods, mt = crnn[which .. "_methods"], crnn[which .. "_metatable"]
    methods.repr = repr
    methods.num_parameters = Module.num_parameters
    methods.state_dict = Module.state_dict
    methods.load_state_dict = Module.load_state_dict
    mt.__tostring = Module.__tostring
  end

  -- The binding checks every argument and option (core.rnn.new names the constructor).
  local function sequence(kind)
    return function(input, hidden, opts) return crnn.new(kind, input, hidden, opts) end
  end

  local function cell(kind)
    return function(input, hidden, opts) return crnn.new(kind, input, hidden, opts, true) end
  end

  -- nn.RNN(in, hidden [, {layers = 1, bidirectional = false, dropout = 0, batch,
  --        nonlinearity = "tanh"|"relu"}]); cells take only nonlinearity
  nn.RNN = sequence("RNN")
  nn.LSTM = sequence("LSTM")
  nn.GRU = sequence("GRU")
  nn.RNNCell = cell("RNN")
  nn.LSTMCell = cell("LSTM")
  nn.GRUCell = cell("GRU")
  nn.is_recurrent = crnn.is_layer
  return nn
end
