-- loom.data: where datasets are (data.path and friends, from loom.datasets), and
-- mini-batches: shuffled index batches from loom's seeded generator and a loader that
-- gathers rows into reused matrices (no allocation per batch). Not data formats.
local loom = require "loom"
local check = require "loom.check"

local data = {}

-- The most rows batches and split index: their Lua lists of 2^25 indices take about a
-- gigabyte and seconds to build; beyond it a mistaken n (math.maxinteger) would run for
-- minutes before running out of memory.
data.MAX_N = 1 << 25

-- Shuffle the list t[1..n] in place (Fisher-Yates) with the seeded generator.
function data.shuffle(t)
  check.list("data.shuffle", "t", t)
  for i = #t, 2, -1 do
    local j = loom.random_int(i)
    t[i], t[j] = t[j], t[i]
  end
  return t
end

local function check_n(n, fn)
  if math.type(n) ~= "integer" or n < 0 then check.fail(fn, "n must be an integer >= 0") end
  if n > data.MAX_N then check.fail(fn, "n = %d is beyond data.MAX_N = %d rows", n, data.MAX_N) end
end

local function check_sizes(n, batch_size, fn)
  check_n(n, fn)
  if math.type(batch_size) ~= "integer" or batch_size < 1 then check.fail(fn, "batch_size must be an integer >= 1") end
end

-- A reusable plan of index batches over 1..n: plan:epoch() reshuffles (when shuffle) and
-- returns an iterator of (batch number, idx), idx a table reused by every batch of its size.
local Batches = {}
Batches.__index = Batches

-- data.batches(n, batch_size [, {shuffle = true, drop_last = false}])
local function plan(n, batch_size, opts, fn)
  check_sizes(n, batch_size, fn)
  opts = check.options(fn, opts, {shuffle = "boolean", drop_last = "boolean"})
  local order = {}
  for i = 1, n do order[i] = i end
  local self = setmetatable({n = n, batch_size = batch_size, order = order,
    shuffle = opts.shuffle ~= false, drop_last = opts.drop_last == true, full = {}, tail = {}}, Batches)
  self.count = self.drop_last and n // batch_size or (n + batch_size - 1) // batch_size
  return self
end

function data.batches(n, batch_size, opts) return plan(n, batch_size, opts, "data.batches") end

function Batches:epoch()
  if getmetatable(self) ~= Batches then
    check.fail("data.Batches:epoch", "expected a batch plan (call it as plan:epoch()), got %s", check.kind(self))
  end
  if self.shuffle then data.shuffle(self.order) end
  local order, bs, n, count = self.order, self.batch_size, self.n, self.count
  local b = 0
  return function()
    b = b + 1
    if b > count then return nil end
    local first = (b - 1) * bs
    local size = math.min(bs, n - first)
    local idx = size == bs and self.full or self.tail
    for k = 1, size do idx[k] = order[first + k] end
    for k = size + 1, #idx do idx[k] = nil end
    return b, idx
  end
end

-- data.loader(X, y, batch_size [, opts]): batches of rows of X and y (same row count).
-- loader:epoch() iterates (Xb, yb, idx); Xb and yb are the loader's buffers, overwritten
-- by the next batch. opts as data.batches.
local Loader = {}
Loader.__index = Loader

function data.loader(X, y, batch_size, opts)
  if not loom.is_matrix(X) or (y ~= nil and not loom.is_matrix(y)) then
    check.fail("data.loader", "expected matrices X [, y]")
  end
  if y and y:rows() ~= X:rows() then check.fail("data.loader", "X has %d rows but y has %d", X:rows(), y:rows()) end
  return setmetatable({X = X, y = y, plan = plan(X:rows(), batch_size, opts, "data.loader"), buffers = {}}, Loader)
end

-- The buffers for batches of `size` rows, made on first use.
local function buffers_for(self, size)
  local b = self.buffers[size]
  if not b then
    -- in the data's own dtypes (float32 inputs stay float32)
    b = {X = loom.zeros(size, self.X:cols(), {dtype = self.X:dtype()}),
         y = self.y and loom.zeros(size, self.y:cols(), {dtype = self.y:dtype()})}
    self.buffers[size] = b
  end
  return b
end

function Loader:epoch()
  if getmetatable(self) ~= Loader then
    check.fail("data.Loader:epoch", "expected a loader (call it as loader:epoch()), got %s", check.kind(self))
  end
  local next_batch = self.plan:epoch()
  local X, y = self.X, self.y
  return function()
    local b, idx = next_batch()
    if not b then return nil end
    local buf = buffers_for(self, #idx)
    X:index_rows(idx, buf.X)
    if y then y:index_rows(idx, buf.y) end
    return buf.X, buf.y, idx
  end
end

function Loader:__len() return self.plan.count end

-- FNV-1a (32-bit) of a string: the hash of loom's deterministic splits (rows here, the
-- agreement data's lines in loom.agreement), the same on every machine.
function data.fnv1a32(s)
  check.string("data.fnv1a32", "s", s)
  local h = 2166136261
  for k = 1, #s do
    h = ((h ~ s:byte(k)) * 16777619) & 0xffffffff
  end
  return h
end

-- FNV-1a of the decimal text of i: a split that does not depend on row order statistics
-- or on a generator.
function data.hash_index(i)
  return data.fnv1a32(tostring(check.integer("data.hash_index", "i", i)))
end

-- data.split(n, {test = 0.2}) -> train_idx, test_idx: row i goes to test when
-- hash_index(i) % 100 < test * 100. Deterministic, independent of the seed.
function data.split(n, opts)
  local fn = "data.split"
  check_n(n, fn)
  opts = check.options(fn, opts, {test = "number"})
  local pct = math.floor(check.number(fn, "test", opts.test or 0.2, 0, 1) * 100 + 0.5)
  local train, test = {}, {}
  -- The decimal text of i is that of i // 10 and one digit more, so its hash is one FNV
  -- step from the hash of i // 10 (kept in prefix[]): the same values, five times faster.
  local prefix = {}
  for i = 1, n do
    local p = i // 10
    local h = p == 0 and 2166136261 or prefix[p]
    h = ((h ~ (48 + i % 10)) * 16777619) & 0xffffffff
    if i <= n // 10 then prefix[i] = h end
    if h % 100 < pct then test[#test + 1] = i else train[#train + 1] = i end
  end
  return train, test
end

-- Datasets: bundled in the project's datasets/, or fetched into the cache (loom.datasets).
local datasets = require "loom.datasets"
data.path = datasets.path          -- data.path(name) -> folder | nil, message
data.require = datasets.require    -- data.require(name) -> folder, or a one-line error
data.fetch = datasets.fetch        -- data.fetch(name [, {report = fn}]) -> folder | nil, message
data.verify = datasets.verify      -- data.verify(name) -> true | false, problems
data.list = datasets.list          -- data.list() -> rows {name, kind, status, size, ...}
data.read_text = require("loom.core").data.read_text -- (path [, max_bytes]) -> text | nil, msg
data.generator = datasets.generator -- data.generator(file) -> path of datasets/<file>

return data
