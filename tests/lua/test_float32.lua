-- test_float32.lua: the float32 dtype of matrices (src/core/matrix.c, blas.c, src/bind/matrix.c):
-- constructors, conversion, printing, mixing errors, and every kernel against a naive
-- reference computed in double and rounded to float32. Not nn (test_nn_float32.lua).
local loom = require "loom"

local F = {dtype = "float32"}

-- x rounded to the nearest float32 (what a float32 element holds).
local function f32(x) return (string.unpack("<f", string.pack("<f", x))) end

-- Every element of A equals want(i, j) exactly.
local function each_equal(A, want, what)
  for i = 1, A:rows() do
    for j = 1, A:cols() do
      local got, w = A:get(i, j), want(i, j)
      if not (got == w or (got ~= got and w ~= w)) then
        error(string.format("%s (%d, %d): expected %.9g, got %.9g", what, i, j, w, got), 2)
      end
    end
  end
end

-- Every element of A is within rel (relative, at least absolute 1e-30) of want(i, j).
local function each_close(A, want, rel, what)
  for i = 1, A:rows() do
    for j = 1, A:cols() do
      local got, w = A:get(i, j), want(i, j)
      if not (got == w or (got ~= got and w ~= w) or math.abs(got - w) <= rel * math.max(math.abs(w), 1e-30)) then
        error(string.format("%s (%d, %d): expected %.9g, got %.9g", what, i, j, w, got), 2)
      end
    end
  end
end

-- A float32 matrix of random values with some exact ones, and its values as a table.
local function sample(r, c, scale)
  local A = loom.randn(r, c, F)
  if scale then A = A * scale end
  return A, A:totable()
end

test("constructors take a dtype, float64 stays the default", function()
  for _, make in ipairs{
    function(o) return loom.zeros(2, 3, o) end, function(o) return loom.ones(2, 3, o) end,
    function(o) return loom.fill(2, 3, 0.1, o) end, function(o) return loom.rand(2, 3, o) end,
    function(o) return loom.randn(2, 3, o) end, function(o) return loom.eye(2, 3, o) end,
    function(o) return loom.matrix({{1, 2, 3}, {4, 5, 0.1}}, o) end,
  } do
    equal(make():dtype(), "float64", "default dtype")
    equal(make({dtype = "float64"}):dtype(), "float64", "explicit float64")
    local A = make(F)
    equal(A:dtype(), "float32", "float32 constructor")
    equal(select(2, A:shape()), 3, "float32 shape")
  end
  equal(loom.eye(3, F):dtype(), "float32", "eye(n, opts)")
  equal(loom.eye(3, F):cols(), 3, "eye(n, opts) is square")
  equal(loom.fill(1, 1, 0.1, F):get(1, 1), f32(0.1), "fill rounds to float32")
  equal(loom.matrix({0.1}, F):get(1, 1), f32(0.1), "matrix{} rounds to float32")
  checkerror('loom.zeros: dtype must be "float64" or "float32", got "half"', loom.zeros, 1, 1, {dtype = "half"})
  checkerror('loom.matrix: dtype must be "float64" or "float32", got "f32"', loom.matrix, {1}, {dtype = "f32"})
  checkerror("loom.ones: options must be a table, got string", loom.ones, 1, 1, "float32")
end)

test("rand and randn draw the same numbers in both dtypes", function()
  loom.seed(7)
  local a64, n64 = loom.rand(5, 7), loom.randn(5, 7)
  loom.seed(7)
  local a32, n32 = loom.rand(5, 7, F), loom.randn(5, 7, F)
  each_equal(a32, function(i, j) return f32(a64:get(i, j)) end, "rand")
  each_equal(n32, function(i, j) return f32(n64:get(i, j)) end, "randn")
  check(a32:max() < 1 and a32:min() >= 0, "rand stays in [0, 1)")
end)

test("float, double and copies convert; float() of a float32 matrix is itself", function()
  local A = loom.matrix{{0.1, -2.5}, {1e-3, 3}}
  local B = A:float()
  equal(B:dtype(), "float32", "A:float()")
  check(B:float() == B, "float() of float32 is the same matrix")
  check(A:double() == A, "double() of float64 is the same matrix")
  each_equal(B, function(i, j) return f32(A:get(i, j)) end, "rounded")
  local C = B:double()
  equal(C:dtype(), "float64", "B:double()")
  each_equal(C, function(i, j) return B:get(i, j) end, "widening is exact")
  equal(loom.matrix(B):dtype(), "float32", "loom.matrix(A) keeps the dtype")
  equal(loom.matrix(A, F):dtype(), "float32", "loom.matrix(A, {dtype}) converts")
  equal(B:copy():dtype(), "float32", "copy keeps the dtype")
  B:set(1, 1, 1 / 3)
  equal(B:get(1, 1), f32(1 / 3), "set rounds")
  local t = B:totable()
  equal(t[1][1], f32(1 / 3), "totable")
  equal(B:tolist()[2], f32(-2.5), "tolist")
end)

test("views, reshape, transpose and slices keep the dtype and share storage", function()
  local A = loom.matrix({{1, 2, 3}, {4, 5, 6}}, F)
  local r, c, s, v = A:row(2), A:col(3), A:slice(1, 2, 2, 3), A:reshape(3, 2)
  for name, V in pairs{row = r, col = c, slice = s, reshape = v, t = A:t()} do
    equal(V:dtype(), "float32", name)
  end
  check(r:is_view() and s:is_view() and v:is_view(), "views")
  s:set(2, 2, 60)
  equal(A:get(2, 3), 60, "slice shares storage")
  equal(v:get(3, 2), 60, "reshape shares storage")
  equal(c:get(2, 1), 60, "column view shares storage")
  each_equal(A:t(), function(i, j) return A:get(j, i) end, "t")
  local strided = s:reshape(1, 4) -- not contiguous: a copy
  check(not strided:is_view(), "strided reshape copies")
  equal(strided:dtype(), "float32", "strided reshape")
  each_equal(strided, function(_, j) return ({2, 3, 5, 60})[j] end, "strided reshape values")
  local X = loom.randn(5, 4, F)
  each_equal(X:index_rows{5, 1, 1}, function(i, j) return X:get(({5, 1, 1})[i], j) end, "index_rows")
  equal(X:index_rows{2}:dtype(), "float32", "index_rows dtype")
end)

test("printing shows the dtype when it is not float64", function()
  equal(tostring(loom.matrix({{1, 2.5}, {0.1, 0.3}}, F)),
    "matrix([[1. , 2.5],\n        [0.1, 0.3]], dtype=float32)", "float32")
  equal(tostring(loom.matrix{{1, 2.5}, {0.1, 0.3}}), "matrix([[1. , 2.5],\n        [0.1, 0.3]])", "float64")
  equal(tostring(loom.zeros(0, 2, F)), "matrix([], shape=0x2, dtype=float32)", "empty")
  equal(tostring(loom.matrix({1 / 3}, F)), "matrix([[0.33333334]], dtype=float32)", "shortest float32 text")
end)

test("one operation never mixes dtypes", function()
  local A, B = loom.ones(2, 2), loom.ones(2, 2, F)
  checkerror("matrix:add: cannot mix float64 and float32", A.add, A, B)
  checkerror("matrix:sub_: cannot mix float32 and float64", B.sub_, B, A)
  checkerror("matrix +: cannot mix float64 and float32", function() return A + B end)
  checkerror("matrix *: cannot mix float32 and float64", function() return B * A end)
  checkerror("matrix:mul: cannot mix float32 and float64", B.mul, B, A:row(1))
  checkerror("matrix:matmul_: cannot mix float32 and float64", B.matmul_, B, A, A)
  checkerror("matrix:matmul_: cannot mix float32 and float64", B.matmul_, B, B, A)
  checkerror("matrix:copy_: cannot mix float64 and float32", A.copy_, A, B)
  checkerror("matrix:axpy_: cannot mix float32 and float64", B.axpy_, B, 1, A)
  checkerror("matrix:dot: cannot mix float64 and float32", A.dot, A, B)
  checkerror("matrix:allclose: cannot mix float32 and float64", B.allclose, B, A)
  checkerror("loom.hcat: cannot mix float64 and float32 (item 2)", loom.hcat, {A, B})
  checkerror("matrix:index_rows: cannot mix float64 and float32", B.index_rows, B, {1, 2}, A)
  -- numbers carry no dtype: they round to the matrix's
  equal((B * 0.1):get(1, 1), f32(0.1), "scalar rounds to float32")
  equal((B * 0.1):dtype(), "float32", "scalar keeps the dtype")
end)

test("solvers that need double say so", function()
  local A = loom.eye(2, F)
  checkerror("linalg.solve: bad argument #1 (float64 matrix expected, got float32; this function computes in double, convert with m:double())",
    loom.linalg.solve, A, loom.ones(2, 1))
  checkerror_like("float64 matrix expected, got float32", loom.linalg.lstsq, loom.ones(3, 2, F), loom.ones(3, 1, F))
  checkerror_like("float64 matrix expected, got float32", loom.linalg.inv, A)
  equal(loom.linalg.solve(A:double(), loom.ones(2, 1)):get(1, 1), 1, "after double()")
end)

-- ---- kernels against a naive reference (double, rounded once) ----

local binops = {
  add = function(x, y) return x + y end, sub = function(x, y) return x - y end,
  mul = function(x, y) return x * y end, div = function(x, y) return x / y end,
  maximum = function(x, y) return math.max(x, y) end, minimum = function(x, y) return math.min(x, y) end,
}

test("elementwise binary ops equal the rounded double result (full, broadcast, strided)", function()
  local A, a = sample(7, 19)
  local B, b = sample(7, 19)
  local row, col, one = B:row(3), B:col(5), B:slice(2, 2, 2, 2)
  local strided = loom.randn(7, 40, F):slice(1, 7, 3, 21)
  for name, op in pairs(binops) do
    -- + - * / of two floats computed in double and rounded is the correctly rounded float result
    each_equal(A[name](A, B), function(i, j) return f32(op(a[i][j], b[i][j])) end, name .. " full")
    each_equal(A[name](A, row), function(i, j) return f32(op(a[i][j], b[3][j])) end, name .. " row")
    each_equal(A[name](A, col), function(i, j) return f32(op(a[i][j], b[i][5])) end, name .. " column")
    each_equal(A[name](A, one), function(i, j) return f32(op(a[i][j], b[2][2])) end, name .. " 1x1")
    each_equal(A[name](A, strided), function(i, j) return f32(op(a[i][j], strided:get(i, j))) end, name .. " strided")
    each_equal(A[name](A, 0.25), function(i, j) return f32(op(a[i][j], 0.25)) end, name .. " scalar")
    local C = A:copy()
    C[name .. "_"](C, B)
    each_equal(C, function(i, j) return f32(op(a[i][j], b[i][j])) end, name .. " in place")
    equal(C:dtype(), "float32", name .. " dtype")
  end
  each_equal(2 - A, function(i, j) return f32(2 - a[i][j]) end, "scalar first -")
  each_equal(2 / A, function(i, j) return f32(2 / a[i][j]) end, "scalar first /")
  each_equal(-A, function(i, j) return -a[i][j] end, "unary minus")
  local P = A:map("abs"):pow(B)
  each_close(P, function(i, j) return f32(math.abs(a[i][j]) ^ b[i][j]) end, 3e-7, "pow")
  local D = A:copy():axpy_(-0.5, B)
  each_equal(D, function(i, j) return f32(a[i][j] + f32(-0.5) * b[i][j]) end, "axpy_")
  each_equal(A:clamp(-0.5, 0.5), function(i, j) return math.min(math.max(a[i][j], -0.5), 0.5) end, "clamp")
  each_equal(loom.fill(2, 2, 0, F):fill_(0.1), function() return f32(0.1) end, "fill_")
end)

test("maps equal the rounded double result within float32 rounding", function()
  local A, a = sample(9, 21)
  local positive = A:map("abs") + 0.01
  local p = positive:totable()
  for _, name in ipairs{"neg", "exp", "tanh", "sigmoid", "relu", "abs", "square", "sin", "cos",
                        "expm1", "floor", "ceil", "round", "sign"} do
    local R = A:map(name)
    equal(R:dtype(), "float32", name)
    local ref = loom.matrix(a):map(name)
    each_close(R, function(i, j) return f32(ref:get(i, j)) end, 2.5e-7, name)
  end
  for _, name in ipairs{"log", "sqrt", "log1p", "reciprocal"} do
    local ref = loom.matrix(p):map(name)
    each_close(positive:map(name), function(i, j) return f32(ref:get(i, j)) end, 2.5e-7, name)
  end
  local S = A:slice(2, 8, 3, 20)
  local M = S:copy():map_("exp")
  each_close(M, function(i, j) return f32(math.exp(S:get(i, j))) end, 2.5e-7, "map_ on a strided copy")
  each_equal(A:apply(function(v) return v * 3 end), function(i, j) return f32(a[i][j] * 3) end, "apply")
  equal(A:apply(function(v) return v end):dtype(), "float32", "apply keeps the dtype")
end)

test("reductions accumulate in double and round once", function()
  local A, a = sample(37, 300) -- more than 128 per row: the pairwise path
  local total, rows, cols = 0, {}, {}
  for i = 1, 37 do
    for j = 1, 300 do
      total = total + a[i][j]
      rows[i] = (rows[i] or 0) + a[i][j]
      cols[j] = (cols[j] or 0) + a[i][j]
    end
  end
  close(A:sum(), f32(total), 1e-6, "sum")
  equal(A:sum(), f32(A:sum()), "a float32 sum is a float32 value")
  close(A:mean(), f32(total / (37 * 300)), 1e-6, "mean")
  each_close(A:sum(2), function(i) return f32(rows[i]) end, 1e-6, "row sums")
  each_close(A:sum(1), function(_, j) return f32(cols[j]) end, 1e-6, "column sums")
  each_close(A:mean(1), function(_, j) return f32(cols[j] / 37) end, 1e-6, "column means")
  local S = A:slice(3, 30, 7, 250)
  local st = 0
  for i = 3, 30 do for j = 7, 250 do st = st + a[i][j] end end
  close(S:sum(), f32(st), 1e-6, "strided sum")
  A:set(5, 17, 100); A:set(30, 2, -100)
  equal(A:max(), 100, "max"); equal(A:min(), -100, "min")
  local i, j = A:argmax()
  equal(i * 1000 + j, 5017, "argmax")
  i, j = S:argmin()
  check(S:get(i, j) == S:min(), "strided argmin")
  equal(A:max(2):get(5, 1), 100, "row max")
  equal(A:argmax(2):get(5, 1), 17, "row argmax")
  equal(A:argmax(2):dtype(), "float64", "indices are float64")
  equal(A:min(1):dtype(), "float32", "values keep the dtype")
  equal(A:argmin(1):get(1, 2), 30, "column argmin")
  local N = loom.matrix({{1, 0 / 0, 3}}, F)
  check(N:max() ~= N:max(), "NaN wins max")
  close(loom.matrix({{3, 4}}, F):norm(), 5, 1e-12, "norm")
  equal(loom.matrix({{1, 2}}, F):dot(loom.matrix({{3, 4}}, F)), 11, "dot")
  check(A:allclose(A:copy()), "allclose")
  equal(loom.zeros(0, 3, F):sum(), 0, "empty sum")
end)

-- C = alpha op(A) op(B) + beta C in double from the float32 values, rounded.
local function naive_product(A, B, ta, tb, alpha, beta, C)
  local m = ta and A:cols() or A:rows()
  local k = ta and A:rows() or A:cols()
  local n = tb and B:rows() or B:cols()
  local out = {}
  for i = 1, m do
    out[i] = {}
    for j = 1, n do
      local s = 0
      for p = 1, k do
        s = s + (ta and A:get(p, i) or A:get(i, p)) * (tb and B:get(j, p) or B:get(p, j))
      end
      out[i][j] = alpha * s + (C and beta * C:get(i, j) or 0)
    end
  end
  return out
end

test("products go through sgemm and sgemv and match the naive product", function()
  loom.seed(3)
  for _, shape in ipairs{{5, 7, 3}, {1, 9, 1}, {17, 1, 4}, {33, 65, 1}, {0, 4, 3}, {4, 0, 3}} do
    local m, k, n = shape[1], shape[2], shape[3]
    local A, B = loom.randn(m, k, F), loom.randn(k, n, F)
    local C = A * B
    equal(C:dtype(), "float32", "A * B dtype")
    local ref = naive_product(A, B, false, false, 1, 0)
    each_close(C, function(i, j) return ref[i][j] end, 1e-5 * math.max(k, 1), "A * B " .. table.concat(shape, "x"))
  end
  local A, B = loom.randn(6, 4, F), loom.randn(5, 6, F)
  local C0 = loom.randn(4, 5, F)
  local C = C0:copy():matmul_(A, B, {ta = true, tb = true, alpha = 0.5, beta = 2})
  local ref = naive_product(A, B, true, true, 0.5, 2, C0)
  each_close(C, function(i, j) return ref[i][j] end, 1e-5, "matmul_ ta tb alpha beta")
  local v = loom.randn(6, 1, F)
  local y = loom.zeros(4, 1, F):matmul_(A, v, {ta = true})
  local vref = naive_product(A, v, true, false, 1, 0)
  each_close(y, function(i) return vref[i][1] end, 1e-5, "gemv transposed")
  checkerror("matrix *: cannot multiply 6x4 by 5x6", function() return A * B end)
end)

test("read_csv reads into float32 when asked", function()
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write("a,b\n0.1,2\n3,0.3\n")
  f:close()
  local M, names = loom.read_csv(path, {dtype = "float32"})
  os.remove(path)
  equal(M:dtype(), "float32", "dtype")
  equal(names[2], "b", "names")
  each_equal(M, function(i, j) return f32(({{0.1, 2}, {3, 0.3}})[i][j]) end, "values")
  checkerror('loom.read_csv: dtype must be "float64" or "float32", got "int"', loom.read_csv, path, {dtype = "int"})
end)

test("numpy float32 agrees on a product and on exp", function()
  local py, why = reference_python{"numpy"}
  if not py then skip(why) end
  loom.seed(11)
  local A, B = loom.randn(40, 30, F), loom.randn(30, 20, F)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. dir))
  loom.save(dir .. "/in.safetensors", {a = A:double(), b = B:double()})
  local script = dir .. "/ref.py"
  local f = assert(io.open(script, "w"))
  f:write([[
import sys, json, struct, numpy as np
raw = open(sys.argv[1] + "/in.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
head = json.loads(raw[8:8 + n]); data = raw[8 + n:]
def get(k):
    t = head[k]; b, e = t["data_offsets"]
    return np.frombuffer(data[b:e], dtype=np.float64).reshape(t["shape"]).astype(np.float32)
a, b = get("a"), get("b")
c = (a @ b).astype(np.float32); x = np.exp(a).astype(np.float32)
with open(sys.argv[1] + "/out.txt", "w") as out:
    out.write(" ".join(repr(float(v)) for v in c.ravel()) + "\n")
    out.write(" ".join(repr(float(v)) for v in x.ravel()) + "\n")
]])
  f:close()
  assert(os.execute(py .. " " .. script .. " " .. dir))
  local lines = {}
  for line in io.lines(dir .. "/out.txt") do lines[#lines + 1] = line end
  os.execute("rm -r " .. dir)
  local function values(line)
    local t = {}
    for v in line:gmatch("%S+") do t[#t + 1] = tonumber(v) end
    return t
  end
  local c, x = values(lines[1]), values(lines[2])
  local C, X = A * B, A:map("exp")
  each_close(C, function(i, j) return c[(i - 1) * 20 + j] end, 2e-5, "numpy a @ b")
  each_close(X, function(i, j) return x[(i - 1) * 30 + j] end, 2.5e-7, "numpy exp")
end)

test("safetensors: F32 loads as float32 bit for bit, save writes each matrix in its dtype", function()
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. dir))
  local path = dir .. "/mixed.safetensors"
  -- values a double cannot round-trip through float: 1/3 rounded to float32 and back must stay
  local A = loom.matrix({{1 / 3, -2.5e-30}, {1e30, 0 / 0}}, F)
  local D = loom.matrix{{1 / 3, 2}}
  equal(loom.save(path, {a = A, d = D}), true, "save")
  local t, _, shapes, dtypes = loom.load(path)
  equal(dtypes.a, "F32", "float32 matrix saved as F32")
  equal(dtypes.d, "F64", "float64 matrix saved as F64")
  equal(t.a:dtype(), "float32", "F32 loads as float32")
  equal(t.d:dtype(), "float64", "F64 loads as float64")
  equal(shapes.a[1] * 10 + shapes.a[2], 22, "shape")
  for i = 1, 2 do
    for j = 1, 2 do
      local x, y = t.a:get(i, j), A:get(i, j)
      check(x == y or (x ~= x and y ~= y), "bits (%d, %d)", i, j)
    end
  end
  equal(t.d:get(1, 1), 1 / 3, "float64 exact")
  -- explicit dtypes still convert on the way out
  equal(loom.save(path, {a = A}, nil, {dtype = "F64"}), true, "save as F64")
  local t2, _, _, d2 = loom.load(path)
  equal(d2.a, "F64", "forced F64")
  equal(t2.a:dtype(), "float64", "F64 of a float32 matrix loads as float64")
  equal(t2.a:get(1, 1), A:get(1, 1), "widened exactly")
  -- the file's bytes are the float32 bits (4 per element after the header)
  equal(loom.save(path, {a = loom.matrix({1.5}, F)}), true, "save one")
  local f = assert(io.open(path, "rb"))
  local raw = f:read("a")
  f:close()
  equal(raw:sub(-4), string.pack("<f", 1.5), "F32 bytes at the end of the file")
  -- a model's state loads across dtypes (load_state_dict converts, as PyTorch's does)
  local lin = loom.nn.Linear(2, 1)
  lin:load_state_dict({weight = loom.matrix({{0.5, 0.25}}, F), bias = loom.matrix({1}, F)})
  equal(lin:parameters()[1].value:get(1, 2), 0.25, "converted into the float64 layer")
  os.execute("rm -r " .. dir)
end)
