-- doc/data.lua: the docstrings of loom.data. Not code: a list of {name, signature, doc}.
return {
  {name = "loom.data", signature = "loom.data",
   doc = "Where datasets are (bundled in datasets/, or fetched into the cache), and mini-batches: shuffled index batches from loom's seeded generator, row gathering into reused matrices, a deterministic split."},
  {name = "loom.data.path", signature = "data.path(name) -> folder | nil, message",
   doc = [[The folder of the dataset `name` (`loom data list` shows every name): the project's
datasets/<name> for bundled sets, $LOOM_DATA/<name> for fetched ones once `loom data fetch`
has verified them. When a fetched set is not here, nil and one line naming the fetch command.
Unknown names raise.]]},
  {name = "loom.data.require", signature = "data.require(name) -> folder",
   doc = [[data.path that raises when the set is not here; `loom run` prints that error as one
line, without a traceback: "dataset 'fsdd' (...) is not here: run `loom data fetch fsdd`".]]},
  {name = "loom.data.fetch", signature = "data.fetch(name [, {report = function(done, total, path)}]) -> folder | nil, message",
   doc = [[Download every file of a registered set (datasets/registry.lua) from $LOOM_DATA_MIRROR
(a folder with <name>/ in the upstream layout) or its upstream URLs, verify its SHA-256 against
datasets/manifests/<name>.sha256, and cache it in $LOOM_DATA (default
~/.local/share/loom/datasets). Files already there with the right checksum are kept, so an
interrupted fetch resumes; the set counts as present only when every file verified.]]},
  {name = "loom.data.verify", signature = "data.verify(name) -> true | false, problems",
   doc = "Check every file of a set against its checksums; problems lists \"path: missing\" or \"path: checksum mismatch\"."},
  {name = "loom.data.list", signature = "data.list() -> rows",
   doc = "Every registered dataset: {name, kind = \"bundled\"|\"fetched\", status = \"bundled\"|\"present\"|\"partial\"|\"missing\", size, size_text, licence, title, path}, sorted by name."},
  {name = "loom.data.generator", signature = "data.generator(file) -> path",
   doc = [[The path of a data generator in loom's datasets/ folder (agreement.lua, spoken_digits.lua), for
experiments that fall back to generated data: dofile(loom.data.generator("agreement.lua")).]]},
  {name = "loom.data.read_text", signature = "data.read_text(path [, max_bytes]) -> text | nil, message",
   doc = [[The whole file as a string, decompressed when it is gzip. A gzip stream that ends early
(a truncated file, a missing CRC trailer) or fails its CRC is an error, never a shorter text;
more than max_bytes of text (default: no limit) is an error.]]},
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
