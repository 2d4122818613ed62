-- doc/matrix.lua: the docstrings of the matrix API (src/bind/matrix.c, lua/loom/format.lua),
-- read by help(x) and scripts/gen-api-docs.lua. Not code: one list of entries.
return {
  { name = "matrix",
    doc = [[
A dense matrix of doubles (dtype "float64", the default) or of singles ("float32", for
training and inference), row-major, rows are observations (like numpy and PyTorch).
Constructors take {dtype = "float32"}; views, copies and results keep the dtype. One
operation never mixes dtypes: "matrix:add: cannot mix float64 and float32" (convert with
A:float() or A:double()); functions that compute in double (loom.linalg, regress,
gradcheck) refuse float32 matrices and say so.
Indices are 1-based. row, col, slice and (when possible) reshape return views that share
storage with their parent and keep it alive. Operators: A + B, A - B, A * B (matrix
product), A / s, -A, and numbers on either side of + - * (A * 2, 2 * A).
Misuse raises an error naming the function and the shapes, e.g.
"matrix *: cannot multiply 3x4 by 5x2". A matrix closed with `local A <close>` or A:close()
raises "attempt to use a released matrix" when used again.]] },

  -- construction
  { name = "loom.matrix", signature = "loom.matrix(rows | list | A [, {dtype = \"float64\"}]) -> matrix",
    doc = [[
A matrix from a table of rows, loom.matrix{{1, 2}, {3, 4}}; from a flat list, a column:
loom.matrix{1, 2, 3} is 3x1; from a matrix, a copy (of A's dtype unless dtype is given).]] },
  { name = "loom.zeros", signature = "loom.zeros(rows, cols) -> matrix",
    doc = [[
A rows x cols matrix of zeros. loom.zeros(rows, cols, {dtype = "float32"}) makes a float32
one; every constructor takes that option.]] },
  { name = "loom.ones", signature = "loom.ones(rows, cols [, {dtype = \"float64\"}]) -> matrix",
    doc = "A rows x cols matrix of ones." },
  { name = "loom.fill", signature = "loom.fill(rows, cols, value [, {dtype = \"float64\"}]) -> matrix",
    doc = "A rows x cols matrix with every element equal to value." },
  { name = "loom.eye", signature = "loom.eye(n [, cols] [, {dtype = \"float64\"}]) -> matrix",
    doc = "The n x n identity (n x cols with ones on the main diagonal when cols is given)." },
  { name = "loom.rand", signature = "loom.rand(rows, cols [, {dtype = \"float64\"}]) -> matrix",
    doc = [[
Uniform random values in [0, 1) from loom's generator (see loom.seed). A float32 matrix
gets the same draws rounded to float32.]] },
  { name = "loom.randn", signature = "loom.randn(rows, cols [, {dtype = \"float64\"}]) -> matrix",
    doc = [[
Standard normal random values N(0, 1) from loom's generator (see loom.seed). A float32
matrix gets the same draws rounded to float32.]] },
  { name = "loom.seed", signature = "loom.seed(n)",
    doc = [[
Seed loom's one random generator (xoshiro256**). The same seed and thread count give
bitwise-identical runs; `loom run` seeds it from the param `seed` (default 42).]] },
  { name = "loom.rng_state", signature = "loom.rng_state([state]) -> state",
    doc = [[
With no argument, the generator's state as a 32-byte string; with that string, restores
it (checkpoints use this to resume a run with the same random stream).]] },
  { name = "loom.random_int", signature = "loom.random_int(n) -> integer",
    doc = "A uniform random integer in 1..n from loom's generator." },
  { name = "loom.permutation", signature = "loom.permutation(n) -> table",
    doc = "A random permutation of 1..n as a Lua list (shuffling mini-batches)." },
  { name = "loom.hcat", signature = "loom.hcat{A, B, ...} -> matrix",
    doc = "Matrices side by side (all with the same number of rows)." },
  { name = "loom.vcat", signature = "loom.vcat{A, B, ...} -> matrix",
    doc = "Matrices stacked vertically (all with the same number of columns)." },
  { name = "loom.read_csv",
    signature = "loom.read_csv(path [, {header = true, rownames = false, sep = \",\", max_bytes = 2^30, dtype = \"float64\"}]) -> matrix, names, rownames",
    doc = [[
Read a CSV file of numbers, plain or gzip-compressed. header: the first row holds column
names (returned as a list; a UTF-8 byte order mark is skipped); rownames: the first column
holds row names (returned as a list); sep: the one-character separator; max_bytes: refuse a
file whose (decompressed) text is longer, 1 GiB by default; dtype: the matrix's element type
(numbers are parsed as doubles and rounded once for float32). Quoted fields are understood.
An unreadable or malformed file returns nil and a message saying where:
"data.csv:12:3: expected number"; a truncated or corrupt .gz file is such a failure
("the gzip stream is truncated"), never a shorter table.]] },
  { name = "loom.threads", signature = "loom.threads([n]) -> n",
    doc = "Set OpenBLAS's thread count to n (an integer in 1..4096, when given); returns the current count." },
  { name = "loom.alloc_stats", signature = "loom.alloc_stats() -> {allocations, frees, live_blocks, live_bytes}",
    doc = "The engine's allocation counters (for leak checks and tests)." },
  { name = "loom.is_matrix", signature = "loom.is_matrix(x) -> boolean",
    doc = "Whether x is a loom matrix." },
  { name = "loom.matrix_methods", signature = "loom.matrix_methods.name = function(A, ...) ... end",
    doc = [[
The table of matrix methods (the metatable's __index): every A:name(...) looks here. Lua
modules may add methods to it; help("matrix") lists them when they have doc entries.]] },
  { name = "loom.version", signature = "loom.version -> \"0.1.0\"",
    doc = "loom's version string (also `loom --version`)." },

  -- shape and elements
  { name = "matrix:rows", signature = "A:rows() -> integer", doc = "The number of rows." },
  { name = "matrix:cols", signature = "A:cols() -> integer", doc = "The number of columns." },
  { name = "matrix:shape", signature = "A:shape() -> rows, cols", doc = "Both dimensions." },
  { name = "matrix:numel", signature = "A:numel() -> integer", doc = "rows * cols." },
  { name = "matrix:dtype", signature = "A:dtype() -> \"float64\" | \"float32\"",
    doc = "The element type. tostring(A) shows it when it is not float64." },
  { name = "matrix:float", signature = "A:float() -> matrix",
    doc = "A as float32: A itself when it already is, else a rounded copy." },
  { name = "matrix:double", signature = "A:double() -> matrix",
    doc = "A as float64: A itself when it already is, else an exact copy." },
  { name = "matrix:to", signature = "A:to(dtype) -> matrix",
    doc = "A:float() or A:double() by name: dtype is \"float32\" or \"float64\"." },
  { name = "matrix:is_view", signature = "A:is_view() -> boolean",
    doc = "Whether A shares another matrix's storage (a row, col, slice or reshape view)." },
  { name = "matrix:get", signature = "A:get(i, j) -> number | v:get(k) -> number",
    doc = "The element at row i, column j (1-based); a vector (1xn or nx1) also takes one index." },
  { name = "matrix:set", signature = "A:set(i, j, value) -> A",
    doc = "Set the element at row i, column j (1-based); returns A." },

  -- views and copies
  { name = "matrix:row", signature = "A:row(i) -> view",
    doc = "Row i as a 1 x cols view sharing A's storage (writes go through to A)." },
  { name = "matrix:col", signature = "A:col(j) -> view",
    doc = "Column j as a rows x 1 view sharing A's storage." },
  { name = "matrix:slice", signature = "A:slice(r1, r2 [, c1, c2]) -> view",
    doc = [[
Rows r1..r2 and columns c1..c2 (inclusive, 1-based; columns default to all) as a view
sharing A's storage. An empty range (r2 = r1 - 1) gives an empty view.]] },
  { name = "matrix:copy", signature = "A:copy() -> matrix",
    doc = "A new matrix with A's values (not a view)." },
  { name = "matrix:t", signature = "A:t() -> matrix", doc = "The transpose, as a new matrix." },
  { name = "matrix:reshape", signature = "A:reshape(rows, cols) -> matrix",
    doc = [[
The values of A in row-major order laid out as rows x cols: a view when A is contiguous,
else a copy. rows * cols must equal A:numel().]] },

  -- elementwise arithmetic
  { name = "matrix:add", signature = "A:add(B | s) -> matrix",
    doc = [[
Elementwise A + B into a new matrix. B may be a number, a matrix of A's shape, or broadcast:
a 1 x cols row, a rows x 1 column or a 1x1 matrix (either operand may be the small one).]] },
  { name = "matrix:sub", signature = "A:sub(B | s) -> matrix",
    doc = "Elementwise A - B, broadcasting like matrix:add." },
  { name = "matrix:mul", signature = "A:mul(B | s) -> matrix",
    doc = "Elementwise (Hadamard) product, broadcasting like matrix:add. The matrix product is A * B." },
  { name = "matrix:div", signature = "A:div(B | s) -> matrix",
    doc = "Elementwise A / B, broadcasting like matrix:add." },
  { name = "matrix:pow", signature = "A:pow(B | s) -> matrix",
    doc = "Elementwise A ^ B, broadcasting like matrix:add." },
  { name = "matrix:maximum", signature = "A:maximum(B | s) -> matrix",
    doc = "Elementwise maximum of A and B, broadcasting like matrix:add (A:maximum(0) is ReLU)." },
  { name = "matrix:minimum", signature = "A:minimum(B | s) -> matrix",
    doc = "Elementwise minimum of A and B, broadcasting like matrix:add." },
  { name = "matrix:add_", signature = "A:add_(B | s) -> A",
    doc = [[
In place: A = A + B, allocating nothing (for hot loops). B may be a number, A's shape, or a
row, column or 1x1 broadcast over A. Returns A.]] },
  { name = "matrix:sub_", signature = "A:sub_(B | s) -> A", doc = "In place: A = A - B (see matrix:add_)." },
  { name = "matrix:mul_", signature = "A:mul_(B | s) -> A", doc = "In place: A = A .* B (see matrix:add_)." },
  { name = "matrix:div_", signature = "A:div_(B | s) -> A", doc = "In place: A = A ./ B (see matrix:add_)." },
  { name = "matrix:pow_", signature = "A:pow_(B | s) -> A", doc = "In place: A = A .^ B (see matrix:add_)." },
  { name = "matrix:maximum_", signature = "A:maximum_(B | s) -> A",
    doc = "In place: A = max(A, B) elementwise (see matrix:add_)." },
  { name = "matrix:minimum_", signature = "A:minimum_(B | s) -> A",
    doc = "In place: A = min(A, B) elementwise (see matrix:add_)." },
  { name = "matrix:axpy_", signature = "A:axpy_(alpha, B) -> A",
    doc = "In place: A = A + alpha * B (same shapes), the update step of optimisers." },
  { name = "matrix:fill_", signature = "A:fill_(value) -> A", doc = "In place: every element = value." },
  { name = "matrix:zero_", signature = "A:zero_() -> A", doc = "In place: every element = 0." },
  { name = "matrix:copy_", signature = "A:copy_(B) -> A",
    doc = "In place: copy B's values into A (same shape), e.g. into a view." },
  { name = "matrix:matmul_", signature = "C:matmul_(A, B [, {alpha = 1, beta = 0, ta = false, tb = false}]) -> C",
    doc = [[
In place: C = alpha * op(A) * op(B) + beta * C, with op transposing when ta / tb are true
(one dgemm, no allocation). C must not share storage with A or B.]] },
  { name = "matrix:dot", signature = "A:dot(B) -> number",
    doc = "The sum of the elementwise product of A and B (same shapes)." },

  -- maps
  { name = "matrix:map", signature = "A:map(name) -> matrix",
    doc = [[
A function applied to every element, in C. name is one of: neg, exp, log, tanh, sigmoid,
relu, abs, sqrt, square, sin, cos, log1p, expm1, floor, ceil, round, sign, reciprocal.]] },
  { name = "matrix:map_", signature = "A:map_(name) -> A",
    doc = "In place: like matrix:map, writing into A." },
  { name = "matrix:apply", signature = "A:apply(fn) -> matrix",
    doc = [[
fn(value, i, j) for every element into a new matrix (a Lua call per element: the slow path,
for what matrix:map does not have). fn must return a number.]] },
  { name = "matrix:clamp", signature = "A:clamp([lo], [hi]) -> matrix",
    doc = "A copy with values limited to [lo, hi] (either bound may be nil)." },

  -- reductions
  { name = "matrix:sum", signature = "A:sum([dim]) -> number | matrix",
    doc = [[
With no dim, the sum of all elements. dim = 1 sums down the rows (a 1 x cols row),
dim = 2 along the columns (a rows x 1 column), like numpy's axis 0 and 1.]] },
  { name = "matrix:mean", signature = "A:mean([dim]) -> number | matrix",
    doc = "The mean of all elements, or along dim like matrix:sum." },
  { name = "matrix:max", signature = "A:max([dim]) -> number | matrix",
    doc = "The largest element, or along dim like matrix:sum." },
  { name = "matrix:min", signature = "A:min([dim]) -> number | matrix",
    doc = "The smallest element, or along dim like matrix:sum." },
  { name = "matrix:argmax", signature = "A:argmax([dim]) -> row, col | matrix",
    doc = [[
With no dim, the (row, col) of the largest element; along dim, the 1-based index of the
largest element of each column (dim = 1) or row (dim = 2) as a matrix, e.g. predicted
classes from scores: scores:argmax(2).]] },
  { name = "matrix:argmin", signature = "A:argmin([dim]) -> row, col | matrix",
    doc = "Like matrix:argmax for the smallest element." },
  { name = "matrix:norm", signature = "A:norm() -> number",
    doc = "The Frobenius (Euclidean) norm, computed without overflow." },
  { name = "matrix:allclose", signature = "A:allclose(B [, rtol = 1e-5, atol = 1e-8]) -> boolean",
    doc = "Whether |A - B| <= atol + rtol * |B| elementwise (same shapes), like numpy.allclose." },

  -- conversion
  { name = "matrix:totable", signature = "A:totable() -> {{...}, ...}",
    doc = "The values as a Lua table of rows (loom.matrix(t) turns it back)." },
  { name = "matrix:tolist", signature = "A:tolist() -> {...}",
    doc = "The values in row-major order as one flat Lua list." },
  { name = "matrix:index_rows", signature = "X:index_rows(idx [, out]) -> matrix",
    doc = [[
Rows idx[1], idx[2], ... of X (a list of 1-based row numbers) into a new matrix, or into
out (#idx x cols), reused without allocating: gathering mini-batches.]] },
  { name = "matrix:close", signature = "A:close()",
    doc = [[
Free A's storage now instead of at garbage collection (what `local A <close>` does at the
end of the scope). Safe to call twice; any later use raises "attempt to use a released matrix".]] },

  -- metamethods
  { name = "matrix.__add", signature = "A + B, A + s, s + A -> matrix",
    doc = "Elementwise sum; broadcasting like matrix:add." },
  { name = "matrix.__sub", signature = "A - B, A - s, s - A -> matrix",
    doc = "Elementwise difference; broadcasting like matrix:add." },
  { name = "matrix.__mul", signature = "A * B -> matrix; A * s, s * A -> matrix",
    doc = [[
With two matrices, the matrix product (OpenBLAS dgemm): A's columns must equal B's rows,
else "matrix *: cannot multiply 3x4 by 5x2". With a number, scaling.]] },
  { name = "matrix.__div", signature = "A / s, A / B -> matrix",
    doc = "Elementwise division (by a number, or by a matrix broadcasting like matrix:add)." },
  { name = "matrix.__unm", signature = "-A -> matrix", doc = "The elementwise negation." },
  { name = "matrix.__tostring", signature = "tostring(A) -> string",
    doc = [==[
numpy-like text: matrix([[1., 2.], [3., 4.]]), aligned on the decimal point, in scientific
notation when magnitudes differ widely, summarised with "..." (and the shape) beyond 1000
elements. The REPL prints matrices this way.]==] },
  { name = "matrix.__close", signature = "local A <close> = ...",
    doc = "Releases the storage at the end of the scope (see matrix:close)." },
}
