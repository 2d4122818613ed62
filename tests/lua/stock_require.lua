-- stock_require.lua: require "loom" from the stock lua5.4 with LUA_PATH and LUA_CPATH set
-- as the README shows (ctest sets them). Not run by the loom executable.
test("require loom from stock lua5.4", function()
  local loom = require "loom"
  check(type(loom.version) == "string", "loom.version is a string")
  local A = loom.matrix{{1, 2}, {3, 4}}
  local B = A * A
  equal(B:get(2, 2), 22, "(A*A)[2,2]")
  equal(tostring(loom.eye(2)), "matrix([[1., 0.],\n        [0., 1.]])", "tostring")
  check(package.searchpath("loom.core", package.cpath), "loom.core found on LUA_CPATH")
end)
