-- test_matrix.lua: the matrix binding (src/bind/matrix.c, lua/loom/format.lua): every
-- function and method, every error message, lifetimes of views and closed matrices.
-- The CSV reader has its own file (test_csv.lua).
local loom = require "loom"
local M = loom.matrix_methods

-- Every element of A equals the nested table t (exactly).
local function same(A, t, what)
  local r, c = A:shape()
  equal(r, #t, (what or "matrix") .. " rows")
  for i = 1, r do
    equal(c, #t[i], (what or "matrix") .. " cols")
    for j = 1, c do
      local got, want = A:get(i, j), t[i][j]
      if not (got == want or (got ~= got and want ~= want)) then
        error(string.format("%s (%d, %d): expected %.17g, got %.17g", what or "matrix", i, j, want, got), 2)
      end
    end
  end
end

local function allocations() return loom.alloc_stats().allocations end

-- ---- construction ----

test("constructors", function()
  local A = loom.matrix{{1, 2, 3}, {4, 5, 6}}
  same(A, {{1, 2, 3}, {4, 5, 6}})
  same(loom.matrix{7, 8, 9}, {{7}, {8}, {9}}, "flat list is a column")
  same(loom.matrix(A), {{1, 2, 3}, {4, 5, 6}}, "copy constructor")
  check(not loom.matrix(A):is_view(), "loom.matrix(A) copies")
  equal(select(2, loom.matrix{}:shape()), 0, "empty")
  same(loom.zeros(2, 3), {{0, 0, 0}, {0, 0, 0}})
  same(loom.ones(1, 2), {{1, 1}})
  same(loom.fill(2, 1, -2.5), {{-2.5}, {-2.5}})
  same(loom.eye(2), {{1, 0}, {0, 1}})
  same(loom.eye(2, 3), {{1, 0, 0}, {0, 1, 0}})
  equal(loom.zeros(0, 4):cols(), 4, "0x4 cols")
  check(loom.is_matrix(A) and not loom.is_matrix({}) and not loom.is_matrix(3), "is_matrix")
  equal(A:rows(), 2, "rows"); equal(A:cols(), 3, "cols"); equal(A:numel(), 6, "numel")
  local r, c = A:shape()
  check(r == 2 and c == 3, "shape")
end)

test("constructor errors", function()
  checkerror("loom.matrix: row 2 is a number, expected a table", loom.matrix, {{1, 2}, 3})
  checkerror("loom.matrix: row 2 has 3 values, row 1 has 2", loom.matrix, {{1, 2}, {3, 4, 5}})
  checkerror("loom.matrix: value at (1, 2) is a string, expected a number", loom.matrix, {{1, "x"}})
  checkerror("loom.matrix: value 2 is a boolean, expected a number", loom.matrix, {1, true})
  checkerror_like("(table expected, got number)", loom.matrix, 3)
  checkerror("loom.zeros: rows must be in 0..2147483647, got -1", loom.zeros, -1, 2)
  checkerror("loom.ones: cols must be in 0..2147483647, got -3", loom.ones, 2, -3)
  checkerror("loom.fill: rows must be in 0..2147483647, got -1", loom.fill, -1, 1, 0)
  checkerror("loom.eye: n must be in 0..2147483647, got -2", loom.eye, -2)
  checkerror("loom.eye: cols must be in 0..2147483647, got -2", loom.eye, 2, -2)
  checkerror("loom.rand: cols must be in 0..2147483647, got -1", loom.rand, 1, -1)
  checkerror("loom.randn: rows must be in 0..2147483647, got -1", loom.randn, -1, 1)
  checkerror_like("(number has no integer representation)", loom.zeros, 1.5, 2)
  checkerror("loom.zeros: rows must be in 0..2147483647, got 1099511627776", loom.zeros, 1 << 40, 1 << 40)
  -- Every dimension is bounded, empty or not (issue 13, item 8): a 2^62 x 0 matrix made
  -- vcat overflow and map, norm and totable loop 2^62 times.
  checkerror("loom.zeros: rows must be in 0..2147483647, got 4611686018427387904", loom.zeros, 1 << 62, 0)
  checkerror("loom.zeros: cols must be in 0..2147483647, got 2147483648", loom.zeros, 0, 1 << 31)
  equal(loom.zeros(2147483647, 0):rows(), 2147483647, "the largest dimension")
  local tall = loom.zeros(2147483647, 0)
  checkerror("loom.vcat: the result would have more than 2147483647 rows", loom.vcat, {tall, loom.zeros(1, 0)})
  checkerror("loom.hcat: the result would have more than 2147483647 columns", loom.hcat,
    {loom.zeros(0, 2147483647), loom.zeros(0, 1)})
  checkerror("loom.eye: n must be in 0..2147483647, got 4611686018427387904", loom.eye, 1 << 62)
  checkerror("loom.permutation: n must be in 0..2147483647, got 4611686018427387904", loom.permutation, 1 << 62)
end)

-- ---- elements and views ----

test("get and set", function()
  local A = loom.matrix{{1, 2}, {3, 4}}
  equal(A:get(2, 1), 3, "get")
  check(rawequal(A:set(2, 1, 9), A), "set returns the matrix")
  equal(A:get(2, 1), 9, "set")
  local row, col = loom.matrix{{5, 6, 7}}, loom.matrix{5, 6, 7}
  equal(row:get(3), 7, "one index into a row")
  equal(col:get(2), 6, "one index into a column")
  checkerror("matrix:get: index (3, 1) out of range for a 2x2 matrix", A.get, A, 3, 1)
  checkerror("matrix:get: index (1, 0) out of range for a 2x2 matrix", A.get, A, 1, 0)
  checkerror("matrix:get: index 4 out of range for a 1x3 matrix", row.get, row, 4)
  checkerror("matrix:get: index 0 out of range for a 3x1 matrix", col.get, col, 0)
  checkerror("matrix:set: index (0, 1) out of range for a 2x2 matrix", A.set, A, 0, 1, 5)
  checkerror("matrix:set: index (2, 3) out of range for a 2x2 matrix", A.set, A, 2, 3, 5)
  checkerror("bad argument #3 to 'set' (number expected, got no value)", function() return A:set(1, 1) end)
  checkerror("bad argument #1 to 'get' (number expected, got string)", function() return A:get("x", 1) end)
  checkerror("bad argument #1 to 'rows' (matrix expected, got number)", function() return A.rows(3) end)
end)

test("row, col and slice are views that share storage", function()
  local A = loom.matrix{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}}
  local r, c, s = A:row(2), A:col(3), A:slice(2, 3, 1, 2)
  same(r, {{4, 5, 6}}); same(c, {{3}, {6}, {9}}); same(s, {{4, 5}, {7, 8}})
  check(r:is_view() and c:is_view() and s:is_view() and not A:is_view(), "is_view")
  s:set(1, 2, 50)
  equal(A:get(2, 2), 50, "a write into a view shows in the parent")
  equal(r:get(1, 2), 50, "and in the other views")
  A:set(3, 3, 90)
  equal(c:get(3, 1), 90, "a write into the parent shows in the view")
  same(A:slice(1, 2), {{1, 2, 3}, {4, 50, 6}}, "columns default to all")
  equal(A:slice(2, 1):rows(), 0, "an empty range")
  same(s:row(2), {{7, 8}}, "a view of a view")
  s:row(2):fill_(0)
  same(A, {{1, 2, 3}, {4, 50, 6}, {0, 0, 90}})
  c:zero_()
  same(A, {{1, 2, 0}, {4, 50, 0}, {0, 0, 0}})
  s:copy_(loom.matrix{{-1, -2}, {-3, -4}})
  same(A, {{1, 2, 0}, {-1, -2, 0}, {-3, -4, 0}}, "copy_ into a view")
  checkerror("matrix:row: row 4 out of range 1..3", A.row, A, 4)
  checkerror("matrix:row: row 0 out of range 1..3", A.row, A, 0)
  checkerror("matrix:col: column 0 out of range 1..3", A.col, A, 0)
  checkerror("matrix:slice: rows 1..4, columns 1..3 out of range for a 3x3 matrix", A.slice, A, 1, 4)
  checkerror("matrix:slice: rows 2..3, columns 2..4 out of range for a 3x3 matrix", A.slice, A, 2, 3, 2, 4)
  checkerror("matrix:slice: rows 3..1, columns 1..3 out of range for a 3x3 matrix", A.slice, A, 3, 1)
  checkerror("matrix:slice: rows 0..1, columns 1..3 out of range for a 3x3 matrix", A.slice, A, 0, 1)
  checkerror("matrix:copy_: cannot copy 2x2 into 2x3", A.copy_, A:slice(1, 2), loom.zeros(2, 2))
end)

test("views outlive their parent variable across collectgarbage()", function()
  collectgarbage(); collectgarbage()
  local live = loom.alloc_stats().live_blocks
  local r, vv, resh
  do
    local A = loom.matrix{{1, 2, 3}, {4, 5, 6}}
    r = A:row(2)
    vv = A:slice(1, 2, 2, 3):col(2)
    resh = A:reshape(3, 2)
  end
  for _ = 1, 3 do collectgarbage() end
  same(r, {{4, 5, 6}}, "row view")
  same(vv, {{3}, {6}}, "view of a view")
  same(resh, {{1, 2}, {3, 4}, {5, 6}}, "reshaped view")
  vv:set(1, 1, 30)
  equal(resh:get(2, 1), 30, "views of one parent still share storage")
  local junk = {}
  for i = 1, 200 do junk[i] = loom.rand(10, 10) end -- churn the collector
  junk = nil
  collectgarbage()
  equal(r:get(1, 3), 6, "after churn")
  r, vv, resh = nil, nil, nil
  collectgarbage(); collectgarbage()
  equal(loom.alloc_stats().live_blocks, live, "everything freed once the views go")
end)

test("<close>, double close and use after close", function()
  local live = loom.alloc_stats().live_blocks
  local kept, view, vview
  do
    local A <close> = loom.rand(3, 4)
    kept, view, vview = A, A:row(1), A:slice(1, 2):col(3)
    equal(loom.alloc_stats().live_blocks, live + 1, "one block while open")
  end
  equal(loom.alloc_stats().live_blocks, live, "freed at the end of the block")
  checkerror("attempt to use a released matrix", kept.get, kept, 1, 1)
  checkerror("attempt to use a released matrix", M.rows, kept)
  checkerror("attempt to use a released matrix", function() return kept + kept end)
  checkerror("attempt to use a released matrix", function() return kept * 2 end)
  checkerror("attempt to use a released matrix", function() return loom.ones(3, 4):add_(kept) end)
  checkerror("attempt to use a released matrix", function() return tostring(kept) end)
  checkerror("attempt to use a released matrix", view.get, view, 1, 1)
  checkerror("attempt to use a released matrix", vview.sum, vview)
  checkerror("attempt to use a released matrix", loom.hcat, {loom.zeros(3, 1), kept})
  kept:close() -- a second close is harmless
  kept:close()
  -- Closing a view leaves its parent alone.
  local B = loom.matrix{{1, 2}, {3, 4}}
  local v = B:row(1)
  v:close()
  checkerror("attempt to use a released matrix", v.get, v, 1, 1)
  equal(B:get(1, 2), 2, "parent of a closed view")
  B:close()
  collectgarbage() -- __gc after close does nothing more
end)

test("copy, t and reshape", function()
  local A = loom.matrix{{1, 2, 3}, {4, 5, 6}}
  local C = A:copy()
  C:set(1, 1, 100)
  equal(A:get(1, 1), 1, "copy is independent")
  same(A:t(), {{1, 4}, {2, 5}, {3, 6}})
  same(A:slice(1, 2, 2, 3):t(), {{2, 5}, {3, 6}}, "transpose of a view")
  local R = A:reshape(3, 2)
  check(R:is_view(), "contiguous reshape is a view")
  same(R, {{1, 2}, {3, 4}, {5, 6}})
  R:set(3, 1, 50)
  equal(A:get(2, 2), 50, "reshape view writes through")
  local S = A:slice(1, 2, 1, 2):reshape(1, 4) -- strided: a copy
  check(not S:is_view(), "strided reshape copies")
  same(S, {{1, 2, 4, 50}})
  S:set(1, 1, -1)
  equal(A:get(1, 1), 1, "reshape copy is independent")
  same(A:row(2):reshape(3, 1), {{4}, {50}, {6}}, "a single row is contiguous")
  equal(loom.zeros(0, 6):reshape(3, 0):rows(), 3, "empty reshape")
  checkerror("matrix:reshape: cannot reshape 2x3 (6 values) into 4x2", A.reshape, A, 4, 2)
  checkerror("matrix:reshape: rows must be in 0..2147483647, got -2", A.reshape, A, -2, -3)
  checkerror("matrix:reshape: rows must be in 0..2147483647, got 4611686018427387904",
    M.reshape, loom.zeros(0, 3), 1 << 62, 0)
end)

-- ---- arithmetic ----

test("operators", function()
  local A = loom.matrix{{1, 2}, {3, 4}}
  local B = loom.matrix{{5, 6}, {7, 8}}
  same(A + B, {{6, 8}, {10, 12}})
  same(A - B, {{-4, -4}, {-4, -4}})
  same(A * B, {{19, 22}, {43, 50}}, "matrix product")
  same(-A, {{-1, -2}, {-3, -4}})
  same(A * 2, {{2, 4}, {6, 8}}); same(2 * A, {{2, 4}, {6, 8}})
  same(A / 2, {{0.5, 1}, {1.5, 2}}); same(12 / A, {{12, 6}, {4, 3}})
  same(A + 1, {{2, 3}, {4, 5}}); same(1 - A, {{0, -1}, {-2, -3}})
  same(loom.matrix{{1, 2, 3}} * loom.matrix{1, 2, 3}, {{14}}, "row times column")
  same(loom.zeros(3, 0) * loom.zeros(0, 2), {{0, 0}, {0, 0}, {0, 0}}, "empty inner dimension")
  equal((loom.zeros(0, 3) * loom.zeros(3, 2)):cols(), 2, "empty product")
  local P = loom.randn(7, 5) * loom.randn(5, 3)
  equal(select(2, P:shape()), 3, "product shape")
  checkerror("matrix *: cannot multiply 3x4 by 5x2", function() return loom.zeros(3, 4) * loom.zeros(5, 2) end)
  checkerror("matrix +: cannot add 2x2 and 3x2", function() return A + loom.zeros(3, 2) end)
  checkerror("matrix -: cannot subtract 2x2 and 2x3", function() return A - loom.zeros(2, 3) end)
  checkerror("matrix /: cannot divide 2x2 by 1x3", function() return A / loom.zeros(1, 3) end)
  checkerror("matrix +: expected a matrix or a number, got string", function() return A + "x" end)
  checkerror("matrix *: expected a matrix or a number, got table", function() return A * {} end)
end)

test("elementwise methods and broadcasting", function()
  local A = loom.matrix{{1, 2, 3}, {4, 5, 6}}
  local row, col, one = loom.matrix{{10, 20, 30}}, loom.matrix{100, 200}, loom.matrix{{2}}
  same(A:add(row), {{11, 22, 33}, {14, 25, 36}}, "row broadcast")
  same(A:add(col), {{101, 102, 103}, {204, 205, 206}}, "column broadcast")
  same(A:mul(one), {{2, 4, 6}, {8, 10, 12}}, "1x1 broadcast")
  same(row:sub(A), {{9, 18, 27}, {6, 15, 24}}, "small left operand spreads")
  same(col:div(A), {{100, 50, 100 / 3}, {50, 40, 200 / 6}}, "column on the left")
  same(one:pow(A), {{2, 4, 8}, {16, 32, 64}}, "1x1 on the left")
  same(A:mul(A), {{1, 4, 9}, {16, 25, 36}}, "elementwise product")
  same(A:div(A), {{1, 1, 1}, {1, 1, 1}})
  same(A:pow(2), {{1, 4, 9}, {16, 25, 36}})
  same(A:sub(1), {{0, 1, 2}, {3, 4, 5}})
  same(A:maximum(3), {{3, 3, 3}, {4, 5, 6}}); same(A:minimum(row:mul(0.1)), {{1, 2, 3}, {1, 2, 3}})
  same(A:maximum(loom.matrix{{0 / 0, 0, 0}}), {{0 / 0, 2, 3}, {0 / 0, 5, 6}}, "NaN propagates")
  checkerror("matrix:mul: cannot multiply 3x4 by 5x2", M.mul, loom.zeros(3, 4), loom.zeros(5, 2))
  checkerror("matrix:add: cannot add 2x3 and 3x2", A.add, A, A:t())
  checkerror("matrix:sub: cannot subtract 2x3 and 3x3", A.sub, A, loom.zeros(3, 3))
  checkerror("matrix:div: cannot divide 2x3 by 1x2", A.div, A, loom.zeros(1, 2))
  checkerror("matrix:pow: cannot raise 2x3 to 3x1", A.pow, A, loom.zeros(3, 1))
  checkerror("matrix:maximum: cannot take the maximum of 2x3 and 2x2", A.maximum, A, loom.zeros(2, 2))
  checkerror("matrix:minimum: cannot take the minimum of 2x3 and 3x3", A.minimum, A, loom.zeros(3, 3))
  checkerror("matrix:add: cannot add 1x3 and 3x1", row.add, row, loom.zeros(3, 1))
  checkerror("matrix:add: expected a matrix or a number, got boolean", A.add, A, true)
  checkerror("matrix:add: expected a matrix", M.add, 1, 2)
end)

test("in-place operations", function()
  local A = loom.matrix{{1, 2}, {3, 4}}
  check(rawequal(A:add_(1), A), "add_ returns the target")
  same(A, {{2, 3}, {4, 5}})
  A:sub_(loom.matrix{{1, 1}}); same(A, {{1, 2}, {3, 4}})
  A:mul_(loom.matrix{2, 3}); same(A, {{2, 4}, {9, 12}})
  A:div_(2); same(A, {{1, 2}, {4.5, 6}})
  A:pow_(2); same(A, {{1, 4}, {20.25, 36}})
  A:maximum_(5); same(A, {{5, 5}, {20.25, 36}})
  A:minimum_(loom.matrix{{10}}); same(A, {{5, 5}, {10, 10}})
  A:add_(A); same(A, {{10, 10}, {20, 20}}, "A:add_(A)")
  check(rawequal(A:axpy_(-0.5, loom.matrix{{2, 4}, {6, 8}}), A), "axpy_ returns the target")
  same(A, {{9, 8}, {17, 16}})
  A:fill_(7); same(A, {{7, 7}, {7, 7}})
  A:zero_(); same(A, {{0, 0}, {0, 0}})
  A:copy_(loom.eye(2)); same(A, {{1, 0}, {0, 1}})
  A:map_("neg"); same(A, {{-1, 0}, {0, -1}})
  -- Overlapping operands behave as if copied first (numpy's rule).
  local V = loom.matrix{1, 2, 3, 4}
  V:slice(2, 4):add_(V:slice(1, 3))
  same(V, {{1}, {3}, {5}, {7}}, "shifted slice")
  local W = loom.matrix{{1, 2}, {3, 4}, {5, 6}}
  W:sub_(W:row(1))
  same(W, {{0, 0}, {2, 2}, {4, 4}}, "a broadcast row inside the target")
  local X = loom.matrix{{1, 2, 3}, {4, 5, 6}}
  X:col(2):add_(X:col(1))
  same(X, {{1, 3, 3}, {4, 9, 6}}, "neighbouring columns")
  checkerror("matrix:add_: cannot add 2x2 and 2x3", A.add_, A, loom.zeros(2, 3))
  checkerror("matrix:mul_: cannot multiply 1x2 by 2x2", function() return loom.zeros(1, 2):mul_(loom.zeros(2, 2)) end)
  checkerror("matrix:add_: the target of an in-place operation must be a matrix", M.add_, 2, A)
  checkerror("matrix:axpy_: cannot add 3x2 to 2x2", A.axpy_, A, 1, loom.zeros(3, 2))
  checkerror("bad argument #2 to 'axpy_' (matrix expected, got number)", function() return A:axpy_(2, 3) end)
end)

test("in-place operations allocate nothing", function()
  local A, B, C = loom.rand(4, 4), loom.rand(4, 4), loom.zeros(4, 4)
  local X, out, idx = loom.rand(50, 3), loom.zeros(4, 3), {5, 1, 50, 5}
  local bias = loom.rand(1, 4)
  local function step()
    C:add_(A); C:mul_(2); C:sub_(bias); C:axpy_(0.1, B); C:map_("tanh")
    C:matmul_(A, B, {beta = 1}); C:fill_(0); C:copy_(A); C:maximum_(0)
    X:index_rows(idx, out)
  end
  step()
  local before = allocations()
  for _ = 1, 100 do step() end
  equal(allocations(), before, "engine allocations during 100 steps")
  same(out, {X:row(5):totable()[1], X:row(1):totable()[1], X:row(50):totable()[1], X:row(5):totable()[1]},
    "index_rows into out")
end)

test("matmul_", function()
  local A = loom.matrix{{1, 2}, {3, 4}, {5, 6}}   -- 3x2
  local B = loom.matrix{{1, 0, 2}, {0, 1, 3}}     -- 2x3
  local C = loom.zeros(3, 3)
  check(rawequal(C:matmul_(A, B), C), "returns the output")
  same(C, (A * B):totable())
  C:matmul_(A, B, {alpha = 2, beta = 1})
  same(C, (A * B * 3):totable(), "alpha and beta")
  local D = loom.zeros(2, 2)
  D:matmul_(A, A, {ta = true})
  same(D, (A:t() * A):totable(), "ta")
  local E = loom.zeros(3, 3)
  E:matmul_(A, A, {tb = true})
  same(E, (A * A:t()):totable(), "tb")
  E:matmul_(B, A, {ta = true, tb = true})
  same(E, (A * B):t():totable(), "ta and tb")
  local y = loom.zeros(3, 1)
  y:matmul_(A, loom.matrix{1, 1})
  same(y, {{3}, {7}, {11}}, "matrix times vector")
  checkerror("matrix:matmul_: cannot multiply 3x2 by 3x2", C.matmul_, C, A, A)
  checkerror("matrix:matmul_: cannot multiply 2x3 by 2x3", C.matmul_, C, A, A, {ta = true, tb = true})
  checkerror("matrix:matmul_: the product is 3x3 but the output is 2x2", D.matmul_, D, A, B)
  checkerror("matrix:matmul_: the output shares storage with an input", A.matmul_, A, A:slice(1, 2), loom.eye(2))
  local S = loom.zeros(4, 4)
  checkerror("matrix:matmul_: the output shares storage with an input", function()
    S:slice(1, 2):matmul_(S:slice(2, 3, 1, 2), loom.zeros(2, 4))
  end)
end)

test("dot, norm, clamp, allclose", function()
  local A = loom.matrix{{1, 2}, {3, 4}}
  equal(A:dot(A), 30, "dot")
  checkerror("matrix:dot: cannot take the dot product of 2x2 and 1x2", A.dot, A, loom.zeros(1, 2))
  close(A:norm(), math.sqrt(30), 1e-15, "norm")
  close(loom.fill(10, 10, 1e200):norm(), 1e201, 1e-15, "norm of huge values")
  close(loom.fill(10, 10, 1e-200):norm(), 1e-199, 1e-15, "norm of tiny values")
  equal(loom.zeros(0, 3):norm(), 0, "empty norm")
  same(A:clamp(2, 3), {{2, 2}, {3, 3}}); same(A:clamp(nil, 2), {{1, 2}, {2, 2}}); same(A:clamp(3), {{3, 3}, {3, 4}})
  checkerror("matrix:clamp: lower bound 2.0 is above upper bound 1.0", A.clamp, A, 2, 1)
  checkerror("matrix:clamp: lower bound 0.5 is above upper bound -inf", A.clamp, A, 0.5, -1 / 0)
  local B = A + 1e-7
  check(A:allclose(B), "default rtol 1e-5, atol 1e-8")
  check(not A:allclose(B, 0, 0), "no tolerance")
  check(A:allclose(B, 0, 1e-6), "atol")
  check(not A:allclose(A + 1e-3), "too far")
  check(not loom.matrix{{0 / 0}}:allclose(loom.matrix{{0 / 0}}), "NaN is never close")
  check(loom.matrix{{1 / 0}}:allclose(loom.matrix{{1 / 0}}), "equal infinities")
  check(not loom.matrix{{1 / 0}}:allclose(loom.matrix{{1e308}}, 1), "infinity is close only to itself")
  checkerror("matrix:allclose: cannot compare 2x2 with 2x1", A.allclose, A, loom.zeros(2, 1))
end)

-- ---- maps ----

test("map, map_ and apply", function()
  local x = {-2, -0.5, 0, 0.5, 2}
  local A = loom.matrix{x}
  local ref = {
    neg = function(v) return -v end, exp = math.exp, tanh = function(v) return (math.exp(v) - math.exp(-v)) / (math.exp(v) + math.exp(-v)) end,
    sigmoid = function(v) return 1 / (1 + math.exp(-v)) end, relu = function(v) return v > 0 and v or 0 end,
    abs = math.abs, square = function(v) return v * v end, sin = math.sin, cos = math.cos,
    expm1 = function(v) return math.exp(v) - 1 end, floor = math.floor, ceil = math.ceil,
    sign = function(v) return v > 0 and 1 or v < 0 and -1 or 0 end,
    round = function(v) local f = math.floor(v + 0.5); if f - v == 0.5 and f % 2 == 1 then f = f - 1 end; return f end,
  }
  for name, f in pairs(ref) do
    local B = A:map(name)
    for j = 1, #x do close(B:get(1, j), f(x[j]), 1e-14, name .. "(" .. x[j] .. ")") end
  end
  local P = loom.matrix{{0.25, 1, 4}}
  same(P:map("sqrt"), {{0.5, 1, 2}}); same(P:map("reciprocal"), {{4, 1, 0.25}})
  close(P:map("log"):get(1, 3), math.log(4), 1e-15, "log"); close(P:map("log1p"):get(1, 1), math.log(1.25), 1e-15, "log1p")
  equal(loom.matrix{{-1}}:map("sqrt"):get(1, 1) ~= loom.matrix{{-1}}:map("sqrt"):get(1, 1), true, "sqrt(-1) is NaN")
  same(loom.matrix{{-1000, 1000}}:map("sigmoid"), {{0, 1}}, "sigmoid saturates without overflow")
  same(A:map("relu"), {{0, 0, 0, 0.5, 2}})
  local C = A:copy()
  check(rawequal(C:map_("abs"), C), "map_ returns the matrix")
  same(C, {{2, 0.5, 0, 0.5, 2}})
  A:slice(1, 1, 2, 3):map_("square")
  same(A, {{-2, 0.25, 0, 0.5, 2}}, "map_ on a view")
  same(A:apply(function(v, i, j) return v + 10 * i + 100 * j end), {{108, 210.25, 310, 410.5, 512}})
  checkerror('matrix:map: unknown function "foo" (known: neg, exp, log, tanh, sigmoid, relu, abs, sqrt, square, sin, cos, log1p, expm1, floor, ceil, round, sign, reciprocal)',
    A.map, A, "foo")
  checkerror_like('matrix:map_: unknown function "Exp"', A.map_, A, "Exp")
  checkerror("matrix:apply: the function returned a string at (1, 1), expected a number", A.apply, A, function() return "x" end)
  checkerror("bad argument #1 to 'apply' (function expected, got number)", function() return A:apply(3) end)
  checkerror_like("boom", A.apply, A, function() error("boom") end)
end)

-- ---- reductions ----

test("reductions and the dim convention", function()
  local A = loom.matrix{{1, 5, 3}, {4, 2, 6}}
  equal(A:sum(), 21, "sum"); equal(A:mean(), 3.5, "mean"); equal(A:max(), 6, "max"); equal(A:min(), 1, "min")
  local r, c = A:argmax()
  check(r == 2 and c == 3, "argmax is (row, col)")
  r, c = A:argmin()
  check(r == 1 and c == 1, "argmin")
  -- dim 1: down the rows, one value per column (1 x cols); dim 2: along each row (rows x 1).
  same(A:sum(1), {{5, 7, 9}}); same(A:sum(2), {{9}, {12}})
  same(A:mean(1), {{2.5, 3.5, 4.5}}); same(A:mean(2), {{3}, {4}})
  same(A:max(1), {{4, 5, 6}}); same(A:max(2), {{5}, {6}})
  same(A:min(1), {{1, 2, 3}}); same(A:min(2), {{1}, {2}})
  same(A:argmax(1), {{2, 1, 2}}); same(A:argmax(2), {{2}, {3}})
  same(A:argmin(1), {{1, 2, 1}}); same(A:argmin(2), {{1}, {2}})
  same(A:slice(1, 2, 2, 3):sum(1), {{7, 9}}, "on a view")
  -- Ties: the first wins. NaN: wins max/min and argmax/argmin (numpy).
  local T = loom.matrix{{3, 1, 3}, {3, 3, 0}}
  r, c = T:argmax(); check(r == 1 and c == 1, "first of tied maxima")
  same(T:argmax(1), {{1, 2, 1}}); same(T:argmax(2), {{1}, {1}})
  local nan = 0 / 0
  local N = loom.matrix{{1, nan, 7}, {9, 2, nan}}
  check(N:max() ~= N:max(), "max with NaN is NaN")
  r, c = N:argmax(); check(r == 1 and c == 2, "argmax finds the first NaN")
  same(N:max(1), {{9, nan, nan}}); same(N:argmin(2), {{2}, {3}})
  check(N:sum() ~= N:sum(), "sum with NaN")
  -- Empty matrices.
  local E = loom.zeros(0, 3)
  equal(E:sum(), 0, "empty sum"); same(E:sum(1), {{0, 0, 0}}); equal(E:sum(2):rows(), 0, "empty sum(2)")
  checkerror("matrix:max: empty 0x3 matrix has no extreme value", E.max, E)
  checkerror("matrix:argmin: empty 0x3 matrix has no extreme value", E.argmin, E, 1)
  checkerror("matrix:mean: empty 0x3 matrix has no mean", E.mean, E)
  equal(E:max(2):rows(), 0, "max along empty rows of nothing")
  checkerror("matrix:sum: dim must be 1 (down the rows) or 2 (along the columns), got 3", A.sum, A, 3)
  checkerror("matrix:argmax: dim must be 1 (down the rows) or 2 (along the columns), got -1", A.argmax, A, -1)
  -- Accuracy: pairwise summation of 10^6 values of 0.1.
  local big = loom.fill(1000000, 1, 0.1)
  close(big:sum(), 100000, 4 * 2 ^ -36 / 100000, "pairwise sum") -- within 4 ulps of 1e5
  close(big:reshape(1, 1000000):sum(2):get(1, 1), 100000, 4 * 2 ^ -36 / 100000, "sum(2)")
end)

-- ---- conversion and concatenation ----

test("totable, tolist, index_rows", function()
  local A = loom.matrix{{1, 2}, {3, 4}, {5, 6}}
  local t = A:totable()
  check(#t == 3 and #t[1] == 2 and t[3][2] == 6, "totable")
  local l = A:slice(2, 3):tolist()
  check(#l == 4 and l[1] == 3 and l[4] == 6, "tolist is row-major")
  same(A:index_rows{3, 1, 3}, {{5, 6}, {1, 2}, {5, 6}})
  local out = loom.zeros(2, 2)
  check(rawequal(A:index_rows({2, 2}, out), out), "index_rows returns out")
  same(out, {{3, 4}, {3, 4}})
  equal(A:index_rows({}):rows(), 0, "no indices")
  equal(loom.zeros(3, 0):index_rows({3, 1}):rows(), 2, "rows of no columns")
  checkerror("matrix:index_rows: 2 indices of 2 columns do not fit a 3x2 output", A.index_rows, A, {1, 2}, loom.zeros(3, 2))
  checkerror("matrix:index_rows: index 2 is 4, not a row of a matrix with 3 rows", A.index_rows, A, {1, 4})
  checkerror("matrix:index_rows: index 1 is 1.5, not a row of a matrix with 3 rows", A.index_rows, A, {1.5})
  checkerror("matrix:index_rows: index 2 is a string, expected a row number in 1..3", A.index_rows, A, {1, "2"})
  checkerror("matrix:index_rows: the output shares storage with the input", A.index_rows, A, {3, 1}, A:slice(1, 2))
  checkerror("matrix:index_rows: index 1 is a string, expected a row number in 1..3", A.index_rows, A, {"x"})
  checkerror("matrix:index_rows: index 1 is 0, not a row of a matrix with 3 rows", A.index_rows, A, {0})
end)

test("hcat and vcat", function()
  local A, B = loom.matrix{{1, 2}, {3, 4}}, loom.matrix{5, 6}
  same(loom.hcat{A, B}, {{1, 2, 5}, {3, 4, 6}})
  same(loom.hcat{B, A:col(2), loom.zeros(2, 0)}, {{5, 2}, {6, 4}})
  same(loom.vcat{A, A:row(1), loom.zeros(0, 2)}, {{1, 2}, {3, 4}, {1, 2}})
  same(loom.vcat{A}, {{1, 2}, {3, 4}})
  check(not loom.vcat{A}:is_view(), "a new matrix")
  checkerror("loom.hcat: expected a non-empty list of matrices", loom.hcat, {})
  checkerror("loom.vcat: item 2 is a number, expected a matrix", loom.vcat, {A, 3})
  checkerror("loom.hcat: item 2 is 3x2 but item 1 is 2x2 (rows must match)", loom.hcat, {A, loom.zeros(3, 2)})
  checkerror("loom.vcat: item 3 is 1x3 but item 1 is 2x2 (columns must match)", loom.vcat, {A, A, loom.zeros(1, 3)})
  checkerror_like("(table expected, got no value)", loom.hcat)
end)

-- ---- tostring ----

test("tostring", function()
  equal(tostring(loom.matrix{{1, 2}, {3, 4}}), "matrix([[1., 2.],\n        [3., 4.]])", "integers")
  equal(tostring(loom.matrix{{1, 2}, {3, -40}}), "matrix([[  1.,   2.],\n        [  3., -40.]])", "signed integers")
  equal(tostring(loom.matrix{{1.5, -2.25}, {3, 400}}), "matrix([[  1.5 ,  -2.25],\n        [  3.  , 400.  ]])", "fixed, points aligned")
  equal(tostring(loom.matrix{{1 / 3, 2 / 3}}), "matrix([[0.33333333, 0.66666667]])", "eight digits")
  equal(tostring(loom.matrix{{1e-5, 1}, {3, 4}}), "matrix([[1.e-05, 1.e+00],\n        [3.e+00, 4.e+00]])", "scientific")
  equal(tostring(loom.matrix{{123456789.5, 1}}), "matrix([[1.2345679e+08, 1.0000000e+00]])", "scientific, one mantissa length")
  equal(tostring(loom.matrix{{-1e-7, 2.5, 3}}), "matrix([[-1.0e-07,  2.5e+00,  3.0e+00]])", "scientific with sign")
  equal(tostring(loom.matrix{{0 / 0, 1 / 0}, {-1 / 0, 1.5}}), "matrix([[ nan,  inf],\n        [-inf,  1.5]])", "nan and inf")
  equal(tostring(loom.matrix{{0 / 0, 1e-5, 1}}), "matrix([[   nan, 1.e-05, 1.e+00]])", "nan among scientific")
  equal(tostring(loom.matrix{{0, -0.0}}), "matrix([[ 0., -0.]])", "signed zero")
  equal(tostring(loom.zeros(0, 3)), "matrix([], shape=0x3)", "empty")
  equal(tostring(loom.zeros(2, 0)), "matrix([], shape=2x0)", "empty columns")
  local big = loom.zeros(40, 50)
  for i = 1, 40 do for j = 1, 50 do big:set(i, j, (i - 1) * 50 + j - 1) end end
  equal(tostring(big), table.concat({
    "matrix([[   0.,    1.,    2., ...,   47.,   48.,   49.],",
    "        [  50.,   51.,   52., ...,   97.,   98.,   99.],",
    "        [ 100.,  101.,  102., ...,  147.,  148.,  149.],",
    "        ...,",
    "        [1850., 1851., 1852., ..., 1897., 1898., 1899.],",
    "        [1900., 1901., 1902., ..., 1947., 1948., 1949.],",
    "        [1950., 1951., 1952., ..., 1997., 1998., 1999.]], shape=40x50)"}, "\n"), "truncated")
  equal(tostring(loom.eye(3):row(2)), "matrix([[0., 1., 0.]])", "a view prints its own values")
  local tall = tostring(loom.zeros(1001, 1))
  check(tall:find("...,", 1, true) and tall:find("shape=1001x1", 1, true), "a tall matrix is summarised")
  check(not tostring(loom.zeros(10, 100)):find("...", 1, true), "1000 values are shown in full")
end)

-- ---- random numbers and threads ----

test("seed, rand, randn, rng_state", function()
  loom.seed(42)
  local A = loom.rand(3, 4)
  -- xoshiro256** seeded by splitmix64 (values from an independent Python implementation).
  equal(A:get(1, 1), 0.08386297105988216, "first uniform for seed 42")
  equal(A:get(1, 2), 0.3789802506626686, "second uniform, row-major")
  loom.seed(42)
  check(loom.rand(3, 4):allclose(A, 0, 0), "same seed, same values")
  check(A:min() >= 0 and A:max() < 1, "rand in [0, 1)")
  local state = loom.rng_state()
  equal(#state, 32, "state is 32 bytes")
  local X = loom.randn(200, 50)
  loom.rng_state(state)
  check(loom.randn(200, 50):allclose(X, 0, 0), "rng_state round trip")
  close(X:mean(), 0, 0.03, "randn mean")
  close(((X - X:mean()):mul(X - X:mean())):mean(), 1, 0.05, "randn variance")
  loom.seed(7)
  local p = loom.permutation(10)
  local seen = {}
  for i = 1, 10 do seen[p[i]] = true end
  for i = 1, 10 do check(seen[i], "permutation holds %d", i) end
  equal(#loom.permutation(0), 0, "empty permutation")
  for _ = 1, 100 do
    local k = loom.random_int(3)
    check(k >= 1 and k <= 3 and math.type(k) == "integer", "random_int in 1..3")
  end
  checkerror_like("(expected the 32-byte string loom.rng_state() returned)", loom.rng_state, "abc")
  -- xoshiro256** stuck at zero returns zeros forever (issue 13, item 9)
  local before = loom.rng_state()
  checkerror("loom.rng_state: an all-zero state is not a generator state (it would return zeros forever)",
    loom.rng_state, string.rep("\0", 32))
  equal(loom.rng_state(), before, "a refused state changes nothing")
  loom.rng_state(string.rep("\0", 31) .. "\1")
  check(loom.rand(1, 4):norm() > 0, "any other state is a generator")
  checkerror_like("(n must be >= 1)", loom.random_int, 0)
  checkerror("loom.permutation: n must be in 0..2147483647, got -1", loom.permutation, -1)
  checkerror_like("(number has no integer representation)", loom.seed, 1.5)
end)

test("threads", function()
  local before = loom.threads()
  check(math.type(before) == "integer" and before >= 1, "threads() is the current count")
  equal(loom.threads(1), 1, "one thread")
  local A, B = loom.randn(100, 80), loom.randn(80, 60)
  local one = A * B
  loom.threads(2)
  check((A * B):allclose(one, 1e-12, 1e-12), "same product with two threads")
  loom.threads(before)
  checkerror("loom.threads: thread count must be in 1..4096, got 0", loom.threads, 0)
  -- 2^31 once wrapped to a negative int and became 1 thread silently (issue 13, item 10).
  checkerror("loom.threads: thread count must be in 1..4096, got 2147483648", loom.threads, 1 << 31)
  equal(loom.threads(), before, "a refused count changes nothing")
end)

-- The most blocks alive at once beyond those before, over 100 dropped X + X.
local function peak_of_dropped_sums(X)
  local live, peak = loom.alloc_stats().live_blocks, 0
  for _ = 1, 100 do
    local _ = X + X
    peak = math.max(peak, loom.alloc_stats().live_blocks - live)
  end
  return peak
end

test("garbage matrices are collected in pace with their storage", function()
  -- The userdata is small; without telling the collector about the storage, 100 dropped
  -- 300x300 results stayed alive until some unrelated cycle.
  collectgarbage(); collectgarbage()
  local peak = peak_of_dropped_sums(loom.rand(300, 300))
  check(peak < 20, "at most %d dropped matrices alive at once, saw %d", 20, peak)
end)

test("big matrices do not make the collector traverse a big heap for each one", function()
  -- A heap of many objects (a corpus) is as costly to traverse as it is big; beside 64 MB
  -- of live storage each new block steps the collector by a third of its size (8 x heap /
  -- storage), so 100 MB of dropped 1 MB blocks beside a 2.6 MB heap run about 11 cycles
  -- (33 when the step was the whole size).
  collectgarbage(); collectgarbage()
  local small, storage = {}, {}
  for i = 1, 20000 do small[i] = {i} end
  for i = 1, 8 do storage[i] = loom.zeros(1000, 1000) end
  collectgarbage(); collectgarbage()
  local cycles, sentinel = 0, {}
  sentinel.__gc = function() cycles = cycles + 1; setmetatable({}, sentinel) end
  setmetatable({}, sentinel)
  local peak = peak_of_dropped_sums(loom.rand(128, 1024))
  sentinel.__gc = nil
  print(string.format("  %d collector cycles for 100 dropped 1 MB blocks, at most %d alive at once", cycles, peak))
  check(cycles >= 2 and cycles <= 20, "2 to 20 collector cycles for 100 blocks, ran %d", cycles)
  check(peak <= 30, "at most 30 dropped 1 MB blocks alive at once, saw %d", peak)
  check(#small == 20000 and #storage == 8, "the heap and the storage stayed")
end)

test("beside a heap bigger than the storage, garbage stays within two heaps' worth", function()
  -- (a vocabulary and its sentences as Lua tables): the step is the whole block there, as
  -- it always was; a quarter would let 117 dropped 1 MB blocks pile up beside 29 MB of heap
  collectgarbage(); collectgarbage()
  local small = {}
  for i = 1, 200000 do small[i] = {i, tostring(i)} end
  collectgarbage(); collectgarbage()
  local heap_mb = collectgarbage("count") / 1024
  local live, peak = loom.alloc_stats().live_blocks, 0
  local X = loom.rand(128, 1024)
  for _ = 1, 200 do
    local _ = X + X
    peak = math.max(peak, loom.alloc_stats().live_blocks - live)
  end
  check(peak <= 2 * heap_mb, "at most %d dropped 1 MB blocks (twice the %.0f MB heap) alive at once, saw %d",
    math.floor(2 * heap_mb), heap_mb, peak)
  check(#small == 200000, "the heap stayed")
end)

test("alloc_stats", function()
  local s = loom.alloc_stats()
  for _, k in ipairs{"allocations", "frees", "live_blocks", "live_bytes"} do
    check(math.type(s[k]) == "integer", "%s is an integer", k)
  end
  local A = loom.zeros(10, 10)
  local t = loom.alloc_stats()
  equal(t.live_blocks, s.live_blocks + 1, "one more live block")
  equal(t.live_bytes - s.live_bytes, 800, "800 bytes")
  A:close()
  equal(loom.alloc_stats().live_blocks, s.live_blocks, "closed")
end)

test("tostring matches numpy's repr", function()
  local py, why = reference_python({"numpy"})
  if not py then skip(why) end
  -- Values numpy and loom print the same way (loom keeps integer matrices in fixed
  -- notation and does not wrap long lines, so those cases are not here).
  local cases = {
    {"[[1.5, -2.25], [3, 400]]", loom.matrix{{1.5, -2.25}, {3, 400}}},
    {"[[1e-5, 1], [3, 4]]", loom.matrix{{1e-5, 1}, {3, 4}}},
    {"[[np.nan, np.inf], [-np.inf, 1.5]]", loom.matrix{{0 / 0, 1 / 0}, {-1 / 0, 1.5}}},
    {"[[np.nan, np.inf], [-np.inf, 2]]", loom.matrix{{0 / 0, 1 / 0}, {-1 / 0, 2}}},
    {"[[123456789.5, 1]]", loom.matrix{{123456789.5, 1}}},
    {"[[0.1, 0.25]]", loom.matrix{{0.1, 0.25}}},
    {"[[-1e-7, 2.5, 3]]", loom.matrix{{-1e-7, 2.5, 3}}},
    {"[[np.nan, 1e-5, 1]]", loom.matrix{{0 / 0, 1e-5, 1}}},
    {"[[1/3, 2/3], [-1/7, 10]]", loom.matrix{{1 / 3, 2 / 3}, {-1 / 7, 10}}},
    {"[[1e20, 1]]", loom.matrix{{1e20, 1}}},
    {"[[0.0, -0.0]]", loom.matrix{{0, -0.0}}},
    {"[[1, 2], [3, -40]]", loom.matrix{{1, 2}, {3, -40}}},
  }
  local script = os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write("import numpy as np\n")
  for _, c in ipairs(cases) do
    f:write("print(repr(np.array(", c[1], ", dtype=float)).replace('\\n', '|'))\n")
  end
  f:close()
  local out = assert(io.popen(py .. " " .. script))
  local k = 0
  for line in out:lines() do
    k = k + 1
    -- numpy says "array(" and indents continuation lines by 7; loom "matrix(" and 8.
    local want = line:gsub("^array%(", "matrix("):gsub("|       ", "\n        ")
    equal(tostring(cases[k][2]), want, "case " .. cases[k][1])
  end
  out:close()
  os.remove(script)
  equal(k, #cases, "numpy printed every case")
end)

test("loom.core holds the bindings of src/bind/core.c's table, and nothing else", function()
  local core = require "loom.core"
  local names = {}
  for k, v in pairs(core) do
    if type(v) == "table" then names[#names + 1] = k end
  end
  table.sort(names)
  equal(table.concat(names, " "), "attention audio conv data decoder linalg matrix nn numwords process rnn safetensors sqlite subword", "bindings")
  equal(core.version, loom.version or core.version, "version")
  -- every userdata type is made by the one class helper: __name, methods, __gc
  for _, mt in ipairs{core.matrix.metatable, core.nn.module_metatable, core.nn.loss_metatable,
      core.rnn.sequence_metatable, core.rnn.cell_metatable} do
    check(type(mt.__name) == "string" and type(mt.methods) == "table" and mt.__gc, "class %s",
      tostring(mt.__name))
  end
end)

test("every userdata class is made by the one class helper (methods table, __name, __gc)", function()
  local core = require "loom.core"
  local db <close> = core.sqlite.open(":memory:")
  local objects = {matrix = loom.zeros(1, 1), ["sqlite database"] = db, ["sqlite statement"] = db:prepare("SELECT 1"),
    linear = loom.nn.Linear(2, 2), lstm = loom.nn.LSTM(2, 2), fetcher = core.data.fetcher(),
    attention = loom.nn.Attention("dot", 2)}
  for what, o in pairs(objects) do
    local mt = getmetatable(o)
    check(type(mt.methods) == "table", "%s: no methods table (not made by loom_newclass)", what)
    check(type(mt.__name) == "string", "%s: no __name", what)
    check(type(mt.__gc) == "function", "%s: no __gc", what)
  end
end)
