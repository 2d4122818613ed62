-- doc/seq.lua: the docstrings of loom.seq (lua/loom/seq.lua), read by help(x) and the API
-- reference generator. Not code.
return {
  { name = "loom.seq",
    doc = [[
Sequence batches in loom's time-major layout: B sequences of up to T steps with F features
are one T*B x F matrix whose row (t-1)*B + b is step t of sequence b, plus a list of
lengths. Padding, length bucketing, and losses that ignore the padding.]] },
  { name = "loom.seq.pad", signature = "loom.seq.pad(list [, {value = 0}]) -> X, lengths",
    doc = [[
Batch B sequences (each a T_b x F matrix, rows are steps, or a list of numbers for F = 1)
into X (T*B x F, T = the longest) with `value` past each end, and lengths = {T_1, ...}.
Feed both to the recurrent layers: lstm:forward(X, {lengths = lengths}).]] },
  { name = "loom.seq.unpad", signature = "loom.seq.unpad(X, lengths) -> list of T_b x F matrices",
    doc = "The inverse of pad (copies), e.g. to split a layer's output per sequence." },
  { name = "loom.seq.mask", signature = "loom.seq.mask(lengths, T) -> T*B x 1 matrix",
    doc = "1 at real steps, 0 at padding. Every length is an integer in 0..T; others are an error." },
  { name = "loom.seq.sort_by_length", signature = "loom.seq.sort_by_length(list [, {descending = true}]) -> sorted, order",
    doc = "Stable sort of sequences (or lengths) by length; order[k] is the original index of sorted[k]." },
  { name = "loom.seq.buckets", signature = "loom.seq.buckets(list, batch_size [, {shuffle = true}]) -> list of index lists",
    doc = [[
Mini-batches of indices whose sequences have similar lengths (sorted by length, cut into
batch_size chunks) so little padding is wasted; with shuffle the batch order and ties
come from the seeded generator. list holds sequences or lengths.]] },
  { name = "loom.seq.batch", signature = "loom.seq.batch(list, indices [, opts]) -> X, lengths",
    doc = "pad the sequences list[indices[k]] (one bucket)." },
  { name = "loom.seq.last", signature = "loom.seq.last(out, lengths) -> B x F",
    doc = "Each sequence's row at its own last step (for a one-direction layer this equals h_T)." },
  { name = "loom.seq.last_backward", signature = "loom.seq.last_backward(dlast, lengths, T) -> T*B x F",
    doc = "The gradient of seq.last: dlast at each last step, zeros elsewhere." },
  { name = "loom.seq.cross_entropy", signature = "loom.seq.cross_entropy(logits, targets, lengths [, {reduction = \"mean\"}]) -> loss, dlogits",
    doc = [[
Per-step cross-entropy for taggers: logits T*B x C, targets T*B x 1 class ids (1-based; a
T x B id matrix works too). Only real steps count: the mean is over them and dlogits is
zero on padding. With every length 0 the mean has no step to average and is an error
(reduction = "sum" gives 0).]] },
  { name = "loom.seq.last_cross_entropy", signature = "loom.seq.last_cross_entropy(logits, targets, lengths) -> loss, dlogits",
    doc = [[
Sequence classification from the last step: logits T*B x C (a head applied at every
step), targets B x 1; only each sequence's last step counts (mean over B); dlogits is
T*B x C, zero except at the last steps.]] },
}
