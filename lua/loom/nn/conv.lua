-- loom.nn.conv: the constructors nn.Conv1d, nn.MaxPool1d and nn.AvgPool1d over the C layers
-- of src/bind/conv.c, with PyTorch's reprs. Not the kernels (src/core/conv.c).
-- Usage from lua/loom/nn/init.lua: require("loom.nn.conv")(nn)
local core = require "loom.core"
local cconv = core.conv

local function check_opts(opts, fn)
  if opts ~= nil and type(opts) ~= "table" then
    error(string.format("%s: options must be a table, got %s", fn, type(opts)), 3)
  end
  return opts or {}
end

local function repr(m)
  local c = m:config()
  if c.kind == "Conv1d" then
    local extra = ""
    if c.padding > 0 then extra = extra .. string.format(", padding=(%d,)", c.padding) end
    if c.dilation > 1 then extra = extra .. string.format(", dilation=(%d,)", c.dilation) end
    if not c.bias then extra = extra .. ", bias=False" end
    return string.format("Conv1d(%d, %d, kernel_size=(%d,), stride=(%d,)%s)", c.in_channels, c.out_channels,
      c.kernel_size, c.stride, extra)
  elseif c.kind == "MaxPool1d" then
    return string.format("MaxPool1d(kernel_size=%d, stride=%d, padding=0, dilation=1, ceil_mode=False)",
      c.kernel_size, c.stride)
  end
  return string.format("AvgPool1d(kernel_size=(%d,), stride=(%d,), padding=(0,))", c.kernel_size, c.stride)
end

return function(nn)
  local Module = nn.Module
  local methods = cconv.metatable.methods
  methods.repr = repr
  methods.num_parameters = Module.num_parameters
  methods.state_dict = Module.state_dict
  methods.load_state_dict = Module.load_state_dict
  cconv.metatable.__tostring = Module.__tostring

  -- nn.Conv1d(in, out, kernel [, {stride = 1, padding = 0, dilation = 1, bias = true, batch}])
  function nn.Conv1d(in_channels, out_channels, kernel_size, opts)
    opts = check_opts(opts, "nn.Conv1d")
    return cconv.conv1d(in_channels, out_channels, kernel_size, opts.stride, opts.padding, opts.dilation,
      opts.bias ~= false, opts.batch)
  end
  -- nn.MaxPool1d(kernel [, {stride = kernel, batch}]) and nn.AvgPool1d likewise
  function nn.MaxPool1d(kernel_size, opts)
    opts = check_opts(opts, "nn.MaxPool1d")
    return cconv.pool1d("max", kernel_size, opts.stride, opts.batch)
  end
  function nn.AvgPool1d(kernel_size, opts)
    opts = check_opts(opts, "nn.AvgPool1d")
    return cconv.pool1d("avg", kernel_size, opts.stride, opts.batch)
  end
  function nn.is_conv(x) return cconv.is_conv(x) end
end
