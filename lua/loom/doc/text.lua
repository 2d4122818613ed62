-- doc/text.lua: the docstrings of loom.text. Not code: a list of {name, signature, doc}.
return {
  {name = "loom.text", signature = "loom.text",
   doc = "Token sequences for recurrent models: whitespace tokens, vocabularies with padding and unknown ids, length-bucketed batches of T x B id matrices."},
  {name = "loom.text.tokenize", signature = "text.tokenize(line) -> {token, ...}",
   doc = "Split a line on whitespace."},
  {name = "loom.text.vocab", signature = "text.vocab(token_lists [, {min_count = 1, max_size}]) -> vocab",
   doc = [[A vocabulary of the tokens in a list of token lists. Id 1 is "<pad>", id 2 "<unk>", then
tokens by descending count (ties alphabetical), dropping those seen fewer than min_count
times, so ids are the same for the same data on every machine.]]},
  {name = "loom.text.vocab_from_string", signature = "text.vocab_from_string(s) -> vocab",
   doc = "Rebuild a vocabulary from vocab:serialize()'s text (one token per line), e.g. from a checkpoint's metadata."},
  {name = "loom.text.Vocab:encode", signature = "vocab:encode(tokens) -> {id, ...}",
   doc = "Ids of the tokens; unknown tokens get vocab.unk (2)."},
  {name = "loom.text.Vocab:decode", signature = "vocab:decode(ids) -> {token, ...}",
   doc = "Tokens of the ids."},
  {name = "loom.text.Vocab:size", signature = "vocab:size() -> n",
   doc = "Number of ids, padding and unknown included."},
  {name = "loom.text.Vocab:serialize", signature = "vocab:serialize() -> string",
   doc = "The vocabulary as text, one token per line in id order (saved beside a model)."},
  {name = "loom.text.batches", signature = "text.batches(examples, batch_size [, pad_id = 1]) -> {batch, ...}",
   doc = [[Cut examples ({ids = {...}, label = k}) into batches of similar length: examples are
sorted by length (stable) and chunked. Each batch has X (T x B ids, time-major: row t is
step t of every sequence, pad_id past each end), lengths (B integers), labels (B x 1) and
examples. Feed X to nn.Embedding and the result to nn.LSTM with {lengths = batch.lengths}.]]},
  {name = "loom.text.PAD", signature = "text.PAD, text.UNK",
   doc = "The padding and unknown tokens, \"<pad>\" and \"<unk>\" (ids 1 and 2 of every vocabulary)."},
}
