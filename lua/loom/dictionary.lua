-- loom.dictionary: word-for-word translation with a bilingual dictionary in the dictd format
-- (FreeDict's <name>.index and <name>.dict or .dict.dz): the baseline a translation model
-- has to beat. Not a dictionary server, nor a morphological analyser beyond a few English
-- endings.
local check = require "loom.check"
local core = require "loom.core"

local dictionary = {}

-- Debian's dict-freedict-eng-spa.
dictionary.FREEDICT_ENG_SPA = "/usr/share/dictd/freedict-eng-spa"

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local B64_VALUE = {}
for i = 1, #B64 do B64_VALUE[B64:sub(i, i)] = i - 1 end

-- A number in dictd's base-64 digits ("EFb"), or nil.
local function b64(s)
  local n = 0
  for c in s:gmatch(".") do
    local d = B64_VALUE[c]
    if not d then return nil end
    n = n * 64 + d
  end
  return n
end

-- The translation an entry gives first, and the length of its pronunciation. An entry reads
-- "headword /pronunciation/\n1. first, second\n2. ...": FreeDict indexes a phrase under its
-- first word, so of a word's entries the one with the shortest pronunciation is the word
-- itself ("the /ð/" before "the /ðneðəlændz/").
local function first_translation(body)
  local head, rest = body:match("^([^\n]*)\n(.*)$")
  if not head then return nil end
  local pron = head:match("/(.-)/") or ""
  for line in rest:gmatch("[^\n]+") do
    local sense = line:gsub("^%s*%d+%.%s*", "")
    local first = sense:match("^%s*([^,;]-)%s*[,;]") or sense:match("^%s*(.-)%s*$")
    if first ~= "" then return first, #pron end
  end
  return nil
end

local function read_file(path)
  local text, err = core.data.read_text(path)
  if not text then return nil, err end
  return text
end

-- dictionary.read([prefix = dictionary.FREEDICT_ENG_SPA]) -> {word = translation, ...} | nil,
-- message. Words are the index's headwords in lower case; prefix.dict.dz (gzip, as dictzip
-- is) or prefix.dict holds the entries.
function dictionary.read(prefix)
  local fn = "loom.dictionary.read"
  if prefix ~= nil then check.string(fn, "prefix", prefix) end
  prefix = prefix or dictionary.FREEDICT_ENG_SPA
  local index, err = read_file(prefix .. ".index")
  if not index then
    return nil, err .. (prefix == dictionary.FREEDICT_ENG_SPA and " (apt-get install dict-freedict-eng-spa)" or "")
  end
  local body = read_file(prefix .. ".dict.dz") or read_file(prefix .. ".dict")
  if not body then return nil, prefix .. ".dict.dz: cannot read it (nor " .. prefix .. ".dict)" end
  local words, best = {}, {}
  local n = 0
  for line in index:gmatch("[^\n]+") do
    n = n + 1
    local word, off, len = line:match("^([^\t]+)\t([^\t]+)\t([^\t]+)$")
    local o, l = b64(off or ""), b64(len or "")
    if not (o and l) or o + l > #body then
      return nil, string.format("%s.index:%d: expected 'headword<TAB>offset<TAB>length' inside the .dict", prefix, n)
    end
    word = word:lower()
    if not word:match("^00database") then
      local t, pron = first_translation(body:sub(o + 1, o + l))
      if t and (not best[word] or pron < best[word]) then words[word], best[word] = t, pron end
    end
  end
  return words
end

-- English endings tried in order when a word is not a headword: plurals, past, -ing.
local ENDINGS = {{"ies", "y"}, {"ied", "y"}, {"es", ""}, {"s", ""}, {"ed", "e"}, {"ed", ""}, {"d", ""},
  {"ing", "e"}, {"ing", ""}}

local function lookup(words, w)
  local lw = w:lower()
  local t = words[lw]
  if t then return t end
  for _, e in ipairs(ENDINGS) do
    local suffix, repl = e[1], e[2]
    if #lw > #suffix + 2 and lw:sub(-#suffix) == suffix then
      t = words[lw:sub(1, -#suffix - 1) .. repl]
      if t then return t end
    end
  end
  return nil
end

local UPPER = {["á"] = "Á", ["é"] = "É", ["í"] = "Í", ["ó"] = "Ó", ["ú"] = "Ú", ["ñ"] = "Ñ", ["ü"] = "Ü"}
local function capitalise(w)
  local first = w:match("^\xC3[\x80-\xBF]") or w:sub(1, 1)
  return (UPPER[first] or first:upper()) .. w:sub(#first + 1)
end

-- dictionary.translate(words, sentence) -> sentence: each word replaced by its first
-- translation (looked up in lower case, then without a plural, past or -ing ending), a
-- capital kept as a capital; words the dictionary lacks (names, mostly) and punctuation
-- stay as they are; a possessive 's goes.
function dictionary.translate(words, sentence)
  local fn = "loom.dictionary.translate"
  check.table(fn, "words", words)
  check.string(fn, "sentence", sentence)
  local out = sentence:gsub("%a[%a\128-\255]*", function(w)
    local word, tail = w:match("^(%a+)(.*)$")
    if tail == "\226\128\153s" or tail == "'s" then tail = "" end -- God’s
    local t = lookup(words, word)
    if not t then return word .. tail end
    if word:find("^%u") then t = capitalise(t) end
    return t .. tail
  end)
  return out
end

return dictionary
