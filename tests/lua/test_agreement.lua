-- test_agreement.lua: the agreement experiment end to end on the synthetic grammar (tiny:
-- a few seconds), then its inspection mode on the saved model. Not an accuracy benchmark:
-- the real-data results are in the README and docs/agreement.md.
local loom = require "loom"

local run, dir, bin, script = dofile(TEST_DIR .. "/experiment_helpers.lua").cli("agreement.lua")

local model_path

test("trains on synthetic sentences, reports by attractors, saves the best model", function()
  local out, code = run("data=synthetic quick=true max_train=800 epochs=2 hidden=16 embed=16 suite_size=20")
  equal(code, 0, "exit status\n" .. out)
  check(out:find("1 attractor", 1, true), "the table has a row per attractor count:\n%s", out)
  check(out:find("P(plural verb)", 1, true), "word-by-word section printed")
  model_path = out:match("model%s+(%S+best%.safetensors)")
  check(model_path, "the result names the checkpoint:\n%s", out)
  local tensors, meta = loom.load(model_path)
  check(tensors, "the checkpoint loads: %s", tostring(meta))
  check(tensors["rnn.weight_ih_l0"], "LSTM weights under PyTorch names")
  equal(tensors["rnn.weight_ih_l0"]:rows(), 64, "4H rows (gates i, f, g, o)")
  local vocab = loom.text.vocab_from_string(meta.vocab)
  equal(vocab.itos[1], "<pad>", "the vocabulary travels with the model")
  check(vocab.classes, "the default features keep unknown-word classes")
  check(tensors["suffix.weight"] and meta.suffixes, "suffix embeddings and their vocabulary are saved")
  check(out:find("unseen-noun stress test", 1, true), "stress test reported:\n%s", out)
  check(out:find("obj_rc_within_no_that", 1, true), "construction suite reported")
  check(out:find("construction suite (validation nouns and verbs", 1, true), "validation suite reported")
  check(out:find("validation by origin", 1, true) and out:find("val_cons_min", 1, true), "validation parts reported")
end)

test("predict mode prints one VBZ/VBP per prefix and explains each word", function()
  if not model_path then skip("needs the model of the previous test") end
  local prefixes = dir .. "/prefixes.txt"
  local f = assert(io.open(prefixes, "w"))
  f:write("the keys to the cabinet\nthe key near the cabinets\n\nVBZ\tthe dog\n")
  f:close()
  local out, code = run(string.format("predict='%s' model='%s' probe=true", prefixes, model_path))
  equal(code, 0, "exit status\n" .. out)
  local labels = {}
  for label in out:gmatch("\n?(VB[ZP])\n") do labels[#labels + 1] = label end
  equal(#labels, 3, "one label per non-empty line (a leading VBZ<TAB> is dropped)\n" .. out)
  check(out:find("P(plural)", 1, true), "word-by-word probabilities")
  -- |c| and the forget gate come from the fused layer: they equal a cell stepped by hand
  local tensors, meta = loom.load(model_path)
  local vocab = loom.text.vocab_from_string(meta.vocab)
  local H = tensors["rnn.weight_hh_l0"]:cols()
  local cell = loom.nn.LSTMCell(tensors["rnn.weight_ih_l0"]:cols(), H)
  cell:load_state_dict{weight_ih = tensors["rnn.weight_ih_l0"], weight_hh = tensors["rnn.weight_hh_l0"],
    bias_ih = tensors["rnn.bias_ih_l0"], bias_hh = tensors["rnn.bias_hh_l0"]}
  -- the layer's input is the word's embedding plus the embeddings of its last 1..3 letters
  local words = loom.text.tokenize_words("the keys to the cabinet")
  local suffixes = loom.text.vocab_from_string(meta.suffixes)
  local suffix_ids = suffixes:suffix_ids(words)
  local h, c
  for t, id in ipairs(vocab:encode(words)) do
    local x = tensors["embed.weight"]:row(id):copy()
    for k = 1, #suffix_ids do x:add_(tensors["suffix.weight"]:row(suffix_ids[k][t])) end
    h, c = cell:forward(x, {h = h, c = c})
    h, c = h:copy(), c:copy()
  end
  local forget = cell:gates():slice(1, 1, H + 1, 2 * H):mean()
  local want = string.format("cabinet%%s+P%%(plural%%) %%S+%%s+|h| %%S+%%s+|c|%%s+%s%%s+forget %s",
    string.format("%.3f", c:norm()):gsub("%.", "%%."), string.format("%.3f", forget):gsub("%.", "%%."))
  check(out:find(want), "the last word's |c| %.3f and forget %.3f in:\n%s", c:norm(), forget, out)
end)

test("an unknown cell is an error naming the valid ones", function()
  local out, code = run("data=synthetic quick=true max_train=50 epochs=1 cell=lstmx")
  check(code ~= 0, "fails")
  check(out:find("param cell must be lstm, gru or rnn, got 'lstmx'", 1, true), "message:\n%s", out)
end)

test("an unknown construction or learning-rate schedule is an error naming the valid ones", function()
  local out, code = run("data=synthetic quick=true max_train=50 epochs=1 constructions=pp+bogus")
  check(code ~= 0, "fails")
  check(out:find("param constructions: unknown construction 'bogus' (known: simple, pp,", 1, true), "message:\n%s", out)
  out, code = run("data=synthetic quick=true max_train=50 epochs=1 lr_schedule=step")
  check(code ~= 0, "fails")
  check(out:find("param lr_schedule must be constant or cosine, got 'step'", 1, true), "message:\n%s", out)
end)

test("a missing model is an error that says what to give", function()
  local out, code = run("predict=/nonexistent")
  check(code ~= 0, "fails")
  check(out:find("predict=FILE needs model=PATH", 1, true), "message:\n%s", out)
end)

-- The predictor's contract: run directly, stdout holds one label per non-empty line and
-- nothing else; the probe report goes to stderr.
local function predict_direct(args)
  local err = dir .. "/stderr.txt"
  local cmd = string.format("cd '%s' && '%s' '%s' predict %s 2>'%s'", dir, bin, script, args, err)
  local p = io.popen(cmd)
  local out = p:read("a")
  local ok, _, code = p:close()
  local f = io.open(err)
  local e = f and f:read("a") or ""
  if f then f:close() end
  return out, e, ok and 0 or code
end

test("predict run directly: labels alone on stdout, probe on stderr", function()
  if not model_path then skip("needs the model of the first test") end
  local prefixes = dir .. "/natural.txt"
  local f = assert(io.open(prefixes, "w"))
  f:write("The surgeons near the door,\nthe pirate that the ropes\n\nVBP\tthe keys to the cabinet\nSerial killers\n")
  f:close()
  local out, err, code = predict_direct(string.format("'%s' --model '%s' --probe", prefixes, model_path))
  equal(code, 0, "exit status\n" .. err)
  local lines = {}
  for line in out:gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
  equal(#lines, 4, "one line per non-empty prefix:\n" .. out)
  for _, l in ipairs(lines) do check(l == "VBZ" or l == "VBP", "only labels on stdout, got '%s'", l) end
  check(err:find("P(plural)", 1, true), "the probe goes to stderr:\n%s", err)
  check(err:find("unknown word, <unk:", 1, true), "unknown words are named with their class:\n%s", err)
  local quiet_out, quiet_err = predict_direct(string.format("'%s' --model '%s'", prefixes, model_path))
  equal(quiet_out, out, "the same labels without the probe")
  equal(quiet_err, "", "nothing on stderr without --probe")
  local _, merr, mcode = predict_direct(string.format("missing.txt --model '%s'", model_path))
  equal(mcode, 1, "a missing input")
  equal(merr, "agreement: predict: cannot open missing.txt: No such file or directory\n", "one line, with the reason")
  local _, uerr, ucode = predict_direct("--model")
  equal(ucode, 2, "bad arguments")
  check(uerr:find("usage: loom scripts/experiments/agreement.lua predict", 1, true), "usage:\n%s", uerr)
end)

-- ---- unknown words ----

local text = require "loom.text"

test("word classes by shape and suffix", function()
  local want = {
    surgeons = "<unk:-s>", glass = "<unk:-ss>", campus = "<unk:-us>", axis = "<unk:-is>",
    cities = "<unk:-ies>", boxes = "<unk:-es>", running = "<unk:-ing>", walked = "<unk:-ed>",
    quickly = "<unk:-ly>", taller = "<unk:-er>", tallest = "<unk:-est>", nation = "<unk:-ion>",
    Obama = "<unk:Cap>", Smiths = "<unk:Cap-s>", NASA = "<unk:CAPS>", ["1999"] = "<unk:num>",
    ["well-known"] = "<unk:hyph>", ["mothers-in-law"] = "<unk:hyph>", ["co-workers"] = "<unk:hyph-s>",
    ["--"] = "<unk:punct>", ox = text.UNK,
  }
  for w, cls in pairs(want) do equal(text.word_class(w), cls, w) end
  local all = {}
  for _, c in ipairs(text.word_classes()) do all[c] = true end
  for _, cls in pairs(want) do check(cls == text.UNK or all[cls], "%s is listed in word_classes", cls) end
end)

test("a vocabulary with classes: case folding, classes for unknown words, round trip", function()
  local v = text.vocab({{"the", "dog", "dog", "the", "barks"}}, {min_count = 1, unk_classes = true})
  check(v.classes, "classes on")
  equal(v.itos[3], "<unk:num>", "classes follow <pad> and <unk>")
  local ids = v:encode({"The", "dogs", "Rex", "dog", "zzz"})
  equal(v.itos[ids[1]], "the", "lower case when the form is unknown")
  equal(v.itos[ids[2]], "<unk:-s>", "an unseen plural gets the -s class")
  equal(v.itos[ids[3]], "<unk:Cap>", "a capitalised unknown word")
  equal(v.itos[ids[4]], "dog", "a known word")
  equal(ids[5], v.unk, "no class: <unk>")
  equal(v.itos[v:class_ids({"dog"})[1]], "<unk>", "class_ids ignores the vocabulary")
  local back = text.vocab_from_string(v:serialize())
  check(back.classes, "classes survive serialization")
  equal(table.concat(back:encode({"The", "dogs"}), " "), table.concat(v:encode({"The", "dogs"}), " "), "same ids")
  local plain = text.vocab({{"the", "dog"}}, {min_count = 1})
  check(not plain.classes, "off by default")
  equal(plain:encode({"The", "dogs"})[1], plain.unk, "no case folding without classes")
end)

test("suffix features and batch matrices", function()
  equal(table.concat(text.suffixes("Surgeons"), " "), "~s ~ns ~ons", "last 1..3 letters, lower case")
  equal(table.concat(text.suffixes("is"), " "), "~s ^is ^is", "short words whole, marked")
  equal(table.concat(text.suffixes("café"), " "), "~é ~fé ~afé", "letters, not bytes")
  equal(table.concat(text.suffixes("a\xff"), " "), "~? ~? ~?", "not UTF-8")
  local sv = text.suffix_vocab({{"dogs", "cats"}, {"dog"}}, {min_count = 2})
  equal(sv:size(), 3, "only ~s is seen twice")
  local ids = sv:suffix_ids({"rats", "rat"})
  equal(#ids, 3, "one list per suffix length")
  equal(sv.itos[ids[1][1]], "~s", "rats ends in s")
  equal(ids[1][2], sv.unk, "rat's ~t is unseen")
  local batch = {X = loom.zeros(2, 2), examples = {{suf = {{5, 6}, {7, 8}}}, {suf = {{9}, {10}}}}}
  local M = text.batch_matrix(batch, "suf", 1)
  equal(M:rows(), 4, "k T rows")
  local function column(b) return string.format("%g %g %g %g", M:get(1, b), M:get(2, b), M:get(3, b), M:get(4, b)) end
  equal(column(1), "5 6 7 8", "blocks by suffix length")
  equal(column(2), "9 1 10 1", "padded")
end)

test("tokenize_words splits punctuation and clitics like the Linzen files", function()
  equal(table.concat(text.tokenize_words("The keys (to the cabinet), the senator's dog don't."), " "),
    "The keys ( to the cabinet ) , the senator 's dog do n't .", "tokens")
end)

-- ---- the construction grammar and the lexicon ----

local grammar = dofile(PROJECT_DIR .. "/datasets/agreement.lua")
local lexicon = grammar.lexicon()

test("plurals, third persons and past tenses", function()
  local plural = {key = "keys", box = "boxes", city = "cities", day = "days", church = "churches",
    man = "men", policeman = "policemen", german = "germans", child = "children", campus = "campuses",
    crisis = "crises", wolf = "wolves", potato = "potatoes"}
  for sg, pl in pairs(plural) do equal(grammar.plural(sg), pl, sg) end
  local third = {like = "likes", watch = "watches", carry = "carries", play = "plays", go = "goes", have = "has"}
  for v, f in pairs(third) do equal(grammar.third_singular(v), f, v) end
  local past = {like = "liked", carry = "carried", run = "ran", stop = "stopped", walk = "walked"}
  for v, f in pairs(past) do equal(grammar.past(v), f, v) end
end)

-- Every noun and verb form of a pool.
local function forms(pool)
  local set = {}
  for _, kind in ipairs({"animate", "inanimate", "open_nouns", "intransitive", "transitive",
      "inanimate_verbs", "psych", "open_verbs"}) do
    for _, e in ipairs(pool[kind]) do
      for k = 1, 4 do if type(e[k]) == "string" then set[e[k]] = true end end
    end
  end
  for _, kind in ipairs({"clause_verbs", "clause_verbs_past"}) do
    for _, w in ipairs(pool[kind]) do set[w] = true end
  end
  return set
end

-- The base words (singular noun, bare verb) of a pool: what grammar.split_of decides on.
local function bases(pool)
  local set = {}
  for _, kind in ipairs({"animate", "inanimate", "open_nouns"}) do
    for _, e in ipairs(pool[kind]) do set[e[1]] = true end
  end
  for _, kind in ipairs({"intransitive", "transitive", "inanimate_verbs", "psych", "open_verbs"}) do
    for _, e in ipairs(pool[kind]) do set[e[2]] = true end
  end
  for _, w in ipairs(pool.clause_verbs) do set[w] = true end
  return set
end

test("training, validation and held-out lexicons share no noun and no verb", function()
  local train, val, held = bases(lexicon.train), bases(lexicon.val), bases(lexicon.test)
  local shared = {}
  for w in pairs(held) do if train[w] or val[w] then shared[#shared + 1] = w end end
  for w in pairs(val) do if train[w] then shared[#shared + 1] = w end end
  equal(#shared, 0, "shared: " .. table.concat(shared, " "))
  check(#lexicon.val.animate >= 15 and #lexicon.val.transitive >= 5, "validation words: %d nouns, %d verbs",
    #lexicon.val.animate, #lexicon.val.transitive)
  check(#lexicon.test.animate >= 30 and #lexicon.test.inanimate >= 30, "held-out hand nouns: %d, %d",
    #lexicon.test.animate, #lexicon.test.inanimate)
  check(#lexicon.train.animate > 3 * #lexicon.test.animate, "most words train")
  if #lexicon.train.open_nouns == 0 then skip("wamerican is not installed (scripts/deps.sh)") end
  check(#lexicon.train.open_nouns > 5000, "word-list nouns: %d", #lexicon.train.open_nouns)
  -- A held-out sentence's nouns and verbs are forms of held-out words only.
  local train_forms, held_forms = forms(lexicon.train), forms(lexicon.test)
  for _, list in ipairs({grammar.adjective_list, grammar.preposition_list}) do
    for _, w in ipairs(list) do train_forms[w] = nil end -- shared by design
  end
  loom.seed(3)
  for _, s in ipairs(grammar.construct(300, lexicon.test, {intro = true})) do
    for _, w in ipairs(s.words) do
      check(not train_forms[w] or held_forms[w], "'%s' of a held-out sentence is a training form: %s", w, s.line)
    end
  end
end)

-- The number of each noun form of a pool, to check what a construction's label agrees with.
local function noun_number(pool)
  local n, verb_forms = {}, {}
  for _, kind in ipairs({"intransitive", "transitive", "inanimate_verbs", "psych", "open_verbs"}) do
    for _, e in ipairs(pool[kind]) do for _, f in ipairs(e) do verb_forms[f] = true end end
  end
  for _, kind in ipairs({"animate", "inanimate", "open_nouns"}) do
    for _, e in ipairs(pool[kind]) do
      if kind ~= "open_nouns" or not (e[3] or verb_forms[e[1]] or verb_forms[e[2]]) then
        n[e[1]], n[e[2]] = 1, 2
      end
    end
  end
  return n
end

test("each construction's label agrees with the right noun", function()
  loom.seed(11)
  local number = noun_number(lexicon.train)
  local label_of = {VBZ = 1, VBP = 2}
  -- The noun the verb agrees with, among the sentence's nouns (a noun is the last word of
  -- its phrase: 1 = first, -1 = last).
  local controller = {simple = 1, pp = 1, subj_rc = 1, obj_rc = 1, obj_rc_no_that = 1,
    obj_rc_within = -1, obj_rc_within_no_that = -1, subj_rc_within = 1, sent_comp = -1,
    vp_short = 1, vp_long = 1, nested = 1, s_coord = -1, adv_clause = -1, coord_np = "plural"}
  for _, name in ipairs(grammar.construction_names) do
    local ends = {}
    for _, anim in ipairs({true, false}) do
      for _, s in ipairs(grammar.construct(60, lexicon.train, {constructions = {name}, animate = anim})) do
        equal(s.construction, name, "construction recorded")
        equal(s.animate, anim, "animacy forced")
        local nouns = {}
        for i, w in ipairs(s.words) do
          if number[w] and not number[s.words[i + 1] or ""] then nouns[#nouns + 1] = w end
        end
        local c = controller[name]
        if c == "plural" then
          equal(s.label, "VBP", name .. ": coordinated subjects are plural: " .. s.line)
        else
          local noun = nouns[c > 0 and c or #nouns + 1 + c]
          check(noun, "%s: a noun in '%s'", name, s.line)
          equal(number[noun], label_of[s.label], name .. ": label of '" .. s.line .. "'")
        end
        ends[s.words[#s.words]] = true
      end
    end
    if name == "vp_short" or name == "vp_long" then
      equal(next(ends), "and", name .. " ends with 'and'")
      equal(next(ends, "and"), nil, name .. " always ends with 'and'")
    elseif name == "subj_rc_within" then
      check(ends.that and ends.who, "subj_rc_within ends with that or who")
    end
  end
end)

test("construct: animacy, 'that' present or absent, the command line", function()
  loom.seed(2)
  local anim = {}
  for _, e in ipairs(lexicon.train.animate) do anim[e[1]], anim[e[2]] = true, true end
  for _, s in ipairs(grammar.construct(50, lexicon.train, {constructions = {"obj_rc_no_that"}, animate = false})) do
    for _, w in ipairs(s.words) do check(w ~= "that" and w ~= "who", "no 'that' in %s", s.line) end
    check(not anim[s.words[2]] and not anim[s.words[3]], "an inanimate head: %s", s.line)
  end
  for _, s in ipairs(grammar.construct(50, lexicon.train, {constructions = {"obj_rc"}})) do
    local has = false
    for _, w in ipairs(s.words) do if w == "that" then has = true end end
    check(has, "'that' in %s", s.line)
  end
  -- open = 1: every verb slot takes a word-list verb; open = 0 draws what no option draws
  local hand = {}
  for _, kind in ipairs({"transitive", "psych", "intransitive", "inanimate_verbs"}) do
    for _, v in ipairs(lexicon.train[kind]) do hand[v[1]], hand[v[2]], hand[v[3]] = true, true, true end
  end
  for _, s in ipairs(grammar.construct(30, lexicon.train, {constructions = {"obj_rc_no_that"}, open = 1})) do
    check(not hand[s.words[#s.words]], "a word-list verb ends '%s'", s.line)
  end
  loom.seed(4)
  local a = grammar.construct(40, lexicon.train, {open = 0})
  loom.seed(4)
  local b = grammar.construct(40, lexicon.train)
  for i = 1, 40 do equal(a[i].line, b[i].line, "open = 0 changes nothing") end
  local p = io.popen(string.format("'%s' '%s/datasets/agreement.lua' --constructions vp_short,sent_comp --n 5 --seed 1",
    bin, PROJECT_DIR))
  local out = p:read("a")
  p:close()
  local n = 0
  for line in out:gmatch("[^\n]+") do
    n = n + 1
    check(line:match("^VB[ZP]\t%S"), "a line in Linzen's format: %s", line)
  end
  equal(n, 5, "five lines")
end)

-- ---- the Linzen data: placeholders and the stress test ----

local agreement = require "loom.agreement"

test("fill_placeholders puts words of the tag's kind back", function()
  local pool = {open_nouns = {{"walrus", "walruses"}}, open_verbs = {{"sings", "sing", "sang", "singing"}},
    names = {"Oslo"}, open_adjectives = {"ominous"}, adverbs = {"quickly"}}
  local ex = {label = 2, words = {"the", "NNS", "of", "NNP", "that", "VBZ", "VBG", "JJ", "NN", "RB", "CD", "FW"}}
  local out = agreement.fill_placeholders(ex, pool, function() return 1 end)
  equal(table.concat(out.words, " "), "the walruses of Oslo that sings singing ominous walrus quickly 1 FW", "filled")
  equal(out.label, 2, "label kept")
  equal(table.concat(ex.words, " "), "the NNS of NNP that VBZ VBG JJ NN RB CD FW", "the original is untouched")
  local plain = {label = 1, words = {"the", "dog"}}
  check(agreement.fill_placeholders(plain, pool, function() return 1 end) == plain, "nothing to fill: same example")
end)

test("stress test: the subject and later nouns replaced by nouns of the same number", function()
  local numbers = {key = 1, keys = 2, cabinet = 1, cabinets = 2, dog = 1}
  local reps = {{"walrus", "walruses"}}
  local lines = {
    {label = 2, words = {"the", "keys", "to", "the", "cabinet"}},
    {label = 1, words = {"in", "the", "keys", ",", "the", "cabinet", "near", "the", "keys"}},
    {label = 1, words = {"the", "keys"}}, -- the subject's number is not the label's: skipped
    {label = 1, words = {"near", "dog"}}, -- no determiner, not segment-initial: no subject
  }
  local st = agreement.stress_test(lines, numbers, reps, function() return 1 end)
  equal(#st.original, 2, "two lines with a subject")
  equal(table.concat(st.subject[1].words, " "), "the walruses to the cabinet", "subject replaced")
  equal(table.concat(st.all[1].words, " "), "the walruses to the walrus", "attractor replaced in its number")
  equal(table.concat(st.subject[2].words, " "), "in the keys , the walrus near the keys", "the last clause's subject")
  equal(table.concat(st.all[2].words, " "), "in the keys , the walrus near the walruses", "only later nouns")
  equal(st.all[2].replaced, 2, "two nouns replaced")
  equal(table.concat(st.original[2].words, " "), "in the keys , the cabinet near the keys", "original kept")
end)

os.execute("rm -rf '" .. dir .. "'")
