-- loom.text: token sequences for recurrent models: whitespace tokens, a vocabulary with
-- padding and unknown ids, and batches of T x B id matrices grouped by length.
-- Not a tokenizer for raw text beyond whitespace, and not a dataset loader.
local loom = require "loom"
local check = require "loom.check"

local text = {}

text.PAD, text.UNK = "<pad>", "<unk>"

-- Subword units through the sentencepiece library (src/bind/subword.c): train, load.
text.sentencepiece = require("loom.core").subword

function text.tokenize(line)
  check.string("loom.text.tokenize", "line", line)
  local tokens = {}
  for tok in line:gmatch("%S+") do tokens[#tokens + 1] = tok end
  return tokens
end


-- ---- unknown words by shape and suffix ----

-- The classes an unknown word falls into, as parsers do (Petrov et al.'s signatures): the
-- shape first (digits, all capitals, capitalised, hyphenated, punctuation), then for a
-- lowercase word its ending, longest first. The order of SUFFIX_CLASSES decides: -ss, -us
-- and -is before -s keep "glass", "campus" and "axis" apart from plurals.
local SUFFIX_CLASSES = {"ies", "ss", "us", "is", "ness", "ing", "ed", "ly", "ers", "ors", "es", "s",
  "er", "or", "est", "ion", "ity", "ment", "ous", "ive", "able", "al", "ic", "ist", "ant", "ent",
  "ism", "y", "a", "um", "on", "e"}
text.SUFFIX_CLASSES = SUFFIX_CLASSES

local function suffix_class(w)
  for _, suf in ipairs(SUFFIX_CLASSES) do
    if #w > #suf + 1 and w:sub(-#suf) == suf then return suf end
  end
  return nil
end

local function word_class(word)
  if word:find("%d") then return "<unk:num>" end
  if not word:find("%a") then return "<unk:punct>" end
  if word:find("-", 1, true) then
    local last = word:match("([^-]*)$"):lower()
    return last:sub(-1) == "s" and not last:match("ss$") and "<unk:hyph-s>" or "<unk:hyph>"
  end
  if #word > 1 and not word:find("%l") then return "<unk:CAPS>" end
  if word:find("^%u") then
    return word:sub(-1) == "s" and "<unk:Cap-s>" or "<unk:Cap>"
  end
  local suf = suffix_class(word:lower())
  return suf and ("<unk:-" .. suf .. ">") or text.UNK
end

-- Every class word_class can return (the vocabulary reserves an id for each).
function text.word_class(word)
  check.string("loom.text.word_class", "word", word)
  return word_class(word)
end

function text.word_classes()
  local list = {"<unk:num>", "<unk:punct>", "<unk:hyph-s>", "<unk:hyph>", "<unk:CAPS>",
    "<unk:Cap-s>", "<unk:Cap>"}
  for _, suf in ipairs(SUFFIX_CLASSES) do list[#list + 1] = "<unk:-" .. suf .. ">" end
  return list
end

-- Split punctuation and clitics off words the way the Linzen files are tokenised
-- ("cabinet," -> "cabinet ,", "senator's" -> "senator 's", "don't" -> "do n't").
function text.tokenize_words(line)
  check.string("loom.text.tokenize_words", "line", line)
  local out = {}
  for tok in line:gmatch("%S+") do
    local lead, core, trail = tok:match("^([%(%[\"'`]*)(.-)([%.,;:!%?%)%]\"'`]*)$")
    for c in lead:gmatch(".") do out[#out + 1] = c end
    local stem, clitic = core:match("^(.-%a)('[sS])$")
    if not stem then stem, clitic = core:match("^(.-%a)(n't)$") end
    if not stem then stem, clitic = core:match("^(.-%a)('[a-z][a-z]?)$") end
    if stem then
      out[#out + 1] = stem
      out[#out + 1] = clitic:lower()
    elseif core ~= "" then
      out[#out + 1] = core
    end
    for c in trail:gmatch(".") do out[#out + 1] = c end
  end
  return out
end

local function vocab_classes(v)
  for _, tok in ipairs(v.itos) do
    if tok:sub(1, 5) == "<unk:" then return true end
  end
  return false
end

local Vocab = {}
Vocab.__index = Vocab
text.Vocab = Vocab

local function from_tokens(list, fn)
  local v = setmetatable({itos = list, stoi = {}}, Vocab)
  for i, tok in ipairs(list) do
    if v.stoi[tok] then check.fail(fn, "duplicate token '%s' in a vocabulary", tok) end
    v.stoi[tok] = i
  end
  v.pad, v.unk = v.stoi[text.PAD], v.stoi[text.UNK]
  if v.pad ~= 1 or v.unk ~= 2 then check.fail(fn, "a vocabulary starts with %s and %s", text.PAD, text.UNK) end
  v.classes = vocab_classes(v)
  return v
end

-- A list of lists of strings (token lists).
local function check_token_lists(fn, lists)
  check.list(fn, "token_lists", lists)
  for i, tokens in ipairs(lists) do
    if type(tokens) ~= "table" then
      check.fail(fn, "token_lists[%d] must be a list of tokens, got %s", i, check.kind(tokens))
    end
    for j, tok in ipairs(tokens) do
      if type(tok) ~= "string" then
        check.fail(fn, "token_lists[%d][%d] must be a string, got %s", i, j, check.kind(tok))
      end
    end
  end
end

-- text.vocab(token_lists, {min_count = 1, max_size = nil}) -> vocab. Ids: 1 = padding,
-- 2 = unknown, then tokens by descending count (ties alphabetical) so ids are stable.
function text.vocab(token_lists, opts)
  local fn = "loom.text.vocab"
  check_token_lists(fn, token_lists)
  opts = check.options(fn, opts, {min_count = "integer", max_size = "integer", unk_classes = "boolean"})
  local min_count = opts.min_count or 1
  if opts.max_size and opts.max_size < 2 then
    check.fail(fn, "max_size must be >= 2 (<pad> and <unk>), got %d", opts.max_size)
  end
  local counts = {}
  for _, tokens in ipairs(token_lists) do
    for _, tok in ipairs(tokens) do counts[tok] = (counts[tok] or 0) + 1 end
  end
  local kept = {}
  for tok, n in pairs(counts) do
    if n >= min_count and tok ~= text.PAD and tok ~= text.UNK then kept[#kept + 1] = tok end
  end
  table.sort(kept, function(a, b)
    if counts[a] ~= counts[b] then return counts[a] > counts[b] end
    return a < b
  end)
  local list = {text.PAD, text.UNK}
  if opts.unk_classes then
    for _, cls in ipairs(text.word_classes()) do list[#list + 1] = cls end
  end
  for _, tok in ipairs(kept) do
    if opts.max_size and #list >= opts.max_size then break end
    list[#list + 1] = tok
  end
  return from_tokens(list, fn)
end

-- A method called with a dot (vocab.size()) or on something else.
local function check_self(self, method)
  if getmetatable(self) ~= Vocab then
    check.fail("loom.text.Vocab:" .. method, "expected a vocabulary (call it as vocab:%s()), got %s",
      method, check.kind(self))
  end
end

function Vocab:size()
  check_self(self, "size")
  return #self.itos
end

-- With unknown-word classes, a token missing as written is looked up in lower case, then
-- by its class (text.word_class); without them it is vocab.unk.
-- The id of one token: itself, else (with classes) its lower case, else its class, else <unk>.
local function lookup(self, tok)
  local id = self.stoi[tok]
  if id or not self.classes then return id or self.unk end
  return self.stoi[tok:lower()] or self.stoi[word_class(tok)] or self.unk
end

function Vocab:id(tok)
  check_self(self, "id")
  check.string("loom.text.Vocab:id", "tok", tok)
  return lookup(self, tok)
end

function Vocab:encode(tokens)
  check_self(self, "encode")
  check.list("loom.text.Vocab:encode", "tokens", tokens)
  local ids = {}
  for i, tok in ipairs(tokens) do
    if type(tok) ~= "string" then check.fail("loom.text.Vocab:encode", "tokens[%d] must be a string, got %s", i, check.kind(tok)) end
    ids[i] = lookup(self, tok)
  end
  return ids
end

-- The class ids of the tokens (known or not): what word dropout replaces a word by, so
-- that training sees the classes that unknown words get at test time.
function Vocab:class_ids(tokens)
  check_self(self, "class_ids")
  check.list("loom.text.Vocab:class_ids", "tokens", tokens)
  local ids = {}
  for i, tok in ipairs(tokens) do
    if type(tok) ~= "string" then check.fail("loom.text.Vocab:class_ids", "tokens[%d] must be a string, got %s", i, check.kind(tok)) end
    ids[i] = self.stoi[word_class(tok)] or self.unk
  end
  return ids
end

-- ---- suffixes: the last 1..n letters of a word, as extra features ----

-- The suffix tokens of a word, lowercase, marked by length ("~s", "~es", "~hes"); a word
-- shorter than k letters gives its whole self with a start mark ("^is").
local function suffixes(word, n)
  local w, out = word:lower(), {}
  local len = utf8.len(w)
  for k = 1, n or 3 do
    if not len then
      out[k] = "~?" -- not UTF-8: no letters to take
    elseif len > k then
      out[k] = "~" .. w:sub(utf8.offset(w, -k))
    else
      out[k] = "^" .. w
    end
  end
  return out
end

-- A vocabulary of the suffixes (1..n letters) of the tokens, kept when seen min_count times.
function text.suffixes(word, n)
  check.string("loom.text.suffixes", "word", word)
  if n ~= nil then check.integer("loom.text.suffixes", "n", n, 1, 10) end
  return suffixes(word, n)
end

function text.suffix_vocab(token_lists, opts)
  check_token_lists("loom.text.suffix_vocab", token_lists)
  opts = check.options("loom.text.suffix_vocab", opts, {n = "integer", min_count = "integer"})
  local n = opts.n or 3
  local lists = {}
  for i, tokens in ipairs(token_lists) do
    local sufs = {}
    for _, tok in ipairs(tokens) do
      for _, s in ipairs(suffixes(tok, n)) do sufs[#sufs + 1] = s end
    end
    lists[i] = sufs
  end
  local v = text.vocab(lists, {min_count = opts.min_count or 2})
  v.suffix_n = n
  return v
end

-- The suffix ids of the tokens: a list of n lists (one per suffix length) of #tokens ids.
function Vocab:suffix_ids(tokens, n)
  check_self(self, "suffix_ids")
  check.list("loom.text.Vocab:suffix_ids", "tokens", tokens)
  if n ~= nil then check.integer("loom.text.Vocab:suffix_ids", "n", n, 1, 10) end
  n = n or self.suffix_n or 3
  local out = {}
  for k = 1, n do out[k] = {} end
  for i, tok in ipairs(tokens) do
    if type(tok) ~= "string" then check.fail("loom.text.Vocab:suffix_ids", "tokens[%d] must be a string, got %s", i, check.kind(tok)) end
    local sufs = suffixes(tok, n)
    for k = 1, n do out[k][i] = self.stoi[sufs[k]] or self.unk end
  end
  return out
end

function Vocab:decode(ids)
  check_self(self, "decode")
  check.list("loom.text.Vocab:decode", "ids", ids)
  local tokens = {}
  for i, id in ipairs(ids) do tokens[i] = self.itos[id] or text.UNK end
  return tokens
end

-- One token per line: the form saved beside a model (e.g. in checkpoint metadata).
function Vocab:serialize()
  check_self(self, "serialize")
  return table.concat(self.itos, "\n")
end

function text.vocab_from_string(s)
  local fn = "loom.text.vocab_from_string"
  check.string(fn, "s", s)
  local list = {}
  for tok in (s .. "\n"):gmatch("([^\n]*)\n") do list[#list + 1] = tok end
  return from_tokens(list, fn)
end

-- text.batches(examples, batch_size) -> list of batches. Each example has `ids` (a list)
-- and `label` (a class id). Examples are sorted by length (stable on their order) and cut
-- into batches, so little padding is needed; each batch holds
--   X       T x B matrix of ids, time-major (row t holds step t of every sequence), padded
--           with pad_id past each sequence's end,
--   lengths list of B lengths, labels B x 1 matrix, examples the B examples.
function text.batches(examples, batch_size, pad_id)
  local fn = "loom.text.batches"
  check.list(fn, "examples", examples)
  batch_size = check.integer(fn, "batch_size", batch_size, 1)
  pad_id = pad_id == nil and 1 or check.integer(fn, "pad_id", pad_id, 1)
  for i, ex in ipairs(examples) do
    if type(ex) ~= "table" or type(ex.ids) ~= "table" or type(ex.label) ~= "number" then
      check.fail(fn, "examples[%d] must be {ids = {...}, label = class id}, got %s", i,
        type(ex) == "table" and "a table without them" or check.kind(ex))
    end
  end
  local order = {}
  for i = 1, #examples do order[i] = i end
  table.sort(order, function(a, b)
    local la, lb = #examples[a].ids, #examples[b].ids
    if la ~= lb then return la < lb end
    return a < b
  end)
  local batches = {}
  for start = 1, #order, batch_size do
    local B = math.min(batch_size, #order - start + 1)
    local members, lengths, T = {}, {}, 0
    for k = 1, B do
      local ex = examples[order[start + k - 1]]
      members[k], lengths[k] = ex, math.max(#ex.ids, 1)
      T = math.max(T, lengths[k])
    end
    local X = loom.fill(T, B, pad_id)
    local labels = loom.zeros(B, 1)
    for b, ex in ipairs(members) do
      for t, id in ipairs(ex.ids) do X:set(t, b, id) end
      labels:set(b, 1, ex.label)
    end
    batches[#batches + 1] = {X = X, lengths = lengths, labels = labels, examples = members}
  end
  return batches
end

-- text.batch_matrix(batch, field [, pad_id = 1]) -> matrix. A T x B matrix like batch.X
-- from another per-token list of the batch's examples (e.g. class ids); when ex[field] is
-- a list of k lists, a kT x B matrix whose block j (rows (j-1)T+1 .. jT) holds list j.
function text.batch_matrix(batch, field, pad_id)
  local fn = "loom.text.batch_matrix"
  if type(batch) ~= "table" or not loom.is_matrix(batch.X) or type(batch.examples) ~= "table" or #batch.examples == 0 then
    check.fail(fn, "expected a batch {X = matrix, examples = {...}}, got %s", check.kind(batch))
  end
  check.string(fn, "field", field)
  if pad_id ~= nil then check.integer(fn, "pad_id", pad_id, 1) end
  for b, ex in ipairs(batch.examples) do
    if type(ex) ~= "table" or type(ex[field]) ~= "table" then
      check.fail(fn, "examples[%d].%s must be a list of ids", b, field)
    end
  end
  local T, B = batch.X:rows(), #batch.examples
  local first = batch.examples[1][field]
  local k = type(first[1]) == "table" and #first or 1
  local M = loom.fill(k * T, B, pad_id or 1)
  for b, ex in ipairs(batch.examples) do
    local v = ex[field]
    if k == 1 then
      for t, id in ipairs(v) do M:set(t, b, id) end
    else
      for j = 1, k do
        for t, id in ipairs(v[j]) do M:set((j - 1) * T + t, b, id) end
      end
    end
  end
  return M
end

return text
