-- test_safetensors.lua: loom.save / loom.load: round trips, file layout, argument errors,
-- the hostile corpus, crash safety under SIGKILL, and numpy interop both ways.
local loom = require "loom"

local function tmpdir()
  local p = io.popen("mktemp -d /tmp/loom-st-XXXXXX")
  local dir = p:read("l")
  p:close()
  return dir
end

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function listdir(dir)
  local p = io.popen("ls -A '" .. dir .. "'")
  local names = {}
  for line in p:lines() do names[#names + 1] = line end
  p:close()
  table.sort(names)
  return names
end

local function same_list(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do if a[i] ~= b[i] then return false end end
  return true
end

local LOOM = os.getenv("LOOM_BIN") or (BUILD_DIR .. "/bin/loom")

-- Run Python code with tests/lua on sys.path; returns true when it exits 0.
local function python(py, code)
  local file = os.tmpname()
  local f = assert(io.open(file, "w"))
  f:write("import sys\nsys.path.insert(0, ", string.format("%q", PROJECT_DIR .. "/tests/lua"),
    ")\nimport numpy as np\nimport safetensors_ref as st\n", code)
  f:close()
  local ok = os.execute(py .. " " .. file)
  os.remove(file)
  return ok
end

-- Values every dtype holds exactly, for a rows x cols matrix.
local function sample(dtype, rows, cols)
  return loom.zeros(rows, cols):apply(function(_, i, j)
    local k = (i - 1) * cols + j
    if dtype == "BOOL" then return k % 2 end
    if dtype == "U8" then return (k * 37) % 256 end
    return (k % 11) - 5 + ((dtype:sub(1, 1) == "F" or dtype == "BF16") and 0.5 or 0)
  end)
end

local DTYPES = {"F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL"}
local SHAPES = {{}, {5}, {2, 3}, {2, 3, 4}, {0, 3}, {3, 0}, {2, 0, 4}, {1, 1, 1, 6}}

local function matrix_shape(shape)
  if #shape == 0 then return 1, 1 end
  if #shape == 1 then return shape[1], 1 end
  local rest = 1
  for k = 2, #shape do rest = rest * shape[k] end
  return shape[1], rest
end

test("every dtype and shape round-trips with its true shape", function()
  local dir = tmpdir()
  for _, dtype in ipairs(DTYPES) do
    local tensors, shapes, dtypes = {}, {}, {}
    for i, shape in ipairs(SHAPES) do
      local name = "t" .. i
      tensors[name] = sample(dtype, matrix_shape(shape))
      shapes[name], dtypes[name] = shape, dtype
    end
    local path = dir .. "/" .. dtype .. ".safetensors"
    equal(loom.save(path, tensors, {dtype = dtype}, {shapes = shapes, dtype = dtype}), true, "save")
    local got, meta, gshapes, gdtypes = loom.load(path)
    check(got, "load failed: %s", tostring(meta))
    equal(meta.dtype, dtype, "metadata")
    for name, m in pairs(tensors) do
      local g = got[name]
      equal(g:rows(), m:rows(), name .. " rows")
      equal(g:cols(), m:cols(), name .. " cols")
      equal(g:dtype(), dtype == "F32" and "float32" or "float64", name .. " matrix dtype")
      check(g:numel() == 0 or g:double():allclose(m, 0, 0), "%s %s values differ", dtype, name)
      check(same_list(gshapes[name], shapes[name]), "%s %s shape", dtype, name)
      equal(gdtypes[name], dtype, name .. " dtype")
    end
  end
  os.execute("rm -rf '" .. dir .. "'")
end)

test("F64 by default, F32 on request, rounding like C floats", function()
  local dir = tmpdir()
  loom.seed(3)
  local x = loom.randn(4, 5)
  assert(loom.save(dir .. "/a", {x = x}))
  local t, _, shapes, dtypes = loom.load(dir .. "/a")
  check(t.x:allclose(x, 0, 0), "F64 is exact")
  equal(dtypes.x, "F64", "default dtype")
  check(same_list(shapes.x, {4, 5}), "matrix shape")
  assert(loom.save(dir .. "/b", {x = x}, nil, {dtype = "F32"}))
  t, _, _, dtypes = loom.load(dir .. "/b")
  equal(dtypes.x, "F32", "requested dtype")
  for i = 1, 4 do
    for j = 1, 5 do
      local f = string.unpack("<f", string.pack("<f", x:get(i, j)))
      equal(t.x:get(i, j), f, "F32 value")
    end
  end
  os.execute("rm -rf '" .. dir .. "'")
end)

test("file layout: padded header, sorted names, contiguous offsets", function()
  local dir = tmpdir()
  local path = dir .. "/layout.safetensors"
  assert(loom.save(path, {zeta = loom.ones(2, 2), alpha = loom.ones(3, 1), mid = loom.zeros(0, 2)},
    {note = "hé"}, {shapes = {alpha = {3}}}))
  local bytes = slurp(path)
  local n = string.unpack("<I8", bytes)
  equal(n % 8, 0, "header length mod 8")
  local header = bytes:sub(9, 8 + n)
  equal(header, '{"__metadata__":{"note":"hé"},'
    .. '"alpha":{"dtype":"F64","shape":[3],"data_offsets":[0,24]},'
    .. '"mid":{"dtype":"F64","shape":[0,2],"data_offsets":[24,24]},'
    .. '"zeta":{"dtype":"F64","shape":[2,2],"data_offsets":[24,56]}}'
    .. string.rep(" ", n - #header:match("^(.-) *$")), "header")
  equal(#bytes, 8 + n + 56, "file size")
  check(same_list(listdir(dir), {"layout.safetensors"}), "no temporary file left behind")
  os.execute("rm -rf '" .. dir .. "'")
end)

test("metadata and shape hints round-trip exactly", function()
  local dir = tmpdir()
  local path = dir .. "/m.safetensors"
  local meta = {format = "pt", ["ключ"] = "значение", empty = "", quote = 'a"b\\c\n'}
  local v = loom.matrix{1, 2, 3}
  assert(loom.save(path, {v = v, w = loom.ones(2, 6)}, meta, {shapes = {v = {3}, w = {2, 3, 2}}}))
  local t, m, shapes = loom.load(path)
  for k, s in pairs(meta) do equal(m[k], s, "metadata " .. k) end
  check(same_list(shapes.v, {3}) and same_list(shapes.w, {2, 3, 2}), "shapes")
  equal(t.v:rows(), 3, "1-D loads as a column")
  equal(t.w:cols(), 6, "3-D loads as shape[1] x rest")
  -- Saving what load returned gives the same bytes.
  local _, _, s2, d2 = loom.load(path)
  assert(loom.save(dir .. "/again", t, m, {shapes = s2, dtypes = d2}))
  equal(slurp(dir .. "/again"), slurp(path), "resaved bytes")
  os.execute("rm -rf '" .. dir .. "'")
end)

test("bad arguments raise with the function's name", function()
  local A = loom.ones(2, 2)
  checkerror("loom.save: tensor 'a' must be a matrix, got string", loom.save, "/tmp/x", {a = "s"})
  checkerror("loom.save: tensor names must be strings, got number", loom.save, "/tmp/x", {A})
  checkerror("loom.save: dtype for 'a' must be one of F64, F32, F16, BF16, I64, I32, I16, I8, "
    .. "U8, BOOL, got F8", loom.save, "/tmp/x", {a = A}, nil, {dtype = "F8"})
  checkerror("loom.save: shape for 'a' holds 6 elements, the matrix is 2x2", loom.save, "/tmp/x",
    {a = A}, nil, {shapes = {a = {2, 3}}})
  checkerror("loom.save: shape for 'a': size 1 is not a non-negative integer", loom.save, "/tmp/x",
    {a = A}, nil, {shapes = {a = {-4}}})
  checkerror("loom.save: metadata must map strings to strings, got string = number", loom.save,
    "/tmp/x", {a = A}, {step = 3})
  checkerror("loom.save: tensor 'a': value 0.5 at (1, 1) is not representable as I32", loom.save,
    "/tmp/x", {a = loom.fill(1, 1, 0.5)}, nil, {dtypes = {a = "I32"}})
  checkerror("loom.save: '__metadata__' is reserved, not a tensor name", loom.save, "/tmp/x",
    {__metadata__ = A})
  checkerror("loom.save: opts.shapes must be a table of names, got number", loom.save, "/tmp/x",
    {a = A}, nil, {shapes = 3})
  local ok, err = loom.save("/nonexistent/dir/x.safetensors", {a = A})
  equal(ok, nil, "save into a missing directory")
  equal(err, "/nonexistent/dir/x.safetensors: cannot create a temporary file: No such file or directory",
    "message")
  local t, e = loom.load("/nonexistent/x.safetensors")
  equal(t, nil, "load of a missing file")
  equal(e, "/nonexistent/x.safetensors: cannot open: No such file or directory", "message")
end)

test("a refused save leaves the old file alone", function()
  local dir = tmpdir()
  local path = dir .. "/keep.safetensors"
  assert(loom.save(path, {a = loom.ones(2, 2)}))
  local before = slurp(path)
  pcall(loom.save, path, {a = loom.fill(1, 1, 0.5)}, nil, {dtype = "I8"})
  equal(slurp(path), before, "file after a refused save")
  check(same_list(listdir(dir), {"keep.safetensors"}), "no temporary file left behind")
  os.execute("rm -rf '" .. dir .. "'")
end)

test("every file of the hostile corpus is refused with its message", function()
  local corpus = PROJECT_DIR .. "/tests/fuzz/corpus/"
  local count, bad = 0, 0
  for line in io.lines(corpus .. "EXPECTED") do
    local file, want = line:match("^([^\t]+)\t(.*)$")
    local path = corpus .. file
    local t, err = loom.load(path)
    if want == "ok" then
      check(t, "%s should load: %s", file, tostring(err))
    else
      equal(t, nil, file .. " loads")
      equal(err, path .. ": " .. want, file)
      bad = bad + 1
    end
    count = count + 1
  end
  check(count >= 50 and bad >= 40, "corpus has %d files, %d hostile", count, bad)
end)

test("SIGKILL during saves never leaves a torn file", function()
  local dir = tmpdir()
  local path = dir .. "/big.safetensors"
  assert(loom.save(path, {x = loom.fill(300000, 1, 0), y = loom.fill(1000, 1, 0)}, {k = "0"}))
  local saver = dir .. "/saver.lua"
  local f = assert(io.open(saver, "w"))
  f:write([[
local path, k = arg[1], tonumber(arg[2])
while true do
  k = k + 1
  assert(loom.save(path, {x = loom.fill(300000, 1, k), y = loom.fill(1000, 1, k)}, {k = tostring(k)}))
  if k == tonumber(arg[2]) + 1 then io.open(path .. ".started", "w"):close() end
end
]])
  f:close()
  math.randomseed(os.time())
  -- The kill comes a random 0-0.3 s after the saver's first save is on disk, not after its
  -- start: a loaded machine or a sanitizer build can take longer than that to start loom.
  local trials, interrupted, last = 24, 0, 0
  for trial = 1, trials do
    local delay = math.random() * 0.3
    os.execute(string.format("'%s' '%s' '%s' %d & pid=$!; i=0; "
      .. "while [ ! -e '%s.started' ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; "
      .. "sleep %.3f; kill -9 $pid; wait $pid 2>/dev/null; rm -f '%s.started'",
      LOOM, saver, path, trial * 1000000, path, delay, path))
    local t, meta = loom.load(path)
    check(t, "trial %d: the file does not load: %s", trial, tostring(meta))
    local k = tonumber(meta.k)
    check(t.x:min() == k and t.x:max() == k and t.y:min() == k and t.y:max() == k,
      "trial %d: contents mix saves (metadata says %s)", trial, meta.k)
    check(k >= last, "trial %d: went back to an older save", trial)
    last = k
    for _, name in ipairs(listdir(dir)) do
      if name:match("%.tmp") then
        interrupted = interrupted + 1
        os.remove(dir .. "/" .. name)
      end
    end
  end
  print(string.format("  %d SIGKILLs, %d interrupted mid-write, the file always loaded", trials, interrupted))
  check(interrupted > 0, "no kill landed during a write; the test proved nothing")
  os.execute("rm -rf '" .. dir .. "'")
end)

test("numpy-written files of every dtype load with the right values", function()
  local py, why = reference_python({"numpy"})
  if not py then skip(why) end
  local dir = tmpdir()
  local ok = python(py, string.format([[
rng = np.random.default_rng(7)
shapes = [(), (5,), (2, 3), (2, 3, 4), (0, 3), (3, 0)]
t, ref = {}, {}
for dtype in ["F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL"]:
    for k, shape in enumerate(shapes):
        name = "%%s_%%d" %% (dtype, k)
        x = rng.standard_normal(shape) * 100
        if dtype == "F64": v = x
        elif dtype == "F32": v = x.astype(np.float32)
        elif dtype == "F16":
            v = (x / 10).astype(np.float16)
            if shape == (5,): v[:] = [np.inf, -np.inf, 6e-8, -65504, -0.0]
        elif dtype == "BF16":
            bits = st.bf16_bits(x.ravel() * 1e30).reshape(shape)
            t[name] = ("BF16", bits, shape)
            ref[name] = st.bf16_values(bits).reshape(shape)
            continue
        elif dtype == "I64": v = rng.integers(-2**53, 2**53, size=shape, dtype=np.int64)
        elif dtype == "I32": v = rng.integers(-2**31, 2**31, size=shape, dtype=np.int32)
        elif dtype == "I16": v = rng.integers(-2**15, 2**15, size=shape, dtype=np.int16)
        elif dtype == "I8": v = rng.integers(-128, 128, size=shape, dtype=np.int8)
        elif dtype == "U8": v = rng.integers(0, 256, size=shape, dtype=np.uint8)
        else: v = rng.integers(0, 2, size=shape).astype(bool)
        t[name] = v
        ref[name] = np.asarray(v, dtype=np.float64)
st.write("%s/all.safetensors", t, {"writer": "numpy"})
st.write("%s/ref.safetensors", ref)
]], dir, dir))
  check(ok, "the Python writer failed")
  local t, meta, shapes, dtypes = loom.load(dir .. "/all.safetensors")
  check(t, "load: %s", tostring(meta))
  local ref, _, rshapes = loom.load(dir .. "/ref.safetensors")
  equal(meta.writer, "numpy", "metadata")
  local n = 0
  for name, m in pairs(ref) do
    local g = t[name]
    equal(dtypes[name], name:match("^(%w+)_"), name .. " dtype")
    check(same_list(shapes[name], rshapes[name]), "%s shape", name)
    equal(g:rows(), m:rows(), name .. " rows")
    equal(g:cols(), m:cols(), name .. " cols")
    check(g:numel() == 0 or g:double():allclose(m:double(), 0, 0), "%s values differ", name)
    n = n + 1
  end
  equal(n, 60, "tensors compared")
  -- And back: loom rewrites every dtype, numpy reads it and compares with the original.
  assert(loom.save(dir .. "/back.safetensors", t, meta, {shapes = shapes, dtypes = dtypes}))
  ok = python(py, string.format([[
a, am, ad = st.read("%s/all.safetensors")
b, bm, bd = st.read("%s/back.safetensors")
assert am == bm and ad == bd and a.keys() == b.keys()
for k in a:
    assert a[k].shape == b[k].shape, k
    assert np.array_equal(a[k], b[k]), k
]], dir, dir))
  check(ok, "numpy did not read loom's rewrite back identically")
  os.execute("rm -rf '" .. dir .. "'")
end)

test("loom's F32, F16 and BF16 rounding matches numpy's", function()
  local py, why = reference_python({"numpy"})
  if not py then skip(why) end
  local dir = tmpdir()
  loom.seed(11)
  local x = loom.randn(50, 20):mul(loom.rand(50, 20):map_("exp"):pow(20))
  x:set(1, 1, 65519.99); x:set(1, 2, 65520); x:set(1, 3, 2.9802322387695312e-08)
  x:set(1, 4, 1 + 2^-11); x:set(1, 5, 1e-40)
  assert(loom.save(dir .. "/r.safetensors", {x = x, h = x, b = x, f = x}, nil,
    {dtypes = {h = "F16", b = "BF16", f = "F32"}}))
  local ok = python(py, string.format([[
t, _, d = st.read("%s/r.safetensors")
x = t["x"]
with np.errstate(over="ignore"):
    assert np.array_equal(t["f"], x.astype(np.float32).astype(np.float64))
    assert np.array_equal(t["h"], x.astype(np.float16).astype(np.float64))
assert np.array_equal(t["b"], st.bf16_values(st.bf16_bits(x.ravel())).reshape(x.shape))
assert d == {"x": "F64", "h": "F16", "b": "BF16", "f": "F32"}
]], dir))
  check(ok, "rounding differs from numpy")
  os.execute("rm -rf '" .. dir .. "'")
end)
