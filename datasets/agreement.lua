-- agreement.lua: synthetic subject-verb agreement sentences from a small grammar, in the
-- format of Linzen et al.'s number-prediction files ("VBZ<TAB>prefix" / "VBP<TAB>prefix"),
-- with the number of attractors and the subject-verb distance under control.
-- A module (require or dofile) and a command line:
--   loom datasets/agreement.lua [--n 1000] [--attractors 0-3] [--seed 1] [--out file]
-- Not the real data: ../shared/datasets/linzen-agreement (see datasets/README.md).
local grammar = {}

-- Singular and plural forms: the subject's number decides the verb; attractors are nouns
-- of the other number between subject and verb.
grammar.nouns = {
  {"key", "keys"}, {"cabinet", "cabinets"}, {"dog", "dogs"}, {"teacher", "teachers"},
  {"child", "children"}, {"woman", "women"}, {"man", "men"}, {"book", "books"},
  {"table", "tables"}, {"author", "authors"}, {"farmer", "farmers"}, {"pilot", "pilots"},
  {"senator", "senators"}, {"car", "cars"}, {"house", "houses"}, {"student", "students"},
  {"box", "boxes"}, {"city", "cities"}, {"letter", "letters"}, {"picture", "pictures"},
  {"doctor", "doctors"}, {"bird", "birds"}, {"river", "rivers"}, {"window", "windows"},
}
-- Verbs inside relative clauses (third person: singular -s, plural bare).
grammar.verbs = {
  {"likes", "like"}, {"sees", "see"}, {"knows", "know"}, {"follows", "follow"},
  {"admires", "admire"}, {"finds", "find"}, {"hates", "hate"}, {"visits", "visit"},
}
grammar.prepositions = {"near", "behind", "beside", "with", "under", "of", "from", "above"}
grammar.adjectives = {"old", "small", "red", "famous", "new", "quiet", "strange", "tall"}

local SING, PLUR = 1, 2

-- The random source: a function(n) -> integer in 1..n (loom.random_int by default).
local function pick(rand, list) return list[rand(#list)] end

local function noun_phrase(rand, number, words)
  words[#words + 1] = "the"
  if rand(3) == 1 then words[#words + 1] = pick(rand, grammar.adjectives) end
  words[#words + 1] = pick(rand, grammar.nouns)[number]
end

-- One modifier of the subject holding one intervening noun of the given number:
-- a prepositional phrase ("near the cabinets"), an object relative clause ("that the
-- man likes", whose verb agrees with the attractor) or a subject relative clause ("that
-- likes the men", whose verb agrees with the subject).
local function modifier(rand, noun_number, subject_number, words)
  local kind = rand(4)
  if kind <= 2 then
    words[#words + 1] = pick(rand, grammar.prepositions)
    noun_phrase(rand, noun_number, words)
  elseif kind == 3 then
    words[#words + 1] = "that"
    noun_phrase(rand, noun_number, words)
    words[#words + 1] = pick(rand, grammar.verbs)[noun_number]
  else
    words[#words + 1] = "that"
    words[#words + 1] = pick(rand, grammar.verbs)[subject_number]
    noun_phrase(rand, noun_number, words)
  end
end

-- grammar.sentence(rand, {attractors = k, nouns = m}) -> label, prefix words, info.
-- m >= k intervening nouns, k of them of the other number. info has attractors,
-- distance (words between the subject noun and the verb) and the subject's number.
function grammar.sentence(rand, opts)
  local k = opts.attractors or 0
  local m = math.max(opts.nouns or k, k)
  local number = rand(2)
  local other = 3 - number
  local words = {}
  if rand(4) == 1 then
    words[#words + 1] = pick(rand, {"yesterday", "today", "apparently", "often"})
    words[#words + 1] = ","
  end
  noun_phrase(rand, number, words)
  local subject_at = #words
  -- Choose which of the m intervening nouns are attractors.
  local flags = {}
  for i = 1, m do flags[i] = i <= k end
  for i = m, 2, -1 do
    local j = rand(i)
    flags[i], flags[j] = flags[j], flags[i]
  end
  for i = 1, m do modifier(rand, flags[i] and other or number, number, words) end
  local label = number == SING and "VBZ" or "VBP"
  return label, words, {attractors = k, distance = #words - subject_at, number = number}
end

-- grammar.generate(n, {attractors = {min, max}, extra_nouns = {0, 2}}, rand) -> list of
-- {line = "VBZ\t...", label = "VBZ", words = {...}, attractors = k, distance = d}.
function grammar.generate(n, opts, rand)
  opts = opts or {}
  rand = rand or require("loom").random_int
  local lo, hi = table.unpack(opts.attractors or {0, 3})
  local elo, ehi = table.unpack(opts.extra_nouns or {0, 2})
  local out = {}
  for i = 1, n do
    local k = lo + rand(hi - lo + 1) - 1
    local extra = elo + rand(ehi - elo + 1) - 1
    local label, words, info = grammar.sentence(rand, {attractors = k, nouns = k + extra})
    info.label, info.words = label, words
    info.line = label .. "\t" .. table.concat(words, " ")
    out[i] = info
  end
  return out
end

local function parse_range(s)
  local a, b = s:match("^(%d+)%-(%d+)$")
  if a then return {tonumber(a), tonumber(b)} end
  local v = tonumber(s)
  if v then return {v, v} end
  error("expected a count or a range like 0-3, got '" .. s .. "'")
end

function grammar.main(args)
  local opts = {n = 1000, attractors = {0, 3}, extra_nouns = {0, 2}, seed = 1}
  local i = 1
  while i <= #args do
    local a, v = args[i], args[i + 1]
    if a == "--n" then opts.n = math.tointeger(tonumber(v))
    elseif a == "--attractors" then opts.attractors = parse_range(v)
    elseif a == "--extra-nouns" then opts.extra_nouns = parse_range(v)
    elseif a == "--seed" then opts.seed = math.tointeger(tonumber(v))
    elseif a == "--out" then opts.out = v
    else
      io.stderr:write("usage: loom datasets/agreement.lua [--n N] [--attractors A-B] ",
        "[--extra-nouns A-B] [--seed S] [--out FILE]\n")
      return 2
    end
    i = i + 2
  end
  if not opts.n or not opts.seed then
    io.stderr:write("agreement.lua: --n and --seed take integers\n")
    return 2
  end
  local loom = require "loom"
  loom.seed(opts.seed)
  local f = opts.out and assert(io.open(opts.out, "w")) or io.stdout
  for _, s in ipairs(grammar.generate(opts.n, opts)) do f:write(s.line, "\n") end
  if opts.out then f:close() end
  return 0
end

-- Run as a script (`loom datasets/agreement.lua ...`): arg[0] is this very file. Loaded
-- with dofile or require from elsewhere, it is only the module.
local this_file = debug.getinfo(1, "S").source:sub(2)
if arg and arg[0] == this_file then
  os.exit(grammar.main(arg))
end

return grammar
