-- loom.text: token sequences for recurrent models: whitespace tokens, a vocabulary with
-- padding and unknown ids, and batches of T x B id matrices grouped by length.
-- Not a tokenizer for raw text beyond whitespace, and not a dataset loader.
local loom = require "loom"
local check = require "loom.check"

local text = {}

text.PAD, text.UNK = "<pad>", "<unk>"

function text.tokenize(line)
  check.string("loom.text.tokenize", "line", line)
  local tokens = {}
  for tok in line:gmatch("%S+") do tokens[#tokens + 1] = tok end
  return tokens
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
  opts = check.options(fn, opts, {min_count = "integer", max_size = "integer"})
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

function Vocab:encode(tokens)
  check_self(self, "encode")
  check.list("loom.text.Vocab:encode", "tokens", tokens)
  local ids = {}
  for i, tok in ipairs(tokens) do ids[i] = self.stoi[tok] or self.unk end
  return ids
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

return text
