-- test_install.lua: `cmake --install` into a temporary prefix gives a loom executable that
-- finds its Lua half, and a module that stock lua5.4 loads from the installed paths.
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
end)

os.execute("rm -rf '" .. prefix .. "'")
