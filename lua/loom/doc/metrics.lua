-- doc/metrics.lua: the docstrings of loom.metrics. Not code: a list of {name, signature, doc}.
return {
  {name = "loom.metrics", signature = "loom.metrics",
   doc = "Translation metrics computed as sacreBLEU 2 does (corpus BLEU and chrF), checked against sacreBLEU's published test values."},
  {name = "loom.metrics.bleu", signature = "metrics.bleu(hyps, refs [, opts]) -> score, details",
   doc = [[Corpus BLEU with sacreBLEU's argument order and defaults: hyps is a list of strings,
refs a list of reference streams, each a list of strings as long as hyps. Defaults: 13a
(mteval-v13a) tokenisation, exponential smoothing, 4-grams, closest reference length for
the brevity penalty. Score on the 0-100 scale. Options:
  tokenize = "13a" | "none", lowercase = false, smooth_method = "exp" | "floor" | "add-k" | "none",
  smooth_value (floor 0.1, add-k 1), max_ngram_order = 4, effective_order = false
details: counts and totals per order, precisions (percent), bp, sys_len, ref_len, ratio and
the sacreBLEU-style signature ("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|...").]]},
  {name = "loom.metrics.chrf", signature = "metrics.chrf(hyps, refs [, opts]) -> score, details",
   doc = [[Corpus chrF with sacreBLEU's argument order and defaults: character 6-grams (Unicode
characters, whitespace removed), beta = 2; per sentence the statistics of the best-scoring
reference are summed over the corpus, then scored once (sacreBLEU's effective order unless
eps_smoothing). Options:
  char_order = 6, beta = 2, lowercase = false, whitespace = false, eps_smoothing = false
details: statistics (hyp, ref, match counts per order), precisions, recalls (percent) and the
signature ("nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|...").]]},
  {name = "loom.metrics.tokenizers", signature = "metrics.tokenizers",
   doc = "The names bleu's tokenize option accepts, sorted: {\"13a\", \"none\"}."},
}
