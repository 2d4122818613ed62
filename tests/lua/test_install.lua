-- test_install.lua: `cmake --install` into a temporary prefix, and `luarocks make` into a
-- temporary rocks tree, each give a loom executable that finds its Lua half and its bundled
-- datasets, and a module that stock lua5.4 loads from the installed paths.
local prefix = os.tmpname()
os.remove(prefix)

local function sh(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("a")
  local ok = p:close()
  return ok, out
end

test("cmake --install puts a working loom under the prefix", function()
  local ok, out = sh(string.format("cmake --install '%s' --prefix '%s'", BUILD_DIR, prefix))
  check(ok, "cmake --install failed:\n%s", out)
  -- LOOM_LUA_DIR must not point back at the source tree.
  ok, out = sh(string.format("env -u LOOM_LUA_DIR -u LUA_PATH -u LUA_CPATH '%s/bin/loom' -e "
    .. "'print(package.searchpath(\"loom.init\", package.path)); print(loom.eye(2):sum())'", prefix))
  check(ok, "installed loom failed:\n%s", out)
  check(out:find(prefix .. "/share/lua/5.4/loom/init.lua\n", 1, true), "uses the installed Lua files:\n%s", out)
  local f = io.open(prefix .. "/share/loom/lua/loom/init.lua")
  check(not f, "the Lua half is installed twice (share/loom/lua and share/lua/5.4)")
  check(out:find("\n2.0\n", 1, true), "computes:\n%s", out)
  -- Under ASan the instrumented module needs the sanitizer runtime preloaded into lua5.4.
  local preload = os.getenv("LOOM_ASAN_PRELOAD")
  preload = preload and ("LD_PRELOAD='" .. preload .. "' ASAN_OPTIONS=detect_leaks=0 ") or ""
  ok, out = sh(string.format(preload .. "LUA_PATH='%s/share/lua/5.4/?.lua;%s/share/lua/5.4/?/init.lua' "
    .. "LUA_CPATH='%s/lib/lua/5.4/?.so' lua5.4 -e 'print(require(\"loom\").linalg.det(require(\"loom\").eye(3)))'",
    prefix, prefix, prefix))
  check(ok, "stock lua5.4 with the installed module failed:\n%s", out)
  equal(out, "1.0\n", "det(I)")
  ok, out = sh(string.format("env -u LOOM_LUA_DIR -u LUA_PATH -u LUA_CPATH '%s/bin/loom' -e "
    .. "'print(loom.data.path(\"nist-strd\"))'", prefix))
  equal(out, prefix .. "/share/loom/datasets/nist-strd\n", "bundled data installed once, found")
end)

-- The project's own files (no build trees), copied so that luarocks builds outside the clone.
local function copy_project(dest)
  local parts = {}
  for _, name in ipairs{"CMakeLists.txt", "loom-scm-1.rockspec", "src", "lua", "datasets", "tests"} do
    parts[#parts + 1] = "'" .. PROJECT_DIR .. "/" .. name .. "'"
  end
  return sh(string.format("mkdir -p '%s' && cp -r %s '%s'", dest, table.concat(parts, " "), dest))
end

test("luarocks make installs the module and the loom executable into a rocks tree", function()
  local ok, out = sh("command -v luarocks")
  if not ok then skip("luarocks is not installed (apt-get install luarocks)") end
  if os.getenv("LOOM_ASAN_PRELOAD") then
    skip("a rock builds without the sanitizers; the normal pass tests it")
  end
  local work = prefix .. "-rock"
  local src, tree = work .. "/src", work .. "/tree"
  ok, out = copy_project(src)
  check(ok, "copy failed:\n%s", out)
  ok, out = sh(string.format("cd '%s' && luarocks --lua-version 5.4 --tree '%s' make loom-scm-1.rockspec", src, tree))
  check(ok, "luarocks make failed:\n%s", out)
  check(out:find("loom scm-1 is now installed in " .. tree, 1, true), "luarocks says so:\n%s", out)
  local lua = string.format("eval \"$(luarocks --lua-version 5.4 --tree '%s' path)\" && lua5.4 -e "
    .. "'local loom = require \"loom\"; print(loom.linalg.det(loom.eye(3)), loom.data.path(\"digits\"))'", tree)
  ok, out = sh(lua)
  check(ok, "stock lua5.4 with luarocks path failed:\n%s", out)
  equal(out, "1.0\t" .. tree .. "/share/lua/5.4/loom/datasets/digits\n", "module and data from the tree")
  ok, out = sh(string.format("env -u LOOM_LUA_DIR -u LUA_PATH -u LUA_CPATH '%s/bin/loom' -e "
    .. "'print(package.searchpath(\"loom.init\", package.path))'", tree))
  check(ok, "the rock's loom failed:\n%s", out)
  equal(out, tree .. "/share/lua/5.4/loom/init.lua\n", "the executable uses the tree's Lua files")
  os.execute("rm -rf '" .. work .. "'")
end)

os.execute("rm -rf '" .. prefix .. "'")
