-- loom.metrics: corpus BLEU and chrF for translation output, computed as sacreBLEU 2 does.
-- Not a tokeniser for training data (loom.text) nor sentence-level bootstrap statistics.
local check = require "loom.check"

local metrics = {}

local function fail(fn, fmt, ...)
  check.fail("metrics." .. fn, fmt, ...)
end

-- hyps a list of strings, refs a list of streams each as long as hyps; returns the count.
local function check_corpus(fn, hyps, refs)
  if type(hyps) ~= "table" or check.kind(hyps) ~= "table" then
    fail(fn, "hyps must be a list of strings, got %s", check.kind(hyps))
  end
  if type(refs) ~= "table" or check.kind(refs) ~= "table" or #refs == 0 then
    fail(fn, "refs must be a non-empty list of reference streams")
  end
  for i, h in ipairs(hyps) do
    if type(h) ~= "string" then fail(fn, "hyps[%d] is a %s, not a string", i, check.kind(h)) end
  end
  for k, stream in ipairs(refs) do
    if type(stream) ~= "table" or check.kind(stream) ~= "table" then
      fail(fn, "refs[%d] must be a list of strings (a reference stream), got %s", k, check.kind(stream))
    end
    if #stream ~= #hyps then
      fail(fn, "refs[%d] has %d sentences but hyps has %d", k, #stream, #hyps)
    end
    for i, r in ipairs(stream) do
      if type(r) ~= "string" then fail(fn, "refs[%d][%d] is a %s, not a string", k, i, check.kind(r)) end
    end
  end
  return #hyps
end

---- 13a tokenisation (mteval-v13a.pl, as sacreBLEU's Tokenizer13a) ----

-- The punctuation mteval splits off everywhere: { | } ~ [ \ ] ^ _ ` space ! " # $ % &
-- ( ) * + : ; < = > ? @ /  (not the apostrophe, hyphen, period or comma).
local SPLIT = {}
for _, range in ipairs{{0x7B, 0x7E}, {0x5B, 0x60}, {0x20, 0x26}, {0x28, 0x2B}, {0x3A, 0x40}, {0x2F, 0x2F}} do
  for c = range[1], range[2] do SPLIT[c] = true end
end
local DOT, COMMA, DASH = 0x2E, 0x2C, 0x2D

local function is_digit(c) return c ~= nil and c >= 0x30 and c <= 0x39 end
local function is_dot_comma(c) return c == DOT or c == COMMA end

-- One left-to-right pass of a two-character rule, non-overlapping like re.sub: where
-- first(a) and second(b) hold, emit(a, b) replaces the pair. Bytes are enough: the rules
-- only test ASCII, and a UTF-8 continuation byte never matches an ASCII class.
local function pair_pass(s, first, second, emit)
  local out, i, n = {}, 1, #s
  while i <= n do
    local a, b = s:byte(i), s:byte(i + 1)
    if b and first(a) and second(b) then
      out[#out + 1] = emit(s:sub(i, i), s:sub(i + 1, i + 1))
      i = i + 2
    else
      out[#out + 1] = s:sub(i, i)
      i = i + 1
    end
  end
  return table.concat(out)
end

local function split_words(s)
  local words = {}
  for w in s:gmatch("%S+") do words[#words + 1] = w end
  return words
end

local function tokenize_13a(line)
  line = line:gsub("<skipped>", ""):gsub("%-\n", ""):gsub("\n", " ")
  if line:find("&", 1, true) then
    line = line:gsub("&quot;", '"'):gsub("&amp;", "&"):gsub("&lt;", "<"):gsub("&gt;", ">")
  end
  line = " " .. line .. " "
  line = line:gsub(".", function(ch) if SPLIT[ch:byte()] then return " " .. ch .. " " end end)
  line = pair_pass(line, function(a) return not is_digit(a) end, is_dot_comma,
    function(a, b) return a .. " " .. b .. " " end)
  line = pair_pass(line, is_dot_comma, function(b) return not is_digit(b) end,
    function(a, b) return " " .. a .. " " .. b end)
  line = pair_pass(line, is_digit, function(b) return b == DASH end,
    function(a, b) return a .. " " .. b .. " " end)
  return split_words(line)
end

local TOKENIZERS = {["13a"] = tokenize_13a, none = split_words}
metrics.tokenizers = {}
for name in pairs(TOKENIZERS) do metrics.tokenizers[#metrics.tokenizers + 1] = name end
table.sort(metrics.tokenizers)

---- BLEU ----

local SMOOTH_DEFAULTS = {none = false, floor = 0.1, ["add-k"] = 1, exp = false}

-- Counts of the 1..max_order-grams of a list of items (words or characters), joined by sep.
local function ngram_counts(items, max_order, sep)
  local counts = {}
  for n = 1, max_order do
    local c = {}
    for i = 1, #items - n + 1 do
      local g = table.concat(items, sep, i, i + n - 1)
      c[g] = (c[g] or 0) + 1
    end
    counts[n] = c
  end
  return counts
end

-- The reference length closest to the hypothesis length; ties go to the shorter.
local function closest_ref_len(hyp_len, ref_lens)
  local best, best_diff = nil, math.huge
  for _, len in ipairs(ref_lens) do
    local diff = math.abs(hyp_len - len)
    if diff < best_diff or (diff == best_diff and len < best) then best, best_diff = len, diff end
  end
  return best
end

local function bleu_log(p) return p == 0 and -9999999999 or math.log(p) end

-- The BLEU of summed statistics (sacreBLEU's compute_bleu): precisions in percent.
local function compute_bleu(correct, total, sys_len, ref_len, o)
  local bp = 1.0
  if sys_len < ref_len then bp = sys_len > 0 and math.exp(1 - ref_len / sys_len) or 0.0 end
  local precisions = {}
  for n = 1, o.max_ngram_order do precisions[n] = 0.0 end
  local any = false
  for n = 1, o.max_ngram_order do any = any or correct[n] > 0 end
  if not any then return 0.0, precisions, bp end
  local smooth_mteval, eff_order = 1.0, o.max_ngram_order
  correct, total = table.move(correct, 1, #correct, 1, {}), table.move(total, 1, #total, 1, {})
  for n = 1, o.max_ngram_order do
    if o.smooth_method == "add-k" and n > 1 then
      correct[n] = correct[n] + o.smooth_value
      total[n] = total[n] + o.smooth_value
    end
    if total[n] == 0 then break end
    if o.effective_order then eff_order = n end
    if correct[n] == 0 then
      if o.smooth_method == "exp" then
        smooth_mteval = smooth_mteval * 2
        precisions[n] = 100 / (smooth_mteval * total[n])
      elseif o.smooth_method == "floor" then
        precisions[n] = 100 * o.smooth_value / total[n]
      end
    else
      precisions[n] = 100 * correct[n] / total[n]
    end
  end
  local sum = 0
  for n = 1, eff_order do sum = sum + bleu_log(precisions[n]) end
  return bp * math.exp(sum / eff_order), precisions, bp
end

local BLEU_OPTS = {tokenize = "string", smooth_method = "string", smooth_value = "number", lowercase = "boolean",
  effective_order = "boolean", use_effective_order = "boolean", max_ngram_order = "integer"}

local function bleu_options(opts)
  opts = check.options("metrics.bleu", opts, BLEU_OPTS)
  local o = {
    tokenize = opts.tokenize or "13a",
    smooth_method = opts.smooth_method or "exp",
    lowercase = opts.lowercase or false,
    effective_order = opts.effective_order or opts.use_effective_order or false,
    max_ngram_order = opts.max_ngram_order or 4,
  }
  if not TOKENIZERS[o.tokenize] then
    fail("bleu", "unknown tokenize '%s' (one of %s)", tostring(o.tokenize), table.concat(metrics.tokenizers, ", "))
  end
  if SMOOTH_DEFAULTS[o.smooth_method] == nil then
    fail("bleu", "unknown smooth_method '%s' (one of add-k, exp, floor, none)", tostring(o.smooth_method))
  end
  if math.type(o.max_ngram_order) ~= "integer" or o.max_ngram_order < 1 then
    fail("bleu", "max_ngram_order must be a positive integer, got %s", tostring(o.max_ngram_order))
  end
  o.smooth_value = opts.smooth_value or SMOOTH_DEFAULTS[o.smooth_method]
  if opts.smooth_value ~= nil then check.number("metrics.bleu", "smooth_value", opts.smooth_value, 0) end
  return o
end

local function bleu_signature(o, nrefs)
  local smooth = o.smooth_method
  if smooth == "floor" or smooth == "add-k" then smooth = string.format("%s[%.2f]", smooth, o.smooth_value) end
  return string.format("nrefs:%d|case:%s|eff:%s|tok:%s|smooth:%s|version:loom-sacrebleu2",
    nrefs, o.lowercase and "lc" or "mixed", o.effective_order and "yes" or "no", o.tokenize, smooth)
end

-- Add one sentence's clipped n-gram matches and totals into correct/total; returns its
-- hypothesis and closest reference lengths.
local function bleu_sentence(hyp, ref_list, o, correct, total)
  local tok = TOKENIZERS[o.tokenize]
  local function prep(s) return tok(o.lowercase and s:lower() or s) end
  local hw = prep(hyp)
  local hyp_counts = ngram_counts(hw, o.max_ngram_order, " ")
  local max_ref, ref_lens = {}, {}
  for n = 1, o.max_ngram_order do max_ref[n] = {} end
  for _, r in ipairs(ref_list) do
    local rw = prep(r)
    ref_lens[#ref_lens + 1] = #rw
    local rc = ngram_counts(rw, o.max_ngram_order, " ")
    for n = 1, o.max_ngram_order do
      local m = max_ref[n]
      for g, c in pairs(rc[n]) do if c > (m[g] or 0) then m[g] = c end end
    end
  end
  for n = 1, o.max_ngram_order do
    total[n] = total[n] + math.max(0, #hw - n + 1)
    for g, c in pairs(hyp_counts[n]) do correct[n] = correct[n] + math.min(c, max_ref[n][g] or 0) end
  end
  return #hw, closest_ref_len(#hw, ref_lens)
end

-- Corpus BLEU as sacreBLEU.corpus_bleu(hyps, refs, **opts).
function metrics.bleu(hyps, refs, opts)
  local nsent = check_corpus("bleu", hyps, refs)
  local o = bleu_options(opts)
  local correct, total = {}, {}
  for n = 1, o.max_ngram_order do correct[n], total[n] = 0, 0 end
  local sys_len, ref_len = 0, 0
  for i = 1, nsent do
    local ref_list = {}
    for k = 1, #refs do ref_list[k] = refs[k][i] end
    local h, r = bleu_sentence(hyps[i], ref_list, o, correct, total)
    sys_len, ref_len = sys_len + h, ref_len + r
  end
  local score, precisions, bp = compute_bleu(correct, total, sys_len, ref_len, o)
  return score, {
    score = score, counts = correct, totals = total, precisions = precisions, bp = bp,
    sys_len = sys_len, ref_len = ref_len, ratio = ref_len > 0 and sys_len / ref_len or 0,
    signature = bleu_signature(o, #refs),
  }
end

---- chrF ----

-- The characters of a string (UTF-8 code points; bytes where it is not valid UTF-8).
local function characters(s)
  local chars = {}
  if utf8.len(s) then
    for _, code in utf8.codes(s) do chars[#chars + 1] = utf8.char(code) end
  else
    for i = 1, #s do chars[i] = s:sub(i, i) end
  end
  return chars
end

local function char_ngrams(s, order, whitespace)
  if not whitespace then s = s:gsub("%s+", "") end
  return ngram_counts(characters(s), order, "")
end

-- {hyp_count, ref_count, match_count} per order, flattened.
local function match_statistics(hyp_ngrams, ref_ngrams)
  local stats = {}
  for n = 1, #hyp_ngrams do
    local h, r, hc, rc, m = hyp_ngrams[n], ref_ngrams[n], 0, 0, 0
    for g, c in pairs(h) do
      hc = hc + c
      if r[g] then m = m + math.min(c, r[g]) end
    end
    for _, c in pairs(r) do rc = rc + c end
    stats[#stats + 1], stats[#stats + 2], stats[#stats + 3] = hc, rc, m
  end
  return stats
end

-- sacreBLEU's CHRF._compute_f_score: eps smoothing (chrF++.py) or effective order.
local function chrf_score(stats, o)
  local eps, factor = 1e-16, o.beta ^ 2
  local score, eff, avg_prec, avg_rec = 0.0, 0, 0.0, 0.0
  for n = 1, o.char_order do
    local n_hyp, n_ref, n_match = stats[3 * n - 2], stats[3 * n - 1], stats[3 * n]
    local prec = n_hyp > 0 and n_match / n_hyp or eps
    local rec = n_ref > 0 and n_match / n_ref or eps
    local denom = factor * prec + rec
    score = score + (denom > 0 and (1 + factor) * prec * rec / denom or eps)
    if n_hyp > 0 and n_ref > 0 then
      avg_prec, avg_rec, eff = avg_prec + prec, avg_rec + rec, eff + 1
    end
  end
  if o.eps_smoothing then return 100 * score / o.char_order end
  if eff == 0 then return 0.0 end
  avg_prec, avg_rec = avg_prec / eff, avg_rec / eff
  if avg_prec + avg_rec == 0 then return 0.0 end
  return 100 * (1 + factor) * avg_prec * avg_rec / (factor * avg_prec + avg_rec)
end

local CHRF_OPTS = {char_order = "integer", beta = "number", lowercase = "boolean", whitespace = "boolean",
  eps_smoothing = "boolean", word_order = "integer"}

local function chrf_options(opts)
  opts = check.options("metrics.chrf", opts, CHRF_OPTS)
  local o = {
    char_order = opts.char_order or 6, beta = opts.beta or 2, lowercase = opts.lowercase or false,
    whitespace = opts.whitespace or false, eps_smoothing = opts.eps_smoothing or false,
  }
  if math.type(o.char_order) ~= "integer" or o.char_order < 1 then
    fail("chrf", "char_order must be a positive integer, got %s", tostring(o.char_order))
  end
  if (opts.word_order or 0) ~= 0 then fail("chrf", "word_order (chrF++) is not supported") end
  if type(o.beta) ~= "number" or not (o.beta > 0 and o.beta < math.huge) then fail("chrf", "beta must be a positive number, got %s", tostring(o.beta)) end
  return o
end

-- Corpus chrF as sacreBLEU.corpus_chrf(hyps, refs, **opts): per sentence, the statistics
-- of the reference with the best chrF are summed, then scored once.
function metrics.chrf(hyps, refs, opts)
  local nsent = check_corpus("chrf", hyps, refs)
  local o = chrf_options(opts)
  local function prep(s) return char_ngrams(o.lowercase and s:lower() or s, o.char_order, o.whitespace) end
  local sum = {}
  for j = 1, 3 * o.char_order do sum[j] = 0 end
  for i = 1, nsent do
    local h = prep(hyps[i])
    local best, best_f = nil, -1
    for k = 1, #refs do
      local stats = match_statistics(h, prep(refs[k][i]))
      local f = chrf_score(stats, o)
      if f > best_f then best, best_f = stats, f end
    end
    for j = 1, #sum do sum[j] = sum[j] + best[j] end
  end
  local score = chrf_score(sum, o)
  local precisions, recalls = {}, {}
  for n = 1, o.char_order do
    local hc, rc, m = sum[3 * n - 2], sum[3 * n - 1], sum[3 * n]
    precisions[n] = hc > 0 and 100 * m / hc or 0
    recalls[n] = rc > 0 and 100 * m / rc or 0
  end
  return score, {
    score = score, statistics = sum, precisions = precisions, recalls = recalls,
    char_order = o.char_order, beta = o.beta,
    signature = string.format("nrefs:%d|case:%s|eff:%s|nc:%d|nw:0|space:%s|version:loom-sacrebleu2",
      #refs, o.lowercase and "lc" or "mixed", o.eps_smoothing and "no" or "yes", o.char_order,
      o.whitespace and "yes" or "no"),
  }
end

return metrics
