-- loom.nn.conv: the constructors nn.Conv1d, nn.MaxPool1d and nn.AvgPool1d over the C layers
-- of src/bind/conv.c, with PyTorch's reprs. Not the kernels (src/core/conv.c).
-- Usage from lua/loom/nn/init.lua: require("loom.nn.conv")(nn)
local core = require "loom.core"
local check = require "loom.check"
local cconv = core.conv

local CONV_OPTIONS = {stride = "integer", padding = "integer", dilation = "integer", bias = "boolean",
  batch = "integer"}
local POOL_OPTIONS = {stride = "integer", batch = "integer"}

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
    check.integer("nn.Conv1d", "in_channels", in_channels, 1)
    check.integer("nn.Conv1d", "out_channels", out_channels, 1)
    check.integer("nn.Conv1d", "kernel_size", kernel_size, 1)
    opts = check.options("nn.Conv1d", opts, CONV_OPTIONS)
    return check.call("nn.Conv1d", cconv.conv1d, in_channels, out_channels, kernel_size, opts.stride,
      opts.padding, opts.dilation, opts.bias ~= false, opts.batch)
  end
  -- nn.MaxPool1d(kernel [, {stride = kernel, batch}]) and nn.AvgPool1d likewise
  function nn.MaxPool1d(kernel_size, opts)
    check.integer("nn.MaxPool1d", "kernel_size", kernel_size, 1)
    opts = check.options("nn.MaxPool1d", opts, POOL_OPTIONS)
    return check.call("nn.MaxPool1d", cconv.pool1d, "max", kernel_size, opts.stride, opts.batch)
  end
  function nn.AvgPool1d(kernel_size, opts)
    check.integer("nn.AvgPool1d", "kernel_size", kernel_size, 1)
    opts = check.options("nn.AvgPool1d", opts, POOL_OPTIONS)
    return check.call("nn.AvgPool1d", cconv.pool1d, "avg", kernel_size, opts.stride, opts.batch)
  end
  function nn.is_conv(x) return cconv.is_conv(x) end
end
