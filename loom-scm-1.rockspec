-- loom-scm-1.rockspec: installs loom from a clone with `luarocks --lua-version 5.4 make`
-- (build type cmake): the Lua modules and loom/core.so into the rocks tree, the `loom`
-- executable into its bin/, the bundled datasets beside the modules. The C libraries come
-- from Debian (scripts/deps.sh lists them); the build stops naming any that is missing.
rockspec_format = "3.0"
package = "loom"
version = "scm-1"
source = {
  url = "git+file://.",
}
description = {
  summary = "Classic machine-learning experiments from Lua: least squares, backprop, RNNs, LSTMs",
  detailed = [[
loom is a C engine on OpenBLAS and LAPACKE exposed to Lua 5.4: matrices, solvers, layers
and fused LSTM/GRU/RNN kernels as userdata, experiments as short Lua scripts, and a run
store with sweeps and plots.]],
}
dependencies = {
  "lua >= 5.4, < 5.5",
}
build = {
  type = "cmake",
  variables = {
    CMAKE_BUILD_TYPE = "Release",
    CMAKE_INSTALL_PREFIX = "$(PREFIX)",
    CMAKE_INSTALL_BINDIR = "$(BINDIR)",
    LOOM_INSTALL_LUADIR = "$(LUADIR)",
    LOOM_INSTALL_CMODDIR = "$(LIBDIR)",
    LOOM_INSTALL_DATASETS = "$(LUADIR)/loom/datasets",
    LOOM_TESTS = "OFF",
    LOOM_INSTALL_DEVEL = "OFF",
  },
}
