-- doc/data.lua: the docstrings of loom.data. Not code: a list of {name, signature, doc}.
return {
  {name = "loom.data", signature = "loom.data",
   doc = "Mini-batches: shuffled index batches from loom's seeded generator, row gathering into reused matrices, a deterministic split."},
  {name = "loom.data.shuffle", signature = "data.shuffle(t) -> t",
   doc = "Shuffle the list t in place (Fisher-Yates) with loom's seeded generator."},
  {name = "loom.data.batches", signature = "data.batches(n, batch_size [, {shuffle = true, drop_last = false}]) -> plan",
   doc = "A plan of index batches over 1..n; plan.count batches per epoch."},
  {name = "loom.data.Batches:epoch", signature = "plan:epoch() -> iterator of (b, idx)",
   doc = "Reshuffle (when shuffle) and iterate the batches; idx is a table reused by every batch of its size."},
  {name = "loom.data.loader", signature = "data.loader(X [, y], batch_size [, opts]) -> loader",
   doc = "Mini-batches of rows of X and y (same row count); opts as data.batches. #loader is the batch count."},
  {name = "loom.data.Loader:epoch", signature = "loader:epoch() -> iterator of (Xb, yb, idx)",
   doc = [[Gathers each batch's rows with X:index_rows(idx, buffer): Xb and yb are the loader's
matrices, overwritten by the next batch, so an epoch allocates no matrices after the first.]]},
  {name = "loom.data.fnv1a32", signature = "data.fnv1a32(s) -> integer",
   doc = "FNV-1a 32-bit hash of the string s (offset basis 2166136261, prime 16777619)."},
  {name = "loom.data.hash_index", signature = "data.hash_index(i) -> integer",
   doc = "FNV-1a 32-bit hash of the decimal text of i."},
  {name = "loom.data.split", signature = "data.split(n [, {test = 0.2}]) -> train_idx, test_idx",
   doc = [[Deterministic split of rows 1..n: row i is a test row when hash_index(i) % 100 < 100 * test.
The same on every machine and independent of the seed (the digits experiment uses it).
test is a number in [0, 1]; n is at most data.MAX_N.]]},
  {name = "loom.data.MAX_N", signature = "data.MAX_N = 2^25",
   doc = [[The most rows data.batches, data.loader and data.split index (33,554,432): their index
lists then take about a gigabyte and a few seconds to build; a larger n is an error, not minutes of work.]]},
}
