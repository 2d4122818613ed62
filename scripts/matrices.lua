-- matrices.lua: the first stop of the tour: loom's matrices in a few lines each.
-- Run with `build/bin/loom scripts/matrices.lua`. Not a test: it prints and explains.
local loom = require "loom"

local function show(title, value)
  print("-- " .. title)
  print(value)
  print()
end

loom.seed(1)
local A = loom.matrix{{1, 2}, {3, 4}}
show("A = loom.matrix{{1, 2}, {3, 4}}", A)
show("A * A (matrix product through OpenBLAS dgemm)", A * A)
show("A:mul(A) (elementwise product)", A:mul(A))
show("A + loom.matrix{{10, 20}} (a row broadcasts over every row)", A + loom.matrix{{10, 20}})
show("A:t() (transpose)", A:t())
show("A:sum(1), column sums (dim 1 runs down the rows)", A:sum(1))
show("A:sum(2), row sums", A:sum(2))
show("A:map('sqrt')", A:map("sqrt"))

local R = loom.randn(4, 3)
show("R = loom.randn(4, 3) after loom.seed(1)", R)
local top = R:slice(1, 2, 1, 3)
top:fill_(0)
show("R after R:slice(1, 2, 1, 3):fill_(0) (a view writes through)", R)

local big = loom.rand(1000, 1000)
show("a 1000x1000 matrix prints truncated, like numpy", big)

-- R's cars data, bundled with loom: loom.data.path names where datasets are.
local path = loom.data.path("regression") .. "/cars.csv"
local cars, names = assert(loom.read_csv(path))
print(string.format("-- loom.read_csv(loom.data.path('regression') .. '/cars.csv'): %dx%d, columns %s",
  cars:rows(), cars:cols(), table.concat(names, ", ")))
print(string.format("   mean speed %.2f, mean stopping distance %.2f", cars:col(1):mean(), cars:col(2):mean()))
