-- doc/seq2seq.lua: the docstrings of nn.Attention and loom.seq2seq (translation models).
-- Not code: a list of {name, signature, doc}.
return {
  {name = "loom.nn.Attention",
   signature = "nn.Attention(kind, query_size [, key_size = query_size [, attn_size = key_size]]) -> module",
   doc = [[Global attention of a decoder state over encoder states, a module like the others
(parameters, state_dict, zero_grad, train/eval). kind and its score of query q against key k:
  "dot"       q . k                        (query_size == key_size; no parameters)
  "general"   (W q) . k                    linear_in.weight  key_size x query_size  (Luong)
  "concat"    v . tanh(W [q; k])           linear.weight     attn_size x (query_size + key_size),
                                           v.weight          1 x attn_size          (Luong)
  "bahdanau"  v . tanh(Wq q + b + Wk k)    query_layer.weight, query_layer.bias, key_layer.weight,
                                           v.weight                                 (additive)
Weights initialise as PyTorch's nn.Linear (U(-1/sqrt(fan_in), 1/sqrt(fan_in))).]]},
  {name = "loom.nn.is_attention", signature = "nn.is_attention(x) -> boolean",
   doc = "Whether x is an nn.Attention module."},
  {name = "loom.nn.Attention:forward",
   signature = "attn:forward(query, keys [, {lengths, context, weights}]) -> context, weights",
   doc = [[query is B x query_size (one decoder step), keys (S*B) x key_size time-major encoder
states (row (s-1)*B + b is position s of sequence b). weights (B x S) is the softmax of the
scores over the first lengths[b] positions of each row (all S without lengths; padded
positions get weight 0), context (B x key_size) the weighted sum of the keys. New matrices
unless context/weights are given, which are overwritten and returned.]]},
  {name = "loom.nn.Attention:backward",
   signature = "attn:backward(query, keys, dcontext [, {lengths, dweights, dkeys, dquery}]) -> dquery, dkeys",
   doc = [[Gradients of one forward call (recomputed from the same inputs, so a decoder can step
forward T times and then back T times with one module). dweights (B x S) adds a gradient on
the weights. dquery is overwritten (a new matrix unless given); dkeys accumulates into the
given matrix (a new zero matrix otherwise), as do the parameter gradients.]]},
  {name = "loom.nn.Attention:to", signature = "attn:to(dtype) -> attn",
   doc = [[Convert the parameters and gradients to "float32" or "float64"; forward and backward then take
matrices of that dtype only (another is an error naming both). The float32 kernels run sgemm and
float loops; they agree with PyTorch float32 (tests/lua/test_attention.lua).]]},
  {name = "loom.nn.Attention:dtype", signature = "attn:dtype() -> \"float64\" | \"float32\"",
   doc = "The dtype of the module's parameters and of the matrices it takes."},
  {name = "loom.seq2seq", signature = "loom.seq2seq",
   doc = [[LSTM encoder-decoder translation models: pair files and batches, the model (encoder
nn.LSTM, decoder nn.LSTMCell stepping with nn.Attention), teacher-forced training, greedy
and beam-search decoding, evaluation by exact match. Target ids: <pad> 1, <unk> 2, <s> 3,
</s> 4 (seq2seq.PAD, UNK, BOS, EOS). See docs/translation.md.]]},
  {name = "loom.seq2seq.read_pairs", signature = "seq2seq.read_pairs(path) -> {{src = tokens, tgt = tokens}, ...} | nil, message",
   doc = "Read a pair file: SCAN lines \"IN: ... OUT: ...\" or \"source<TAB>target\", whitespace tokens; blank lines skipped; a malformed line is an error naming its line number."},
  {name = "loom.seq2seq.vocab", signature = "seq2seq.vocab(token_lists) -> vocab",
   doc = "A loom.text vocabulary with <pad> 1, <unk> 2, <s> 3, </s> 4, then the tokens by count (ties alphabetical)."},
  {name = "loom.seq2seq.batches",
   signature = "seq2seq.batches(pairs, src_vocab, tgt_vocab, batch_size [, {reverse_source = false, sort = true}]) -> {batch, ...}",
   doc = [[Batches sorted by source length (stable): src (S x B ids, time-major, padded with 1),
src_lengths, tgt_in (<s> y, T x B), tgt_out (y </s>), size and the pairs. reverse_source
reverses each source within its length (Sutskever et al. 2014).]]},
  {name = "loom.seq2seq.model",
   signature = "seq2seq.model{src_vocab, tgt_vocab, embed = 32, hidden = 64, layers = 1, bidirectional = false, attention = \"general\", input_feeding = true, dropout = 0, dtype = \"float64\"} -> model",
   doc = [[An encoder-decoder. Encoder: nn.Embedding -> nn.LSTM (layers; bidirectional halves
hidden per direction); the decoder starts from the top layer's final h, c. Decoder:
nn.LSTMCell over [embedding; previous attentional state] (Luong's input feeding) or
[embedding; context] (Bahdanau, attention on the previous state); attention = "none",
"dot", "general", "concat" or "bahdanau"; output tanh(W_c [context; h]) then the
generator Linear. Parameters: src_embedding.*, encoder.*, tgt_embedding.*, decoder.*,
attention.*, combine.weight, generator.* (PyTorch names inside each). dtype = "float32"
builds it in float32 (model:to). dropout = p (in [0, 1)) drops units of both sides'
embeddings and of the decoder's outputs before the generator while training (nn.Dropout,
kept units scaled by 1 / (1 - p)); model:eval() turns it off. The decoder runs in C (src/core/decoder.c): the teacher-forced
steps and their BPTT, greedy and beam decoding, in buffers the model keeps, so a training
step allocates nothing besides the encoder's results once every batch shape was seen.]]},
  {name = "loom.seq2seq.cross_entropy", signature = "seq2seq.cross_entropy(logits, targets [, eps = 0]) -> loss, dlogits, tokens",
   doc = "Mean cross-entropy over the rows whose target is not <pad>, with PyTorch's label_smoothing eps (target (1 - eps) one-hot + eps / V); dlogits is the gradient of the mean."},
  {name = "loom.seq2seq.beam_search",
   signature = "seq2seq.beam_search(decoder, src, lengths [, {beam = 5, nbest = 1, length_penalty = 0, max_len = 100, max_len_ratio}]) -> results",
   doc = [[Batched beam search: for each sequence a list of nbest {ids, score, logprob}, best first.
A hypothesis ending in </s> is finished with score logprob / ((5 + len) / 6)^length_penalty
(GNMT; len counts </s>); a sequence stops when beam hypotheses are finished, or after its
maximum length (max_len, or ceil(max_len_ratio * source length) when smaller), when its
alive hypotheses finish as they are. Ties go to the lower token id, so beam = 1 is greedy
decoding. decoder is {start(src, lengths, k), step(state, ids) -> log-probabilities,
reorder(state, rows)} (model:decoder()); the bookkeeping (top candidates, finished lists,
n-best) runs in C (src/core/beam.c).]]},
  {name = "loom.seq2seq.beam_search_reference",
   signature = "seq2seq.beam_search_reference(decoder, src, lengths [, opts]) -> results",
   doc = "The same search in plain Lua tables: the naive reference the C bookkeeping is tested against (slow)."},
  {name = "loom.seq2seq.train_epoch",
   signature = "seq2seq.train_epoch(model, batches, opt [, {clip = 5, label_smoothing = 0, sampling = 0, order, on_step}]) -> loss per token",
   doc = "One pass of teacher-forced training: zero_grad, forward_backward, clip_grad_norm (global norm) and opt:step() per batch, in the given order; on_step(i, n, loss) after each. sampling = p: each batch with probability p (drawn from loom's generator) reads the model's own greedy outputs as decoder inputs instead of the reference's (targets unchanged; Lake & Baroni 2018 trained half of the time so)."},
  {name = "loom.seq2seq.mean_loss", signature = "seq2seq.mean_loss(model, batches [, opts]) -> loss per token",
   doc = "Teacher-forced loss over batches without gradients (the validation loss for decay on plateau)."},
  {name = "loom.seq2seq.evaluate",
   signature = "seq2seq.evaluate(model, pairs, src_vocab, tgt_vocab [, {beam = 1, reverse_source, max_len, length_penalty}]) -> {exact, hyps, by_length}",
   doc = "Decode every source and score exact match (the whole output equals the reference); by_length[n] = {right, total} groups by target length."},
  {name = "loom.seq2seq.Model:encode", signature = "model:encode(src, lengths) -> keys, h0, c0",
   doc = "Run the encoder: keys ((S*B) x hidden, time-major) for attention and the decoder's first state."},
  {name = "loom.seq2seq.Model:step", signature = "model:step(emb, feed, h, c, keys, lengths) -> record",
   doc = "One decoder step (B rows): the record holds x, h_prev, c_prev, h, c, ctx, weights and out (the step's output) for step_backward."},
  {name = "loom.seq2seq.Model:step_backward",
   signature = "model:step_backward(record, dout, dh, dc, keys, lengths, dkeys) -> demb, dfeed, dh_prev, dc_prev",
   doc = "Backward through one decoder step; accumulates into dkeys and the parameter gradients."},
  {name = "loom.seq2seq.Model:loss", signature = "model:loss(batch [, {label_smoothing}]) -> loss, tokens",
   doc = "Teacher-forced loss per target token (padding ignored), no gradients."},
  {name = "loom.seq2seq.Model:forward_backward", signature = "model:forward_backward(batch [, {label_smoothing = 0}]) -> loss, tokens",
   doc = "Teacher-forced loss and its gradients (accumulated: call zero_grad first), the decoder in C. Equal to the same model in PyTorch float64 to 1e-10 (tests/lua/test_seq2seq.lua)."},
  {name = "loom.seq2seq.Model:forward_backward_reference", signature = "model:forward_backward_reference(batch [, {label_smoothing = 0}]) -> loss, tokens",
   doc = "forward_backward through model:step and model:step_backward in Lua, one module call at a time: the reference the C decoder is tested against."},
  {name = "loom.seq2seq.Model:save", signature = "model:save(path, src_vocab, tgt_vocab [, {reverse_source = false, meta = {}}]) -> true | nil, message",
   doc = [[Write the model to a safetensors file: the weights (in the model's dtype) under their
parameter names, and in the metadata the settings, both vocabularies and whether sources are
read reversed, so seq2seq.load gives back a model that translates alike. meta (strings to
strings) is kept too, for what the caller needs to use the model again (its tokenisation,
decoding settings, the epoch).]]},
  {name = "loom.seq2seq.load", signature = "seq2seq.load(path) -> model, src_vocab, tgt_vocab, {reverse_source, meta} | nil, message",
   doc = "Read a model written by model:save (meta: the table given to save, {} if none); a missing, corrupt or foreign file gives nil and a one-line message."},
  {name = "loom.seq2seq.Model:to", signature = "model:to(dtype) -> model",
   doc = "Convert every part to \"float32\" or \"float64\" (parameters and gradients); build the optimiser afterwards."},
  {name = "loom.seq2seq.Model:greedy", signature = "model:greedy(src, lengths [, {max_len = 100, max_len_ratio, attention = false}]) -> ids, weights",
   doc = "Greedy decoding of a batch: per sequence the output ids without </s>; with attention = true also the attention weights of each step (B x S matrices)."},
  {name = "loom.seq2seq.Model:beam", signature = "model:beam(src, lengths [, opts]) -> results",
   doc = "The beam search of seq2seq.beam_search with this model, decoder steps and bookkeeping all in C."},
  {name = "loom.seq2seq.Model:decoder", signature = "model:decoder() -> {start, step, reorder}",
   doc = "The model as a decoder for seq2seq.beam_search (hypotheses are rows of replicated encoder states)."},
  {name = "loom.seq2seq.Model:translate",
   signature = "model:translate(token_lists, src_vocab, tgt_vocab [, {beam = 1, reverse_source, max_len, batch_size = 64, replace_unk = false}]) -> token_lists",
   doc = [[Decode sources given as token lists (greedy, or the best of a beam), in the given order.
replace_unk (greedy decoding of an attention model) puts the source word with the largest
attention weight of that step in place of each <unk> (Luong et al. 2015b).]]},
  {name = "loom.seq2seq.Model:attention_map", signature = "model:attention_map(tokens, src_vocab [, {max_len, reverse_source}]) -> ids, rows",
   doc = "Greedy translation of one source and its attention weights, a row per output step over the source words in reading order (for plot.heatmap)."},
  {name = "loom.seq2seq.Model:parameters", signature = "model:parameters() -> {{name, value, grad}, ...}",
   doc = "Every parameter with its part's prefix (src_embedding, encoder, tgt_embedding, decoder, attention, combine, generator)."},
  {name = "loom.seq2seq.Model:parts", signature = "model:parts() -> {{prefix, module}, ...}", doc = "The modules of the model in parameter order."},
  {name = "loom.seq2seq.Model:config", signature = "model:config() -> table", doc = "The model's settings (vocabulary sizes, embed, hidden, layers, bidirectional, attention, input_feeding, dropout, dtype)."},
  {name = "loom.seq2seq.Model:zero_grad", signature = "model:zero_grad() -> model", doc = "Zero every parameter gradient."},
  {name = "loom.seq2seq.Model:train", signature = "model:train([mode]) -> model", doc = "Training mode for every part."},
  {name = "loom.seq2seq.Model:eval", signature = "model:eval() -> model", doc = "Evaluation mode for every part."},
  {name = "loom.seq2seq.Model:num_parameters", signature = "model:num_parameters() -> n", doc = "Number of parameter values."},
  {name = "loom.seq2seq.Model:state_dict", signature = "model:state_dict() -> {name = matrix}", doc = "Copies of the parameters under their prefixed names (loom.save writes them)."},
  {name = "loom.seq2seq.Model:load_state_dict", signature = "model:load_state_dict(t [, {strict = true}]) -> missing, unexpected", doc = "Load parameters by name (see nn.Module.load_state_dict)."},
  {name = "loom.spellout", signature = "loom.spellout(locale) -> speller",
   doc = [[Numbers in words by ICU's rule-based spell-out (libicu-dev, unum_open(UNUM_SPELLOUT)) for
a locale such as "fr", "de", "es", "en": speller:format(97) is "quatre-vingt-dix-sept" in
French, "ninety-seven" in English. The number-word translation data (datasets/numbers.lua)
comes from it.]]},
  {name = "loom.speller:format", signature = "speller:format(n) -> string",
   doc = "The words of the integer n (UTF-8), with the soft hyphens (U+00AD) German's rules insert removed."},
  {name = "loom.speller:locale", signature = "speller:locale() -> string", doc = "The locale the speller was opened with."},
  {name = "loom.speller:close", signature = "speller:close()", doc = "Free the ICU formatter now (also at garbage collection); safe to call twice."},
}
