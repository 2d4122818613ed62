-- doc/nn.lua: the docstrings of loom.nn (help() in the REPL and the README's API reference
-- are generated from this list). Not code: a list of {name, signature, doc}.
return {
  {name = "loom.nn", signature = "loom.nn",
   doc = [[Neural-network modules. Layers (Linear, activations, Dropout, Embedding) and losses are
native userdata with forward and backward passes; containers (Sequential) are Lua tables.
Every module follows one protocol: forward, backward, parameters, zero_grad, train/eval,
state_dict/load_state_dict, tostring with parameter counts. Matrices are B x F, rows are
examples; weights are out x in and biases n x 1 columns, as in PyTorch.
Buffers: forward and backward return matrices owned by the module and OVERWRITTEN by its
next call (copy with :copy() to keep one); this is what lets a training step run without
allocating.]]},
  {name = "loom.nn.Linear", signature = "nn.Linear(in, out [, {bias = true}]) -> module",
   doc = [[Affine layer y = x W^T + b. weight is out x in, bias out x 1. Initialised as PyTorch does
(U(-1/sqrt(in), 1/sqrt(in)) for weight, then bias) from loom's seeded generator.
Parameters: "weight", "bias".]]},
  {name = "loom.nn.Sigmoid", signature = "nn.Sigmoid() -> module",
   doc = "Elementwise logistic function 1 / (1 + exp(-x)), computed without overflow."},
  {name = "loom.nn.Tanh", signature = "nn.Tanh() -> module", doc = "Elementwise tanh."},
  {name = "loom.nn.ReLU", signature = "nn.ReLU() -> module",
   doc = "Elementwise max(x, 0) (NaN stays NaN); the gradient at 0 is 0, as in PyTorch."},
  {name = "loom.nn.Softmax", signature = "nn.Softmax() -> module",
   doc = "Softmax along each row (PyTorch's dim = -1), shifted by the row maximum."},
  {name = "loom.nn.LogSoftmax", signature = "nn.LogSoftmax() -> module",
   doc = "log(softmax(x)) along each row, computed as x - logsumexp(x)."},
  {name = "loom.nn.Dropout", signature = "nn.Dropout([p = 0.5]) -> module",
   doc = [[In training mode zeroes each value with probability p and scales the rest by 1/(1-p);
the mask comes from loom's seeded generator (loom.seed). In eval mode it is the identity
and forward returns its input itself.]]},
  {name = "loom.nn.Embedding", signature = "nn.Embedding(vocab, dim [, {padding_idx = id}]) -> module",
   doc = [[Lookup table: forward(ids) takes a matrix of 1-based ids (any shape, e.g. T x B) and
returns numel(ids) x dim rows in row-major order of ids (time-major for T x B). Weights
N(0, 1) as in PyTorch; the padding row starts at zero and gets no gradient. backward(ids, dy)
returns nil (ids have no gradient). Parameter: "weight" (vocab x dim).]]},
  {name = "loom.nn.Conv1d",
   signature = "nn.Conv1d(in, out, kernel [, {stride = 1, padding = 0, dilation = 1, bias = true, batch}]) -> module",
   doc = [[1-D convolution over time of a time-major batch (T*B rows x in columns, as nn.LSTM
takes it): forward(x, {batch = B} | {lengths = {...}}) -> y ((T_out*B) x out) and, with
lengths, each sequence's output length floor((L + 2 padding - dilation (kernel - 1) - 1) /
stride) + 1. Built with `batch`, forward(x) works alone (in nn.Sequential, gradcheck).
im2col and one matrix product. Parameters "weight" (out x (in*kernel): PyTorch's
(out, in, kernel) tensor in its memory order, torch_weight.reshape(out, -1)) and "bias"
(out x 1); init U(-1/sqrt(in*kernel), +). Zero-padded steps of shorter sequences never reach
their valid outputs (PyTorch-equal to 1e-10, tests/lua/test_conv.lua).]]},
  {name = "loom.nn.MaxPool1d", signature = "nn.MaxPool1d(kernel [, {stride = kernel, batch}]) -> module",
   doc = [[Max over windows of `kernel` steps every `stride` steps of a time-major batch, per
channel (no padding, floor mode, like PyTorch's defaults); forward takes the options of
nn.Conv1d:forward and returns output lengths likewise. The gradient goes to the earliest
maximum of each window.]]},
  {name = "loom.nn.AvgPool1d", signature = "nn.AvgPool1d(kernel [, {stride = kernel, batch}]) -> module",
   doc = [[Mean over windows of `kernel` steps every `stride` steps, as nn.MaxPool1d.]]},
  {name = "loom.nn.is_conv", signature = "nn.is_conv(x) -> boolean",
   doc = [[True for nn.Conv1d, nn.MaxPool1d and nn.AvgPool1d modules.]]},
  {name = "loom.nn.Sequential", signature = "nn.Sequential{m1, m2, ...} -> module",
   doc = [[Runs modules in order; backward runs them in reverse, giving each the input it saw in
the last forward. Children are seq[1], seq[2], ...; parameters are named "<i-1>.<name>"
("0.weight") like PyTorch's. Any table or userdata with forward/backward/parameters/
zero_grad/train fits, including the recurrent layers.]]},
  {name = "loom.nn.Sequential:add", signature = "seq:add(module) -> seq", doc = "Append a module."},
  {name = "loom.nn.Module", signature = "nn.Module",
   doc = [[Behaviour every module shares, written over m:parameters(): num_parameters, state_dict,
load_state_dict and __tostring. Lua-written modules can copy these functions into their
class (Sequential does).]]},
  {name = "loom.nn.Module:forward", signature = "m:forward(x) -> y",
   doc = [[The output for input x (B x in). y is the module's buffer, overwritten by the next
forward call; the same matrix object comes back while the batch size stays the same (an
epoch's smaller last batch swaps to a second buffer, so neither allocates again).]]},
  {name = "loom.nn.Module:backward", signature = "m:backward(x, dy [, need_input_grad = true]) -> dx",
   doc = [[Given the input x of the last forward and dL/dy, ACCUMULATES dL/dparameter into the
gradients and returns dL/dx (a buffer overwritten by the next backward). Pass false as
need_input_grad when dx is not wanted (the first layer of a network): it returns nil and
Linear skips one matrix product. Activations use the output their forward kept.]]},
  {name = "loom.nn.Module:parameters", signature = "m:parameters() -> {{name = ..., value = matrix, grad = matrix}, ...}",
   doc = [[The trainable parameters in order. value and grad are views into the module's storage
(writing them changes the module; they keep the module alive).]]},
  {name = "loom.nn.Module:zero_grad", signature = "m:zero_grad() -> m", doc = "Set every parameter gradient to zero."},
  {name = "loom.nn.Module:to", signature = "m:to(dtype) -> m",
   doc = [[Convert the parameters and their gradients to dtype ("float32" or "float64"; values
rounded for float32) and return m; containers convert every child. Inputs must then have
that dtype ("nn.Linear:forward: cannot mix float64 and float32" otherwise). Parameter lists
and optimisers taken before still see the old storage: build the optimiser after
converting (its state takes the parameters' dtype). gradcheck stays in float64.]]},
  {name = "loom.nn.Module:dtype", signature = "m:dtype() -> \"float64\" | \"float32\" | nil",
   doc = "The dtype of a layer's parameters (nil for layers without parameters, which take either)."},
  {name = "loom.nn.Module:train", signature = "m:train([mode = true]) -> m",
   doc = "Training mode (Dropout drops); train(false) is eval(). Containers pass it to children."},
  {name = "loom.nn.Module:eval", signature = "m:eval() -> m", doc = "Evaluation mode (Dropout is the identity)."},
  {name = "loom.nn.Module:is_training", signature = "m:is_training() -> boolean",
   doc = "Whether the module is in training mode; also readable as the field m.training."},
  {name = "loom.nn.Module:num_parameters", signature = "m:num_parameters() -> integer",
   doc = "How many parameter values (not gradients) the module has."},
  {name = "loom.nn.Module:state_dict", signature = "m:state_dict() -> {name = matrix}",
   doc = [[Copies of the parameters under PyTorch's names ("weight", "bias", "0.weight" inside
Sequential); loom.save(path, m:state_dict()) writes a checkpoint PyTorch can read.]]},
  {name = "loom.nn.Module:load_state_dict", signature = "m:load_state_dict(t [, {strict = true}]) -> missing, unexpected",
   doc = [[Copy matrices from t into the parameters of the same names. With strict (the default)
missing and unexpected names are errors; shape mismatches always are. The error lists every
problem at once and nothing is copied unless the whole load is valid. Returns the lists of
missing and unexpected names.]]},
  {name = "loom.nn.Module:config", signature = "m:config() -> table",
   doc = "The native layer's settings: {kind = \"Linear\", in_features, out_features, bias} and so on."},
  {name = "loom.nn.Module:repr", signature = "m:repr() -> string",
   doc = "The architecture as PyTorch prints it, e.g. \"Linear(in_features=64, out_features=128, bias=True)\"."},
  {name = "loom.nn.Module:close", signature = "m:close()",
   doc = [[Release the module's buffers now (also what <close> and the collector do); later use
raises "attempt to use a released nn module". Parameter views stay valid.]]},
  {name = "loom.nn.MSELoss", signature = "nn.MSELoss([{reduction = \"mean\"}]) -> loss",
   doc = "(pred - target)^2, averaged (\"mean\") or summed (\"sum\") over all values."},
  {name = "loom.nn.BCELoss", signature = "nn.BCELoss([{reduction = \"mean\"}]) -> loss",
   doc = [[Binary cross-entropy of probabilities p in [0, 1]: -(t log p + (1-t) log(1-p)), each log
clamped at -100 as in PyTorch. Prefer BCEWithLogitsLoss on raw scores.]]},
  {name = "loom.nn.BCEWithLogitsLoss", signature = "nn.BCEWithLogitsLoss([{reduction = \"mean\"}]) -> loss",
   doc = "BCE of sigmoid(x), computed stably as max(x, 0) - x t + log(1 + exp(-|x|)); gradient sigmoid(x) - t."},
  {name = "loom.nn.CrossEntropyLoss", signature = "nn.CrossEntropyLoss([{reduction = \"mean\", ignore_index = id}]) -> loss",
   doc = [[Cross-entropy from logits (B x C) and targets (B x 1) of 1-based class ids. Rows whose
target equals ignore_index (e.g. a padding id 0) count for nothing; "mean" divides by the
rows counted. Targets that are not class ids raise an error naming the row.]]},
  {name = "loom.nn.Loss:forward", signature = "loss:forward(pred, target) -> number", doc = "The loss value."},
  {name = "loom.nn.Loss:backward", signature = "loss:backward(pred, target) -> dpred, value",
   doc = "dL/dpred (a buffer of the loss, overwritten by the next call) and the loss value, in one pass."},
  {name = "loom.nn.Loss:config", signature = "loss:config() -> {kind, reduction, ignore_index}", doc = "The loss's settings."},
  {name = "loom.nn.is_loss", signature = "nn.is_loss(x) -> boolean", doc = "Whether x is one of the native losses."},
  {name = "loom.nn.is_native", signature = "nn.is_native(x) -> boolean", doc = "Whether x is a native (userdata) layer."},
  {name = "loom.nn.repr", signature = "nn.repr(m) -> string",
   doc = "A module's architecture without counts: m:repr() when it has one, else tostring(m)."},
  {name = "loom.nn.gradcheck", signature = "nn.gradcheck(module_or_function, x [, opts]) -> worst, where",
   doc = [[Compare analytic gradients with central differences (f(v+eps) - f(v-eps)) / 2eps for every
entry of the input and of every parameter; returns the worst relative error
|analytic - numeric| / max(|analytic|, |numeric|, floor) and where it is:
{kind = "input"|"parameter", name, index = {i, j}, analytic, numeric}.
Targets: a module (objective sum(forward(x) .* R) for a fixed random R), a loss with
opts.target, or a function f(x) -> value, dvalue/dx. opts: eps = 1e-6, floor = 1e-3,
target. The generator is reset before each evaluation (Dropout keeps its mask) and restored
at the end.]]},
}
