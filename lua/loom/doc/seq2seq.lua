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
}
