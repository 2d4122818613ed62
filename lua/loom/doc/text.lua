-- doc/text.lua: the docstrings of loom.text. Not code: a list of {name, signature, doc}.
return {
  {name = "loom.text", signature = "loom.text",
   doc = "Token sequences for recurrent models: whitespace tokens, vocabularies with padding and unknown ids, length-bucketed batches of T x B id matrices."},
  {name = "loom.text.tokenize", signature = "text.tokenize(line) -> {token, ...}",
   doc = "Split a line on whitespace."},
  {name = "loom.text.vocab", signature = "text.vocab(token_lists [, {min_count = 1, max_size, unk_classes = false}]) -> vocab",
   doc = [[A vocabulary of the tokens in a list of token lists. Id 1 is "<pad>", id 2 "<unk>", then
(with unk_classes) the unknown-word classes of text.word_classes, then tokens by descending
count (ties alphabetical), dropping those seen fewer than min_count times, so ids are the
same for the same data on every machine. vocab.classes tells whether it has the classes
(also after vocab_from_string).]]},
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
  {name = "loom.text.word_class", signature = "text.word_class(word) -> class",
   doc = [[The class of an unknown word by shape and suffix, as parsers do: "<unk:num>" (digits),
"<unk:punct>", "<unk:hyph>" / "<unk:hyph-s>" (hyphenated), "<unk:CAPS>", "<unk:Cap>" /
"<unk:Cap-s>" (capitalised), else "<unk:-SUFFIX>" for the first of text.SUFFIX_CLASSES the
lowercase word ends in ("-ss", "-us" and "-is" come before "-s"), else "<unk>".
  text.word_class("surgeons") --> "<unk:-s>";  text.word_class("campus") --> "<unk:-us>"]]},
  {name = "loom.text.word_classes", signature = "text.word_classes() -> {class, ...}",
   doc = "Every class text.word_class can return except \"<unk>\", in a fixed order (a vocabulary built with unk_classes reserves ids 3.. for them)."},
  {name = "loom.text.tokenize_words", signature = "text.tokenize_words(line) -> {token, ...}",
   doc = [[Split a line on whitespace and split punctuation and clitics off the words, as the
Linzen agreement files are tokenised: "the senator's dog, don't" -> the senator 's dog , do n't.]]},
  {name = "loom.text.Vocab:id", signature = "vocab:id(token) -> id",
   doc = [[The id of one token. In a vocabulary built with {unk_classes = true} a token not found
as written is looked up in lower case, then by its class (text.word_class); otherwise, and
when nothing matches, vocab.unk.]]},
  {name = "loom.text.Vocab:class_ids", signature = "vocab:class_ids(tokens) -> {id, ...}",
   doc = "The ids of the tokens' classes (text.word_class), known words included: what word dropout replaces words by, so that the classes unknown words get at test time are trained on every word."},
  {name = "loom.text.suffixes", signature = "text.suffixes(word [, n = 3]) -> {suffix, ...}",
   doc = [[The word's last 1..n letters (UTF-8 characters), lower case, marked "~" ("~s", "~ns", "~ons");
a word of k <= n letters gives "^word" from length k on; a word that is not UTF-8 gives "~?".]]},
  {name = "loom.text.suffix_vocab", signature = "text.suffix_vocab(token_lists [, {n = 3, min_count = 2}]) -> vocab",
   doc = "A vocabulary (text.vocab) of the suffixes (text.suffixes) of the tokens, keeping those seen min_count times; vocab.suffix_n records n."},
  {name = "loom.text.Vocab:suffix_ids", signature = "suffix_vocab:suffix_ids(tokens [, n]) -> {{id, ...}, ...}",
   doc = "For a suffix vocabulary: n lists (suffix lengths 1..n) of one id per token; unseen suffixes get vocab.unk."},
  {name = "loom.text.batch_matrix", signature = "text.batch_matrix(batch, field [, pad_id = 1]) -> matrix",
   doc = [[Another matrix for a batch of text.batches, from a per-token list in each example
(ex[field]): T x B like batch.X, padded with pad_id. When ex[field] is a list of k lists
(e.g. suffix ids), a kT x B matrix whose rows (j-1)T+1 .. jT hold list j.]]},
  {name = "loom.text.sentencepiece.train", signature = "text.sentencepiece.train{model_prefix = path, vocab_size = 8000, sentences = {...} | input = file, ...} -> path .. \".model\"",
   doc = [[Train a subword model with the sentencepiece library (libsentencepiece-dev) and write
<model_prefix>.model and .vocab. Options are spm_train's flags (model_type = "unigram" | "bpe" |
"char" | "word", character_coverage, hard_vocab_limit, num_threads, ...; numbers and booleans
are turned into their text); the text is a list of sentences or input files. The library's
INFO lines are off (minloglevel = 1) unless given. Any refusal of the library is an error
with its reason: "sentencepiece.train: Vocabulary size too high (5000). ...".]]},
  {name = "loom.text.sentencepiece.load", signature = "text.sentencepiece.load(path) -> sp | nil, message",
   doc = [[Load a sentencepiece model file. The file is checked before the library reads it (its
normalisation table must keep every lookup inside it; the library would read outside a
damaged one): a missing, truncated or damaged file is nil and "path: reason", never a crash.
Methods: sp:encode(text) -> {piece, ...}, {id, ...} (the segmentation spm_encode gives; ids
1-based: the library's id + 1); sp:decode(ids or pieces) -> text; sp:size(); sp:piece(id);
sp:id(piece) (sp:unk_id() when unknown); sp:unk_id(); sp:close().]]},
  {name = "loom.dictionary.read", signature = "dictionary.read([prefix = dictionary.FREEDICT_ENG_SPA]) -> words | nil, message",
   doc = [[A bilingual dictionary in the dictd format (prefix.index and prefix.dict.dz or .dict; Debian's
dict-freedict-eng-spa by default) as {word = first translation}: headwords in lower case, the
first sense's first translation of the word's own entry (FreeDict files a phrase under its
first word; the entry with the shortest pronunciation is the word itself).]]},
  {name = "loom.dictionary.translate", signature = "dictionary.translate(words, sentence) -> sentence",
   doc = [[Word-for-word translation, the baseline a translation model has to beat: each word
becomes its dictionary translation (looked up in lower case, then without an English plural,
past or -ing ending), capitals stay capitals, unknown words (names) and punctuation stay.]]},
  {name = "loom.text.PAD", signature = "text.PAD, text.UNK",
   doc = "The padding and unknown tokens, \"<pad>\" and \"<unk>\" (ids 1 and 2 of every vocabulary)."},
}
