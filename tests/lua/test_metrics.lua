-- test_metrics.lua: loom.metrics.bleu and chrf against sacreBLEU's own published test values.
-- The expected numbers are copied from mjpost/sacrebleu test/test_bleu.py (commit 785d26bb)
-- and test/test_chrf.py (commit 27bec349); each test names the list it comes from.
local loom = require "loom"
local metrics = loom.metrics

-- test_bleu.py: the README example (_hyps, _refs)
local HYPS = {"The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."}
local REFS = {
  {"The dog bit the man.", "It was not unexpected.", "The man bit him first."},
  {"The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."},
}

-- sacrebleu.raw_corpus_bleu(hyps, refs, smooth_value): floor smoothing, no tokenisation,
-- effective order, as test_bleu.py calls it.
local function raw_bleu(hyps, refs, smooth_value)
  return metrics.bleu(hyps, refs, {smooth_method = "floor", smooth_value = smooth_value,
    tokenize = "none", effective_order = true})
end

test("bleu: test_bleu.py test_corpus_bleu_cases (defaults, tokenize none/13a, smooth none)", function()
  close(metrics.bleu(HYPS, REFS), 48.530827, 1e-6, "defaults")
  close(metrics.bleu({"", "", ""}, REFS), 0.0, 1e-12, "empty hypotheses")
  close(metrics.bleu(HYPS, REFS, {tokenize = "none"}), 49.1919566, 1e-6, "tokenize none")
  close(metrics.bleu(HYPS, REFS, {tokenize = "13a"}), 48.530827, 1e-6, "tokenize 13a")
  close(metrics.bleu(HYPS, REFS, {smooth_method = "none"}), 48.530827, 1e-6, "smooth none")
end)

test("bleu: test_bleu.py test_raw_bleu_cases and test_effective_order", function()
  close(raw_bleu({"this is a test", "another test"}, {{"ref1", "ref2"}}, 0.01), 0.0, 1e-12, "no match (#141)")
  close(raw_bleu({"this is a test"}, {{"this is a test"}}, 0.01) / 100, 1.0, 1e-8, "identical")
  close(raw_bleu({"this is a fest"}, {{"this is a test"}}, 0.01) / 100, 0.223606797749979, 1e-8, "one word off")
  close(raw_bleu({"test"}, {{"a test"}}, 0.01) / 100, 0.3678794411714425, 1e-8, "test / a test")
  close(raw_bleu({"a test"}, {{"a test"}}, 0.01) / 100, 1.0, 1e-8, "a test")
  close(raw_bleu({"a little test"}, {{"a test"}}, 0.01) / 100, 0.03218297948685433, 1e-8, "a little test")
end)

test("bleu: test_bleu.py test_case_statistics and test_case_offset", function()
  local hyp, ref = {"am I am a character sequence"}, {{"I am a symbol string sequence a a"}}
  local _, d = raw_bleu(hyp, ref, 0.01)
  equal(table.concat(d.counts, ","), "4,2,1,0", "common counts")
  equal(table.concat(d.totals, ","), "6,5,4,3", "totals")
  close(raw_bleu(hyp, ref, 0.0), 0.0, 1e-12, "without offset")
  close(raw_bleu(hyp, ref, nil) / 100, 0.1555722182, 1e-8, "floor default 0.1")
end)

test("bleu: test_bleu.py test_bleu_max_order (1..6)", function()
  local want = {"77.65", "60.50", "53.93", "48.53", "46.14", "43.28"}
  for order = 1, 6 do
    equal(string.format("%.2f", metrics.bleu(HYPS, REFS, {max_ngram_order = order})), want[order],
      "order " .. order)
  end
end)

test("bleu: details (precisions, bp, lengths) and the signature", function()
  local score, d = metrics.bleu(HYPS, REFS)
  equal(d.score, score, "score in details")
  equal(#d.precisions, 4, "four precisions")
  equal(d.sys_len, 17, "sys_len (13a tokens)")
  equal(d.ref_len, 18, "ref_len (closest reference: 6 + 5 + 7)")
  close(d.bp, math.exp(1 - 18 / 17), 1e-15, "brevity penalty")
  close(d.precisions[1], 100 * d.counts[1] / d.totals[1], 1e-12, "precision 1 in percent")
  equal(d.signature, "nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:loom-sacrebleu2", "signature")
  local _, short = metrics.bleu({"The dog"}, {{"The dog bit the man ."}})
  close(short.bp, math.exp(1 - 6 / 2), 1e-12, "brevity penalty exp(1 - r/c)")
end)

test("bleu: 13a tokenisation splits punctuation as mteval-v13a", function()
  -- "3.5" keeps its period (digits both sides); "a,b" splits; "1-2" splits after the digit.
  local _, d = metrics.bleu({"x 3.5 a,b 1-2 (ok)"}, {{"x"}}, {max_ngram_order = 1})
  equal(d.sys_len, 11, "x | 3.5 | a | , | b | 1 | - | 2 | ( | ok | )")
end)

test("bleu: argument errors name the function", function()
  checkerror("metrics.bleu: refs[1] has 2 sentences but hyps has 3", metrics.bleu, HYPS, {{"a", "b"}})
  checkerror("metrics.bleu: refs must be a non-empty list of reference streams", metrics.bleu, HYPS, {})
  checkerror("metrics.bleu: hyps[2] is a number, not a string", metrics.bleu, {"a", 3}, {{"a", "b"}})
  checkerror("metrics.bleu: unknown tokenize 'intl' (one of 13a, none)", metrics.bleu, HYPS, REFS,
    {tokenize = "intl"})
  checkerror("metrics.bleu: unknown smooth_method 'x' (one of add-k, exp, floor, none)",
    metrics.bleu, HYPS, REFS, {smooth_method = "x"})
  -- through loom.check: the kind of what came, unknown options with a hint, option kinds
  checkerror("metrics.bleu: hyps must be a list of strings, got number", metrics.bleu, 3, REFS)
  checkerror("metrics.bleu: refs[1] must be a list of strings (a reference stream), got matrix", metrics.bleu,
    HYPS, {loom.zeros(1, 1)})
  checkerror("metrics.bleu: unknown option 'smoth_method' (did you mean 'smooth_method'?)", metrics.bleu, HYPS,
    REFS, {smoth_method = "exp"})
  checkerror("metrics.bleu: option 'lowercase' must be a boolean, got number", metrics.bleu, HYPS, REFS,
    {lowercase = 1})
  checkerror("metrics.chrf: unknown option 'char_ordr' (did you mean 'char_order'?)", metrics.chrf, HYPS, REFS,
    {char_ordr = 6})
  checkerror("metrics.chrf: option 'beta' must be a number, got string", metrics.chrf, HYPS, REFS, {beta = "2"})
  checkerror("metrics.chrf: beta must be a positive number, got inf", metrics.chrf, HYPS, REFS, {beta = math.huge})
  -- the message points at the caller's line
  local line = debug.getinfo(1, "l").currentline + 1
  local ok, err = pcall(function() local s = metrics.chrf(HYPS, "refs"); return s end)
  check(not ok, "chrf accepted a string as refs")
  equal(err, string.format("%s:%d: metrics.chrf: refs must be a non-empty list of reference streams",
    debug.getinfo(1, "S").short_src, line), "position")
end)

-- test_chrf.py: sacrebleu.corpus_chrf(h, [r], char_order=6, word_order=0, beta=3, eps_smoothing=True)
test("chrf: test_chrf.py test_cases (beta 3, eps smoothing)", function()
  local cases = {
    {{"abcdefg"}, {"hijklmnop"}, 0.0}, {{"a"}, {"b"}, 0.0}, {{""}, {"b"}, 0.0},
    {{""}, {"ref"}, 0.0}, {{""}, {"reference"}, 0.0}, {{"aa"}, {"ab"}, 8.3333},
    {{"a", "b"}, {"a", "c"}, 8.3333}, {{"a"}, {"a"}, 16.6667}, {{"a b c"}, {"a b c"}, 50.0},
    {{"a b c"}, {"abc"}, 50.0},
    {{" risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists ."},
     {"risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists ."}, 63.361730},
    {{" Die    Beziehung zwischen  Obama und Netanjahu ist nicht gerade  freundlich. "},
     {"Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich."}, 64.1302698},
    {{"Niemand hat die Absicht, eine Mauer zu errichten"}, {"Niemand hat die Absicht, eine Mauer zu errichten"}, 100.0},
  }
  for i, c in ipairs(cases) do
    local s = metrics.chrf(c[1], {c[2]}, {char_order = 6, beta = 3, eps_smoothing = true})
    check(math.abs(s - c[3]) < 1e-4, "case %d: expected %.6f, got %.6f", i, c[3], s)
  end
end)

test("chrf: test_chrf.py test_cases_effective_order (beta 3, no eps smoothing)", function()
  local cases = {
    {{"a"}, {"a"}, 100.0}, {{""}, {"reference"}, 0.0}, {{"a b c"}, {"a b c"}, 100.0},
    {{"a b c"}, {"abc"}, 100.0}, {{""}, {"c"}, 0.0}, {{"a", "b"}, {"a", "c"}, 50.0}, {{"aa"}, {"ab"}, 25.0},
  }
  for i, c in ipairs(cases) do
    local s = metrics.chrf(c[1], {c[2]}, {beta = 3})
    check(math.abs(s - c[3]) < 1e-4, "case %d: expected %.6f, got %.6f", i, c[3], s)
  end
end)

test("chrf: test_chrf.py test_cases_keep_whitespace (beta 3, whitespace kept)", function()
  local cases = {
    {{"Die Beziehung zwischen Obama und Netanjahu ist nicht gerade freundlich."},
     {"Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich."}, 67.3481606},
    {{"risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists ."},
     {"risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists ."}, 65.2414427},
  }
  for i, c in ipairs(cases) do
    local s = metrics.chrf(c[1], {c[2]}, {beta = 3, whitespace = true})
    check(math.abs(s - c[3]) < 1e-4, "case %d: expected %.6f, got %.6f", i, c[3], s)
  end
end)

-- test_chrf.py test_chrf_sentence_level: sentence_chrf(h, refs, eps_smoothing=True), default beta 2;
-- the Czech letters check that n-grams are of characters, not bytes.
test("chrf: test_chrf.py test_sentence_level_chrf (defaults: beta 2, 6-grams)", function()
  local cases = {
    {"Co nás nejvíc trápí, protože lékaři si vybírají, kdo bude žít a kdo zemře.",
     "Nejvíce smutní jsme z toho, že musíme rozhodovat o tom, kdo bude žít a kdo zemře.", 39.14078509},
    {"Nebo prostě nemají vybavení, které by jim pomohlo, uvedli lékaři.",
     "A někdy nemáme ani potřebný materiál, abychom jim pomohli, popsali lékaři.", 31.22557079},
    {"Lapali po dechu, jejich životy skončily dřív, než skutečně začaly.",
     "Lapali po dechu a pak jejich život skončil - dřív, než skutečně mohl začít, připomněli.", 57.15704367},
  }
  for i, c in ipairs(cases) do
    local s = metrics.chrf({c[1]}, {{c[2]}}, {eps_smoothing = true})
    check(math.abs(s - c[3]) < 1e-4, "case %d: expected %.8f, got %.8f", i, c[3], s)
  end
end)

test("chrf: corpus statistics sum per-sentence best references; details and signature", function()
  local s, d = metrics.chrf({"a", "b"}, {{"a", "c"}, {"x", "b"}})
  equal(s, 100.0, "each sentence takes the reference it matches")
  equal(d.statistics[1], 2, "unigram hypothesis count")
  equal(d.statistics[3], 2, "unigram matches")
  equal(d.signature, "nrefs:2|case:mixed|eff:yes|nc:6|nw:0|space:no|version:loom-sacrebleu2", "signature")
  checkerror("metrics.chrf: refs[1] has 1 sentences but hyps has 2", metrics.chrf, {"a", "b"}, {{"a"}})
  checkerror("metrics.chrf: word_order (chrF++) is not supported", metrics.chrf, {"a"}, {{"a"}}, {word_order = 2})
end)
