-- loom.agreement: the number-prediction data of Linzen, Dupoux & Goldberg (2016) and its
-- split protocol (FNV-1a 32-bit of the line, bucket = hash mod 10: 0-6 train, 7
-- validation, 8-9 test, in every file). Not the model: scripts/experiments/agreement.lua.
local text = require "loom.text"
local data = require "loom.data"

local agreement = {}

agreement.LABELS = {"VBZ", "VBP"} -- class 1: singular verb, class 2: plural verb
local CLASS = {VBZ = 1, VBP = 2}

function agreement.bucket(line)
  local b = data.fnv1a32(line) % 10
  if b <= 6 then return "train" elseif b == 7 then return "val" end
  return "test"
end

-- Parse one "VBZ<TAB>words ..." line into {label = 1|2, words = {...}, line = line},
-- or nil and a message.
function agreement.parse(line)
  local tag, sentence = line:match("^(%u+)\t(.*)$")
  if not tag or not CLASS[tag] then
    return nil, "expected VBZ or VBP, a tab, then the sentence"
  end
  return {label = CLASS[tag], words = text.tokenize(sentence), line = line}
end

-- The text of path, or of path.gz when only the compressed file is there (the bundled
-- copies are gzip); a gzip stream cut short is an error, not a shorter file.
local function read_text(path)
  local f = io.open(path, "rb")
  if f then
    f:close()
    return data.read_text(path)
  end
  local gz = io.open(path .. ".gz", "rb")
  if gz then
    gz:close()
    return data.read_text(path .. ".gz")
  end
  return nil, path .. ": No such file or directory"
end

-- agreement.read(path) -> list of examples | nil, "path:line: message".
-- Reads path, or path.gz when only that exists.
function agreement.read(path)
  local content, err = read_text(path)
  if not content then return nil, err end
  local out, n = {}, 0
  for line in content:gmatch("([^\n]*)\n?") do
    n = n + 1
    line = line:gsub("\r$", "")
    if line ~= "" then
      local ex, perr = agreement.parse(line)
      if not ex then return nil, string.format("%s:%d: %s", path, n, perr) end
      out[#out + 1] = ex
    end
  end
  return out
end

-- The real data in dir (numpred.val and numpred.test.1..5), split by the protocol:
-- {train = {...}, val = {...}, test = {mixed = {...}, [1] = {...}, ..., [5] = {...}}}.
-- Training and validation lines come from every file; each test set keeps its origin.
function agreement.load_linzen(dir)
  local sets = {train = {}, val = {}, test = {}}
  local files = {{"numpred.val", "mixed"}}
  for k = 1, 5 do files[#files + 1] = {"numpred.test." .. k, k} end
  for _, spec in ipairs(files) do
    local examples, err = agreement.read(dir .. "/" .. spec[1])
    if not examples then return nil, err end
    local test = {}
    for _, ex in ipairs(examples) do
      local b = agreement.bucket(ex.line)
      ex.origin = spec[2]
      if b == "test" then test[#test + 1] = ex else table.insert(sets[b], ex) end
    end
    sets.test[spec[2]] = test
  end
  return sets
end

-- Synthetic data with the same shape, from datasets/agreement.lua's grammar:
-- train/val with 0..max_attractors attractors, test.mixed like train, test[k] exactly k.
function agreement.synthetic(grammar, sizes)
  local function convert(list)
    for i, s in ipairs(list) do
      list[i] = {label = CLASS[s.label], words = s.words, line = s.line,
        attractors = s.attractors, distance = s.distance}
    end
    return list
  end
  local maxk = sizes.max_attractors or 2
  local sets = {
    train = convert(grammar.generate(sizes.train, {attractors = {0, maxk}})),
    val = convert(grammar.generate(sizes.val, {attractors = {0, maxk}})),
    test = {mixed = convert(grammar.generate(sizes.test, {attractors = {0, maxk}}))},
  }
  for k = 1, 5 do
    sets.test[k] = convert(grammar.generate(sizes.test_per_k or sizes.test, {attractors = {k, k}}))
  end
  return sets
end

-- ---- part-of-speech placeholders ----

-- The Linzen files replace rare words by their tag (NN, NNS, VBZ, ...); natural text has
-- the words themselves. fill_placeholders puts back a word of the tag's kind from a
-- lexicon pool (datasets/agreement.lua's grammar.lexicon), so that training sees real
-- rare words and their forms. Tags with no pool are kept.
local FILL = {
  NN = {"open_nouns", 1}, NNS = {"open_nouns", 2}, NNP = {"names"}, NNPS = {"names", "s"},
  JJ = {"open_adjectives"}, RB = {"adverbs"}, VBZ = {"open_verbs", 1}, VBP = {"open_verbs", 2},
  VB = {"open_verbs", 2}, VBD = {"open_verbs", 3}, VBN = {"open_verbs", 3}, VBG = {"open_verbs", 4},
}
agreement.PLACEHOLDERS = FILL

-- A copy of the example with each tag replaced (rand(n) -> 1..n picks the words).
function agreement.fill_placeholders(ex, pool, rand)
  local words, changed = {}, false
  for i, w in ipairs(ex.words) do
    local spec = FILL[w]
    local list = spec and pool[spec[1]]
    if w == "CD" then
      words[i], changed = tostring(rand(2000)), true
    elseif list and #list > 0 then
      local e = list[rand(#list)]
      if type(e) == "table" then e = e[spec[2]] end
      if spec[2] == "s" then e = e .. "s" end
      words[i], changed = e, true
    else
      words[i] = w
    end
  end
  if not changed then return ex end
  local copy = {}
  for k, v in pairs(ex) do copy[k] = v end
  copy.words, copy.filled = words, true
  return copy
end

-- ---- the unseen-noun stress test ----

local DETERMINERS = {}
for w in ([[the a an this that these those its his her their my our your some many several
  all both each every no two three four five few most such]]):gmatch("%S+") do DETERMINERS[w] = true end

-- word -> 1 (singular) or 2 (plural) for the nouns of a lexicon (both pools) whose form
-- is a noun only: words that are also verb forms or whose two numbers collide are left out.
function agreement.noun_numbers(lexicon)
  local number, ambiguous = {}, {}
  local function add(w, n)
    if number[w] and number[w] ~= n then ambiguous[w] = true end
    number[w] = n
  end
  local function mark_verbs(list)
    for _, v in ipairs(list) do for _, f in ipairs(v) do ambiguous[f] = true end end
  end
  for _, pool in pairs(lexicon) do
    for _, kind in ipairs({"animate", "inanimate", "open_nouns"}) do
      for _, e in ipairs(pool[kind]) do
        if not e[3] then add(e[1], 1); add(e[2], 2) else ambiguous[e[1]], ambiguous[e[2]] = true, true end
      end
    end
    for _, kind in ipairs({"intransitive", "transitive", "inanimate_verbs", "psych", "open_verbs"}) do
      mark_verbs(pool[kind])
    end
  end
  for w in pairs(ambiguous) do number[w] = nil end
  return number
end

-- The position of the subject noun: the first noun (of `numbers`) that starts the last
-- segment of the line (after its last comma, parenthesis, colon or semicolon: the Linzen
-- prefixes end before the verb, so the last clause holds its subject) or follows a
-- determiner there; nil when there is none or its number is not the label's (the line
-- is then skipped).
local SEPARATORS = {[","] = true, ["("] = true, [";"] = true, [":"] = true}
function agreement.subject_index(ex, numbers)
  local w = ex.words
  local from = 1
  for i = #w, 1, -1 do
    if SEPARATORS[w[i]] then from = i + 1; break end
  end
  for i = from, #w do
    local n = numbers[w[i]]
    if n and (i == from or DETERMINERS[w[i - 1]]) then return n == ex.label and i or nil end
  end
  return nil
end

-- agreement.stress_test(examples, numbers, replacements, rand) -> {subject = list, all = list,
-- original = list}: the examples with a subject (subject_index), that subject replaced by a
-- noun of the same number from replacements ({singular, plural} pairs never seen in
-- training), and the same with every later noun of `numbers` replaced too (attractors and
-- all). Lists are parallel; each copy keeps .number (1, 2) and .replaced (count).
function agreement.stress_test(examples, numbers, replacements, rand)
  local out = {original = {}, subject = {}, all = {}}
  local function copy_with(ex, words, k)
    return {label = ex.label, words = words, line = ex.line, origin = ex.origin, number = ex.label, replaced = k}
  end
  for _, ex in ipairs(examples) do
    local s = agreement.subject_index(ex, numbers)
    if s then
      local subj, all = {}, {}
      local k = 1
      for i, w in ipairs(ex.words) do
        subj[i], all[i] = w, w
        if i == s then
          local r = replacements[rand(#replacements)][ex.label]
          subj[i], all[i] = r, r
        elseif i > s and numbers[w] then
          all[i] = replacements[rand(#replacements)][numbers[w]]
          k = k + 1
        end
      end
      out.original[#out.original + 1] = copy_with(ex, ex.words, 0)
      out.subject[#out.subject + 1] = copy_with(ex, subj, 1)
      out.all[#out.all + 1] = copy_with(ex, all, k)
    end
  end
  return out
end

-- Convert grammar.construct's sentences ({label = "VBZ", ...}) to examples (label 1 or 2).
function agreement.examples(sentences)
  local out = {}
  for i, s in ipairs(sentences) do
    out[i] = {label = CLASS[s.label], words = s.words, line = s.line, construction = s.construction,
      animate = s.animate, attractor = s.attractor, origin = "generated"}
  end
  return out
end

return agreement
