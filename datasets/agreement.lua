-- agreement.lua: synthetic subject-verb agreement sentences from a small grammar, in the
-- format of Linzen et al.'s number-prediction files ("VBZ<TAB>prefix" / "VBP<TAB>prefix"),
-- with the number of attractors and the subject-verb distance under control.
-- A module (require or dofile) and a command line:
--   loom datasets/agreement.lua [--n 1000] [--attractors 0-3] [--seed 1] [--out file]
--   loom datasets/agreement.lua --constructions all|val|test|pp,sent_comp,... [--n 1000]
-- grammar.construct builds Marvin & Linzen's (2018) constructions from a large lexicon
-- (hand lists and Debian's wamerican word list) split into training and held-out words.
-- Not the real data: datasets/linzen-agreement, bundled (see datasets/README.md).
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

-- ---- the construction grammar: a large lexicon and the constructions of Marvin & Linzen (2018) ----

-- Irregular plurals; every other noun takes grammar.plural's regular rule. Nouns whose two
-- numbers look alike (sheep, series, species) are left out: their number is not visible.
grammar.irregular = {
  man = "men", woman = "women", child = "children", person = "people", mouse = "mice",
  goose = "geese", foot = "feet", tooth = "teeth", ox = "oxen", wife = "wives",
  knife = "knives", leaf = "leaves", life = "lives", wolf = "wolves", shelf = "shelves",
  thief = "thieves", calf = "calves", half = "halves", loaf = "loaves", elf = "elves",
  analysis = "analyses", crisis = "crises", thesis = "theses", hypothesis = "hypotheses",
  diagnosis = "diagnoses", axis = "axes", criterion = "criteria", phenomenon = "phenomena",
  cactus = "cacti", fungus = "fungi", nucleus = "nuclei", stimulus = "stimuli",
  radius = "radii", medium = "media", curriculum = "curricula", bacterium = "bacteria",
  index = "indices", appendix = "appendices", matrix = "matrices", vertex = "vertices",
  potato = "potatoes", tomato = "tomatoes", hero = "heroes", echo = "echoes",
  veto = "vetoes", torpedo = "torpedoes", volcano = "volcanoes", mosquito = "mosquitoes",
  alumnus = "alumni", larva = "larvae", formula = "formulae", businessman = "businessmen",
  fireman = "firemen", policeman = "policemen", chairman = "chairmen", fisherman = "fishermen",
  salesman = "salesmen", spokesman = "spokesmen", congressman = "congressmen",
  gentleman = "gentlemen", craftsman = "craftsmen", policewoman = "policewomen",
}
-- Nouns ending in -man whose plural is regular (german -> germans).
local REGULAR_MAN = {german = true, human = true, shaman = true, talisman = true, caiman = true}

-- The regular plural: -s, -es after a sibilant, -ies after a consonant + y.
function grammar.plural(noun)
  local irr = grammar.irregular[noun]
  if irr then return irr end
  if noun:match("man$") and not REGULAR_MAN[noun] then return (noun:gsub("man$", "men")) end
  if noun:match("[sxz]$") or noun:match("[cs]h$") then return noun .. "es" end
  if noun:match("[^aeiou]y$") then return noun:sub(1, -2) .. "ies" end
  return noun .. "s"
end

-- The third person singular of a verb's bare form (likes, watches, carries, has, does, goes).
local IRREGULAR_3SG = {have = "has", ["do"] = "does", go = "goes", be = "is"}
function grammar.third_singular(verb)
  if IRREGULAR_3SG[verb] then return IRREGULAR_3SG[verb] end
  if verb:match("[sxz]$") or verb:match("[cs]h$") or verb:match("[^aeiou]o$") then return verb .. "es" end
  if verb:match("[^aeiou]y$") then return verb:sub(1, -2) .. "ies" end
  return verb .. "s"
end

local function words(s)
  local t = {}
  for w in s:gmatch("%S+") do t[#t + 1] = w end
  return t
end

-- Hand lists (singular nouns, bare verbs). Animate nouns are people and animals; inanimate
-- ones things, places and abstractions. The split into training and held-out words is
-- grammar.lexicon's, by a hash of the word, so the lists can grow without moving others.
grammar.animate_nouns = words [[
  author pilot surgeon farmer manager customer officer teacher senator skater dancer guard
  executive architect mechanic minister consultant parent student doctor lawyer nurse
  banker painter singer writer poet actor actress athlete player coach judge soldier
  sailor captain driver baker butcher cook chef waiter clerk secretary engineer scientist
  professor lecturer researcher journalist editor reporter photographer director producer
  musician pianist guitarist drummer violinist composer artist sculptor designer tailor
  carpenter plumber electrician gardener janitor cleaner farmer shepherd hunter fisherman
  merchant trader dealer broker investor accountant auditor economist analyst programmer
  developer technician pharmacist dentist therapist psychologist surgeon veterinarian
  priest monk nun bishop king queen prince princess duke emperor president governor mayor
  diplomat ambassador spy detective inspector sheriff policeman firefighter lifeguard
  soldier general colonel lieutenant sergeant admiral pirate knight warrior thief burglar
  prisoner criminal suspect witness victim hostage refugee immigrant tourist traveler
  passenger pedestrian cyclist swimmer runner climber hiker camper boxer wrestler golfer
  jockey umpire referee fan spectator viewer listener reader voter citizen neighbor
  friend stranger guest host visitor tenant landlord owner employer employee worker
  volunteer intern apprentice assistant candidate applicant winner loser champion rival
  enemy ally partner colleague boss chairman leader follower member delegate speaker
  preacher prophet saint angel ghost monster giant dwarf wizard witch
  man woman child boy girl baby toddler teenager adult grandmother grandfather mother
  father sister brother daughter son uncle aunt cousin nephew niece husband wife bride
  groom widow orphan
  dog cat horse cow pig goat chicken duck goose rabbit mouse rat squirrel fox wolf
  bear lion tiger leopard cheetah elephant giraffe zebra monkey gorilla kangaroo koala
  camel donkey mule hippo rhino crocodile alligator snake lizard
  turtle frog toad whale dolphin shark seal penguin eagle hawk owl parrot pigeon sparrow
  crow swan falcon bee ant spider beetle butterfly mosquito worm puppy kitten calf pony
]]
grammar.inanimate_nouns = words [[
  movie book game song picture painting show key cabinet table chair desk lamp door window
  wall roof floor house building tower bridge road street car truck bus train plane ship
  boat bicycle engine machine computer phone camera clock watch radio television screen
  letter report article essay novel poem story magazine newspaper journal map chart
  document contract policy law rule plan project program proposal budget price bill tax
  fee loan debt account record file folder box bag basket bottle cup glass plate bowl
  spoon fork knife pot pan oven stove kitchen bedroom garden park field farm forest river
  lake mountain hill valley island beach city town village country nation state region
  museum library school church temple hospital hotel restaurant shop store market factory
  office bank prison castle palace theater stadium airport station harbor
  rock stone tree flower leaf branch root seed plant fruit apple orange banana potato
  tomato vegetable cake cookie sandwich pizza meal dish recipe shirt dress coat jacket hat
  shoe boot sock glove ring necklace bracelet jewel coin ticket gift toy doll ball kite
  drum guitar piano violin trumpet flute instrument tool hammer nail screw saw drill rope
  chain wire cable pipe tube wheel tire brake mirror lens candle lantern blanket pillow
  carpet curtain sofa couch bed closet drawer shelf ladder fence gate tunnel canal
  theory idea argument question answer problem solution method result finding claim
  decision reason factor feature pattern process system network device sensor signal
  message email website server database algorithm equation formula model experiment test
  exam lesson course class lecture speech debate meeting conference festival concert
  party wedding ceremony event accident disaster storm earthquake flood fire
]]
-- Verbs by use: intransitive (laugh), transitive with an object (admire), taking a clause
-- (know that ...). Bare forms; third persons come from grammar.third_singular.
grammar.intransitive_verbs = words [[
  laugh smile swim sleep cry dance sing run walk jump wait arrive leave travel complain
  shout whisper pray vote win lose rest work play talk listen sneeze cough yawn blink
  wander hesitate agree retire relax panic celebrate succeed fail exercise kneel frown
  giggle scream sigh nod wave bow sweat shiver tremble stumble faint recover graduate
  argue apologize struggle compete disappear appear
]]
grammar.transitive_verbs = words [[
  like admire love hate see know follow find visit meet help trust fear blame praise
  thank greet call watch hear recognize remember forget ignore avoid attack defend chase
  catch hire fire pay teach invite interview criticize support oppose encourage annoy
  impress surprise confuse amuse bore please upset worry thrill inspire distract punish
  reward protect rescue warn advise promise tell convince persuade notice admire respect
  envy resent pity adore tolerate underestimate contact approach accompany
]]
-- Verbs for inanimate subjects (the movie appears ...), intransitive.
grammar.inanimate_verbs = words [[
  appear fall break work matter exist shine move change remain stand vanish collapse
  crash burn melt freeze shrink grow expand float sink spin shake rattle fade glow
  improve fail succeed continue begin end start stop last
]]
-- Clause-taking verbs in the past tense (their own form carries no number) and bare.
grammar.clause_verbs_past = words [[
  knew said thought believed hoped claimed suspected reported assumed noticed felt
  guessed heard learned announced argued doubted feared realized remembered mentioned
  suggested insisted admitted explained implied denied
]]
grammar.clause_verbs = words [[
  know say think believe hope claim suspect assume notice feel guess hear learn announce
  doubt fear realize remember mention suggest insist admit explain imply deny
]]
grammar.adjective_list = words [[
  old young small big tall short new famous quiet strange red blue green happy sad angry
  tired busy rich poor strong weak clever brave lazy kind rude honest curious nervous
  proud shy calm loud bright dark heavy light cheap expensive modern ancient local foreign
  popular friendly lonely serious funny wise wild gentle eager
]]
grammar.preposition_list = words [[
  near behind beside with under from above below across around behind beyond inside
  outside among between toward against without
]]
grammar.place_phrases = {{"next", "to"}, {"in", "front", "of"}, {"close", "to"}, {"far", "from"},
  {"on", "top", "of"}, {"instead", "of"}, {"because", "of"}, {"in"}, {"on"}, {"at"}, {"of"}}

local IRREGULAR_PAST = {
  run = "ran", swim = "swam", sleep = "slept", sing = "sang", win = "won", lose = "lost",
  leave = "left", feel = "felt", fall = "fell", ["break"] = "broke", stand = "stood",
  grow = "grew", sink = "sank", spin = "spun", shake = "shook", freeze = "froze",
  begin = "began", see = "saw", know = "knew", find = "found", meet = "met", catch = "caught",
  hear = "heard", teach = "taught", tell = "told", forget = "forgot", pay = "paid",
  say = "said", think = "thought", fight = "fought", go = "went", have = "had", ["do"] = "did",
  make = "made", come = "came", write = "wrote", read = "read", eat = "ate", drink = "drank",
  speak = "spoke", bring = "brought", buy = "bought", build = "built", hold = "held",
  keep = "kept", burn = "burned", cry = "cried", kneel = "knelt", shine = "shone",
  sweat = "sweated", ["end"] = "ended", stop = "stopped", nod = "nodded", admit = "admitted",
  chat = "chatted", plan = "planned", jog = "jogged", drop = "dropped", shop = "shopped",
  rob = "robbed", sob = "sobbed", hug = "hugged", beg = "begged", regret = "regretted",
  ["repeat"] = "repeated", visit = "visited", envy = "envied", pity = "pitied",
}
-- The past tense (number-neutral): -ed, -d after e, -ied after a consonant + y.
function grammar.past(verb)
  if IRREGULAR_PAST[verb] then return IRREGULAR_PAST[verb] end
  if verb:match("e$") then return verb .. "d" end
  if verb:match("[^aeiou]y$") then return verb:sub(1, -2) .. "ied" end
  return verb .. "ed"
end

-- Which words are held out: a hash of the word itself, so a word is held out in every
-- list it appears in and the choice does not depend on the other words. One word in five
-- is a test word (hash mod 10 = 0 or 5), one in ten a validation word (hash mod 10 = 1):
-- the validation words choose settings, the test words score them, the rest train.
grammar.HELD_OUT_EVERY = 5
function grammar.split_of(word)
  local h = require("loom").data.fnv1a32("agreement-lexicon:" .. word)
  if h % grammar.HELD_OUT_EVERY == 0 then return "test" end
  return h % 10 == 1 and "val" or "train"
end

-- Nouns (and verbs) from Debian's wamerican word list: a lowercase word with a possessive
-- entry ("surgeon's") and its plural in the list is a countable noun ({singular, plural,
-- ambiguous}); a word with third singular, -ing and -ed forms in the list is a verb
-- ({3sg, bare, past, ing}). Returns nil when the list is absent.
grammar.WORD_LIST = "/usr/share/dict/american-english"

local function ing_form(v)
  if v:match("ie$") then return v:sub(1, -3) .. "ying" end
  if v:match("[^e]e$") then return v:sub(1, -2) .. "ing" end
  return v .. "ing"
end

local NUMBER_WORDS = {}
for w in ([[zero one two three four five six seven eight nine ten eleven twelve twenty
  hundred thousand million billion trillion dozen score first second third fourth fifth
  sixth seventh eighth ninth tenth
  where there here what who that it he she let how why when which this these those
  yesterday today tomorrow however general]]):gmatch("%S+") do
  NUMBER_WORDS[w] = true -- and function words whose "'s" is a contraction (where's), and
  -- the sentence openers of grammar.construct: never nouns
end

function grammar.word_list(path)
  local f = io.open(path or grammar.WORD_LIST)
  if not f then return nil end
  local set, lower, caps = {}, {}, {}
  for w in f:lines() do
    set[w] = true
    if w:match("^%l+$") then lower[#lower + 1] = w
    elseif w:match("^%u%l+$") then caps[#caps + 1] = w end
  end
  f:close()
  local nouns, verbs, adjectives, adverbs, closed = {}, {}, {}, {}, {}
  for _, list in ipairs({grammar.animate_nouns, grammar.inanimate_nouns, grammar.intransitive_verbs,
      grammar.transitive_verbs, grammar.inanimate_verbs, grammar.clause_verbs, grammar.psych_verbs,
      grammar.adjective_list, grammar.preposition_list}) do
    for _, w in ipairs(list) do closed[w] = true end
  end
  for _, phrase in ipairs(grammar.place_phrases) do
    for _, w in ipairs(phrase) do closed[w] = true end -- "in front of": front is no noun here
  end
  for _, w in ipairs(lower) do
    if #w >= 3 and not closed[w] and not NUMBER_WORDS[w] then
      local pl = grammar.plural(w)
      local third, ing, ed = grammar.third_singular(w), ing_form(w), grammar.past(w)
      -- A noun that is also a verb (walk), an adjective (small: smaller, smallest) or a
      -- number (seventy) is marked ambiguous: the stress test never uses it.
      local doubled = w .. w:sub(-1)
      local ambiguous = set[ing] or set[ed] or set[doubled .. "ing"] or set[doubled .. "ed"] or set[w .. "er"] or set[w .. "est"] or set[w .. "ly"]
        or w:match("ty$") and set[w:sub(1, -3) .. "teen"]
      if set[w .. "'s"] and set[pl] and pl ~= w then
        nouns[#nouns + 1] = {w, pl, ambiguous and true or false}
      elseif set[third] and set[ing] and set[ed] and not set[w .. "'s"] then
        verbs[#verbs + 1] = {third, w, ed, ing}
      elseif w:match("ly$") and #w > 5 then adverbs[#adverbs + 1] = w
      elseif w:match("ous$") and set[w:sub(1, -2) .. "'s"] then -- caribous: a plural
      elseif (w:match("ous$") or w:match("ive$") or w:match("able$")
          or w:match("ible$") or w:match("ical$") or w:match("less$")) then
        adjectives[#adjectives + 1] = w
      end
    end
  end
  local names = {}
  for _, w in ipairs(caps) do if not set[w:lower()] then names[#names + 1] = w end end
  return {nouns = nouns, verbs = verbs, adjectives = adjectives, adverbs = adverbs, names = names}
end

-- Every form of the hand-listed verbs: a hand noun spelled like one of them (watch,
-- fire) is left out, so that a sentence's nouns and verbs never look alike.
local function hand_verb_forms()
  local set = {}
  for _, list in ipairs({grammar.intransitive_verbs, grammar.transitive_verbs, grammar.inanimate_verbs,
      grammar.psych_verbs, grammar.clause_verbs}) do
    for _, v in ipairs(list) do
      set[v], set[grammar.third_singular(v)], set[grammar.past(v)] = true, true, true
    end
  end
  for _, v in ipairs(grammar.clause_verbs_past) do set[v] = true end
  return set
end

local function noun_pairs(list)
  local out, seen, verbs = {}, {}, hand_verb_forms()
  for _, w in ipairs(list) do
    local pl = grammar.plural(w)
    if not seen[w] and not verbs[w] and not verbs[pl] then seen[w] = true; out[#out + 1] = {w, pl} end
  end
  return out
end

local function verb_forms(list)
  local out, seen = {}, {}
  for _, v in ipairs(list) do
    if not seen[v] then
      seen[v] = true
      out[#out + 1] = {grammar.third_singular(v), v, grammar.past(v)}
    end
  end
  return out
end

-- Keep the entries whose key word (entry[key]) belongs to split `want` (grammar.split_of).
local function split(list, want, key)
  local out = {}
  for _, e in ipairs(list) do
    local w = type(e) == "table" and e[key or 1] or e
    if grammar.split_of(w) == want then out[#out + 1] = e end
  end
  return out
end

-- grammar.lexicon([{word_list = path|false}]) -> {train = pool, val = pool, test = pool}.
-- The pools share no noun and no verb (grammar.split_of decides); function words,
-- adjectives and prepositions are shared. A pool has animate, inanimate ({singular, plural} pairs),
-- intransitive, transitive, inanimate_verbs ({3sg, bare, past}), clause_verbs (bare),
-- clause_verbs_past, adjectives, prepositions, and from the word list (when present)
-- open_nouns, open_verbs ({3sg, bare, past, ing}), open_adjectives, adverbs, names.
function grammar.lexicon(opts)
  opts = opts or {}
  local wl = opts.word_list ~= false and grammar.word_list(opts.word_list) or nil
  local function pool(held)
    local p = {
      animate = split(noun_pairs(grammar.animate_nouns), held),
      inanimate = split(noun_pairs(grammar.inanimate_nouns), held),
      intransitive = split(verb_forms(grammar.intransitive_verbs), held, 2),
      transitive = split(verb_forms(grammar.transitive_verbs), held, 2),
      psych = split(verb_forms(grammar.psych_verbs), held, 2),
      inanimate_verbs = split(verb_forms(grammar.inanimate_verbs), held, 2),
      clause_verbs = split(grammar.clause_verbs, held),
      clause_verbs_past = split(grammar.clause_verbs_past, held),
      adjectives = grammar.adjective_list, prepositions = grammar.preposition_list,
      open_nouns = {}, open_verbs = {}, open_adjectives = {}, adverbs = {}, names = {},
    }
    if wl then
      p.open_nouns = split(wl.nouns, held)
      p.open_verbs = split(wl.verbs, held, 2)
      p.open_adjectives, p.adverbs, p.names = wl.adjectives, wl.adverbs, wl.names
    end
    return p
  end
  return {train = pool("train"), val = pool("val"), test = pool("test")}
end

-- Transitive verbs whose subject can be a thing (the movie impresses the guards).
grammar.psych_verbs = words [[
  impress surprise confuse amuse bore please upset worry thrill inspire distract interest
  attract annoy delight disappoint frighten excite fascinate puzzle shock scare comfort
]]

-- ---- constructions ----

local SING_DETS = {"the", "the", "the", "the", "this", "that", "my", "his", "her", "our", "their"}
local PLUR_DETS = {"the", "the", "the", "the", "these", "those", "my", "his", "her", "our", "their"}
local OBJ_PLUR_DETS = {"the", "many", "some", "several", "two", "three", "these", "the"}
local OBJ_SING_DETS = {"the", "this", "that", "one", "every", "the"}

-- With lex.open_percent (grammar.construct's `open`), that share of the noun and verb slots
-- takes a word of the word list's open nouns and verbs instead of the hand lists, so that
-- a slot is learnt by its place in the sentence, not by a few dozen words that fill it.
local function open_slot(rand, lex, list)
  return (lex.open_percent or 0) > 0 and #list > 0 and rand(100) <= lex.open_percent
end

-- A noun phrase: determiner, up to `adjs` adjectives, the noun in `number`. kind is
-- "animate", "inanimate" or "any" (which also draws from the word list's open nouns).
local function np(rand, lex, number, kind, w, adjs, dets)
  dets = dets or (number == SING and SING_DETS or PLUR_DETS)
  w[#w + 1] = rand(3) == 1 and pick(rand, dets) or "the"
  for _ = 1, rand((adjs or 1) + 2) - 2 do
    local list = (#lex.open_adjectives > 0 and rand(3) == 1) and lex.open_adjectives or lex.adjectives
    w[#w + 1] = pick(rand, list)
  end
  if kind == "any" then
    local r = rand(4)
    if r == 1 and #lex.open_nouns > 0 then kind = "open"
    elseif r == 2 then kind = "inanimate" else kind = "animate" end
  end
  if kind ~= "open" and open_slot(rand, lex, lex.open_nouns) then kind = "open" end
  local list = kind == "open" and lex.open_nouns or lex[kind]
  w[#w + 1] = pick(rand, list)[number]
end

-- A verb of lex[kind] ("transitive", "psych", ...) agreeing with `number`, or in the past.
local function verb(rand, lex, kind, number, w, past)
  local v = pick(rand, open_slot(rand, lex, lex.open_verbs) and lex.open_verbs or lex[kind])
  w[#w + 1] = past and v[3] or v[number]
end

local function maybe_that(rand, w, animate)
  local r = rand(10)
  if r <= 6 then w[#w + 1] = "that"
  elseif r <= 8 and animate then w[#w + 1] = "who" end
end

local function prep_phrase(rand, lex, number, w)
  if rand(2) == 1 then
    for _, x in ipairs(pick(rand, grammar.place_phrases)) do w[#w + 1] = x end
  else
    w[#w + 1] = pick(rand, lex.prepositions)
  end
  np(rand, lex, number, "any", w)
end

-- One modifier of a noun of subject_number holding one noun of noun_number: a PP, a
-- subject relative clause (verb agrees with the head) or an object relative clause
-- (verb agrees with the noun inside), with or without "that".
local function modifier_of(rand, lex, noun_number, head_number, head_animate, w)
  local kind = rand(4)
  if kind <= 2 then
    prep_phrase(rand, lex, noun_number, w)
  elseif kind == 3 then
    maybe_that(rand, w, head_animate)
    np(rand, lex, noun_number, "animate", w)
    verb(rand, lex, "transitive", noun_number, w, rand(4) == 1)
  else
    w[#w + 1] = (head_animate and rand(3) == 1) and "who" or "that"
    verb(rand, lex, head_animate and "transitive" or "psych", head_number, w, rand(4) == 1)
    np(rand, lex, noun_number, head_animate and "any" or "animate", w)
  end
end

-- Each construction: function(rand, lex, number, animate, other) -> prefix words; the
-- verb that follows agrees in `number`; `animate` is the animacy of the noun that the
-- verb agrees with (for obj_rc_within, of the head noun, as in Marvin & Linzen); other
-- is the number of the distractor noun (an attractor when it differs from number).
local C = {}
grammar.constructions = C

C.simple = function(rand, lex, n, anim)
  local w = {}
  np(rand, lex, n, anim and "animate" or "inanimate", w, 2)
  return w
end
C.pp = function(rand, lex, n, anim, other)
  local w = {}
  np(rand, lex, n, anim and "animate" or "inanimate", w)
  prep_phrase(rand, lex, other, w)
  return w
end
C.subj_rc = function(rand, lex, n, anim, other)
  local w = {}
  np(rand, lex, n, anim and "animate" or "inanimate", w)
  w[#w + 1] = (anim and rand(3) == 1) and "who" or "that"
  verb(rand, lex, anim and "transitive" or "psych", n, w, rand(4) == 1)
  np(rand, lex, other, "animate", w)
  return w
end
local function obj_rc(rand, lex, n, anim, other, that)
  local w = {}
  np(rand, lex, n, anim and "animate" or "inanimate", w)
  if that then w[#w + 1] = "that" end
  np(rand, lex, other, "animate", w)
  verb(rand, lex, "transitive", other, w, rand(4) == 1)
  return w
end
C.obj_rc = function(rand, lex, n, anim, other) return obj_rc(rand, lex, n, anim, other, true) end
C.obj_rc_no_that = function(rand, lex, n, anim, other) return obj_rc(rand, lex, n, anim, other, false) end
-- The verb inside an object relative clause agrees with the clause's subject: `number`
-- is the clause subject's, `other` the head's, anim the head's animacy.
local function obj_rc_within(rand, lex, n, anim, other, that)
  local w = {}
  np(rand, lex, other, anim and "animate" or "inanimate", w)
  if that then w[#w + 1] = "that" end
  np(rand, lex, n, "animate", w)
  return w
end
C.obj_rc_within = function(rand, lex, n, anim, other) return obj_rc_within(rand, lex, n, anim, other, true) end
C.obj_rc_within_no_that = function(rand, lex, n, anim, other) return obj_rc_within(rand, lex, n, anim, other, false) end
C.subj_rc_within = function(rand, lex, n, anim)
  local w = {}
  np(rand, lex, n, anim and "animate" or "inanimate", w)
  w[#w + 1] = (anim and rand(3) == 1) and "who" or "that"
  return w
end
-- The main clause's subject (animate, number `other`) takes a clause whose subject agrees.
C.sent_comp = function(rand, lex, n, anim, other)
  local w = {}
  np(rand, lex, other, "animate", w)
  if open_slot(rand, lex, lex.open_verbs) then
    -- any verb: a verb after "the bankers V the pilot" has the pilot for its subject,
    -- whether or not V takes a clause in good English
    verb(rand, lex, "open_verbs", other, w, rand(2) == 1)
  elseif rand(2) == 1 then
    w[#w + 1] = pick(rand, lex.clause_verbs_past)
  else
    local v = pick(rand, lex.clause_verbs)
    w[#w + 1] = other == SING and grammar.third_singular(v) or v
  end
  if rand(2) == 1 then w[#w + 1] = "that" end
  np(rand, lex, n, anim and "animate" or "inanimate", w)
  return w
end
C.vp_short = function(rand, lex, n, anim)
  local w = {}
  np(rand, lex, n, anim and "animate" or "inanimate", w)
  verb(rand, lex, anim and "intransitive" or "inanimate_verbs", n, w, rand(2) == 1)
  w[#w + 1] = "and"
  return w
end
C.vp_long = function(rand, lex, n, anim, other)
  local w = {}
  np(rand, lex, n, anim and "animate" or "inanimate", w)
  verb(rand, lex, anim and "transitive" or "psych", n, w, rand(2) == 1)
  np(rand, lex, other, anim and "any" or "animate", w, 3, other == SING and OBJ_SING_DETS or OBJ_PLUR_DETS)
  if rand(2) == 1 then prep_phrase(rand, lex, rand(2), w) end
  w[#w + 1] = "and"
  return w
end
-- Several modifiers in a row (PPs and relative clauses), 0..3 of them attractors.
C.nested = function(rand, lex, n, anim)
  local w = {}
  np(rand, lex, n, anim and "animate" or "inanimate", w)
  for _ = 1, rand(3) do
    modifier_of(rand, lex, rand(2), n, anim, w)
  end
  return w
end

-- A clause whose subject (an animate noun of `number`) is not the verb's: "the pilots
-- laughed", "the guard admires the dogs".
local function clause(rand, lex, number, w)
  np(rand, lex, number, "animate", w)
  if rand(2) == 1 then
    verb(rand, lex, "intransitive", number, w, rand(2) == 1)
  else
    verb(rand, lex, "transitive", number, w, rand(2) == 1)
    np(rand, lex, rand(2), "any", w)
  end
end
-- Two clauses joined: the verb agrees with the second clause's subject.
C.s_coord = function(rand, lex, n, anim, other)
  local w = {}
  clause(rand, lex, other, w)
  if rand(3) == 1 then w[#w + 1] = "," end
  w[#w + 1] = pick(rand, {"and", "and", "but", "while", "so"})
  np(rand, lex, n, anim and "animate" or "inanimate", w)
  return w
end
-- An adverbial clause and a comma before the subject.
local SUBORDINATORS = {"when", "because", "although", "if", "while", "after", "before",
  "since", "once", "whenever", "though", "as"}
C.adv_clause = function(rand, lex, n, anim, other)
  local w = {pick(rand, SUBORDINATORS)}
  clause(rand, lex, other, w)
  w[#w + 1] = ","
  np(rand, lex, n, anim and "animate" or "inanimate", w)
  return w
end
-- Two coordinated noun phrases take a plural verb whatever their numbers (the second
-- return value overrides the construction's number).
C.coord_np = function(rand, lex, n, anim, other)
  local w = {}
  np(rand, lex, n, anim and "animate" or "inanimate", w)
  w[#w + 1] = "and"
  np(rand, lex, other, "any", w)
  return w, PLUR
end

grammar.construction_names = {"simple", "pp", "subj_rc", "obj_rc", "obj_rc_no_that",
  "obj_rc_within", "obj_rc_within_no_that", "subj_rc_within", "sent_comp", "vp_short",
  "vp_long", "nested", "s_coord", "adv_clause", "coord_np"}

local INTROS = {{"yesterday", ","}, {"apparently", ","}, {"however", ","},
  {"clearly", ","}, {"so"}, {"but"}, {"now", ","}, {"today", ","}}

-- grammar.construct(n, lex, {constructions = names, intro = true, animate = nil|bool,
--   shuffle = true, open = 0}, rand) -> list of
-- {line, label, words, construction, animate (boolean), attractor (boolean)}: n sentences,
-- constructions drawn uniformly, number, animacy and attractor number at random. With
-- open = f, a share f of the noun and verb slots (clause-taking verbs excepted) takes a
-- word-list noun or verb (an "animate" head may then be a thing: animacy is the
-- construction's, not the word's).
function grammar.construct(n, lex, opts, rand)
  opts = opts or {}
  rand = rand or require("loom").random_int
  local names = opts.constructions or grammar.construction_names
  if (opts.open or 0) > 0 then
    lex = setmetatable({open_percent = math.floor(opts.open * 100 + 0.5)}, {__index = lex})
  end
  local out = {}
  for i = 1, n do
    local name = names[(i - 1) % #names + 1]
    if opts.shuffle ~= false then name = names[rand(#names)] end
    local number, anim = rand(2), rand(3) ~= 1
    if opts.animate ~= nil then anim = opts.animate end
    local other = rand(2)
    local w = {}
    if opts.intro and rand(5) == 1 then
      for _, x in ipairs(pick(rand, INTROS)) do w[#w + 1] = x end
    end
    local words, forced = C[name](rand, lex, number, anim, other)
    for _, x in ipairs(words) do w[#w + 1] = x end
    number = forced or number
    local label = number == SING and "VBZ" or "VBP"
    out[i] = {line = label .. "\t" .. table.concat(w, " "), label = label, words = w,
      construction = name, animate = anim, attractor = other ~= number}
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
    elseif a == "--constructions" then opts.constructions = v
    else
      io.stderr:write("usage: loom datasets/agreement.lua [--n N] [--attractors A-B] ",
        "[--extra-nouns A-B] [--seed S] [--out FILE] [--constructions all|NAME,...|train|val|test]\n")
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
  local list
  if opts.constructions then
    local names, pool = nil, "train"
    if opts.constructions == "test" or opts.constructions == "val" then pool = opts.constructions
    elseif opts.constructions ~= "all" and opts.constructions ~= "train" then
      names = {}
      for name in opts.constructions:gmatch("[^,]+") do
        if not grammar.constructions[name] then
          io.stderr:write("agreement.lua: unknown construction '", name, "'\n")
          return 2
        end
        names[#names + 1] = name
      end
    end
    list = grammar.construct(opts.n, grammar.lexicon()[pool], {constructions = names, intro = true})
  else
    list = grammar.generate(opts.n, opts)
  end
  for _, s in ipairs(list) do f:write(s.line, "\n") end
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
