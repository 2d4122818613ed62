-- doc/rnn.lua: the docstrings of the recurrent layers (lua/loom/nn/recurrent.lua,
-- src/bind/rnn.c), read by help(x) and the API reference generator. Not code.
return {
  { name = "nn.RNN", signature = "nn.RNN(in, hidden [, {layers = 1, bidirectional = false, dropout = 0, batch, nonlinearity = \"tanh\", gemm = \"auto\"}]) -> layer",
    doc = [[
Fused Elman RNN over a whole sequence batch: h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh),
act tanh or relu. Input is T*B x in, time-major (row (t-1)*B + b is step t of sequence b).
Parameters as PyTorch: weight_ih_l0 (H x in), weight_hh_l0 (H x H), bias_ih_l0, bias_hh_l0
(H x 1), suffix _reverse for the backward direction, _lk for layer k (its input is H*dirs
wide). dropout applies to the inputs of layers 2.. in training mode. batch is the default
batch size of forward; without it each forward needs batch or lengths (never guessed).
Weights start uniform in [-1/sqrt(H), 1/sqrt(H)] like PyTorch's. gemm says what runs the
per-step products W_hh h: "xsmm" (libxsmm's JIT kernels), "blas" (OpenBLAS) or "auto"
(xsmm while W_hh takes at most 2 MiB, BLAS above; with one thread, a W_hh over 1 MiB runs
BLAS too); m:config().gemm tells the choice. The
same options for nn.LSTM and nn.GRU; cells take nonlinearity and gemm. See docs/rnn.md.]] },
  { name = "nn.LSTM", signature = "nn.LSTM(in, hidden [, {layers, bidirectional, dropout, batch, gemm}]) -> layer",
    doc = [[
Fused LSTM: gates i, f, g, o (PyTorch's order) in one 4H block: weight_ih_l0 is 4H x in,
weight_hh_l0 4H x H, biases 4H x 1. c_t = f c_{t-1} + i g, h_t = o tanh(c_t). forward returns
out, h_T, c_T. One gemm projects all steps' inputs, one gemm per step adds W_hh h; the
activations stay in a workspace reused across calls, so a training step allocates only
its result matrices. Matches torch.nn.LSTM (double) to ~1e-15.]] },
  { name = "nn.GRU", signature = "nn.GRU(in, hidden [, {layers, bidirectional, dropout, batch, gemm}]) -> layer",
    doc = [[
Fused GRU with PyTorch's equations and gate order r, z, n:
r = s(W_ir x + b_ir + W_hr h + b_hr), z = s(W_iz x + b_iz + W_hz h + b_hz),
n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) n + z h. Weights 3H x in, 3H x H.]] },
  { name = "nn.LSTM:forward", signature = "m:forward(X [, {lengths =, h0 =, c0 =, batch =, out =, h_T =, c_T =}]) -> out, h_T[, c_T]",
    doc = [[
Run the whole batch. X: T*B x in, time-major. batch: B; without batch, lengths or the
layer's own batch the call is an error that says how the rows split. lengths: a list (or matrix) of B lengths in 1..T for a
variable-length batch (see loom.seq.pad): steps past a sequence's end do not update its
state, its output rows there are zero, and h_T/c_T hold each sequence's state at its own
last step (the reverse direction starts at each sequence's last step, like PyTorch's
packed sequences). h0, c0: layers*dirs*B x H initial states (zeros when absent), block
k = layer*dirs + direction (PyTorch's h_n layout). out: T*B x H*dirs (directions side by
side). out, h_T, c_T given (matrices of those shapes and the layer's dtype) receive the
results and are returned, so a training loop that passes them allocates nothing; m:state()
then copies from them. Keeps what backward needs; the same for nn.RNN and nn.GRU (no
c0/c_T).]] },
  { name = "nn.LSTM:backward", signature = "m:backward(dout [, {dh_T =, dc_T =, input_grad = true, dx =, dh0 =, dc0 =}]) -> dX, dh0[, dc0]",
    doc = [[
Backpropagation through time over the last forward. dout: T*B x H*dirs or nil (when only
the final state gets a gradient, e.g. sequence classification with a head on h_T);
dh_T, dc_T: gradients arriving at the final states. Accumulates into the parameter
gradients; returns dX (nil with input_grad = false, which saves a gemm) and the gradients
of h0, c0. Gradients at padded steps are ignored. dx (T*B x in), dh0, dc0 given receive
those results and are returned (dx only with input_grad). The module protocol form
m:backward(X, dout [, opts]) works too (nn.Sequential, nn.gradcheck).]] },
  { name = "nn.LSTM:state", signature = "m:state() -> h_T[, c_T]",
    doc = [[
Copies of the final states of the last forward, to pass as h0/c0 of the next chunk:
truncated BPTT (gradients stop at the chunk boundary).]] },
  { name = "nn.LSTM:initial_state_grad", signature = "m:initial_state_grad() -> dh0[, dc0]",
    doc = "The gradients at h0 (and c0) computed by the last backward." },
  { name = "nn.LSTM:gates", signature = "m:gates([t [, layer [, direction]]]) -> B x G*H matrix",
    doc = [[
Gate activations at step t (default: the last) of the last forward, a copy. LSTM: columns
i | f | g | o, each H wide (the forget gate of unit j is column H + j); GRU: r | z | n;
RNN: h itself.]] },
  { name = "nn.LSTM:cell_states", signature = "m:cell_states([layer [, direction]]) -> T*B x H matrix",
    doc = [[
LSTM only: the cell state after every step of the last forward, a copy, time-major like the
input (row (t-1)*B + b is sequence b after step t). The fused layer keeps these for BPTT, so
reading them costs a copy, not a cell-by-cell re-run. Past a sequence's end the cell is the
one carried unchanged.]] },
  { name = "nn.LSTM:parameters", signature = "m:parameters() -> {{name =, value =, grad =}, ...}",
    doc = [[
Views of the weights and their gradients, in PyTorch's state_dict order and names, so
m:state_dict() and loom.save/loom.load move weights to and from PyTorch. Writing into a
value changes the layer.]] },
  { name = "nn.LSTM:config", signature = "m:config() -> {kind, input_size, hidden_size, layers, bidirectional, dropout, nonlinearity, cell, gates, gemm}",
    doc = [[
The layer's settings. gemm says what runs the per-step recurrent products: "xsmm" (libxsmm's
JIT kernels) or "blas" (OpenBLAS), as chosen at construction (option gemm, see nn.RNN) and
again by m:to for the new dtype.]] },
  { name = "nn.LSTM:profile", signature = "m:profile([on]) -> m | {phase = seconds, ..., forwards, backwards, row_parts, split}",
    doc = [[
m:profile(true) resets the counters and times every phase of the following forward and
backward calls (a clock read at each phase boundary, a few per step); m:profile(false) stops.
m:profile() returns the seconds spent so far in input_projection (the one gemm of all
steps' inputs), recurrent (the per-step products W_hh h), gates (the fused forward kernels),
gates_backward, recurrent_backward (dG W_hh per step), weight_gradients (dW_ih, dW_hh and
the bias sums), input_gradient (dX) and other (copies, setup, dropout), with the numbers of
forward and backward calls. tests/bench/rnn.lua prints it per step.

row_parts is how many parts the last forward (and its backward) ran its loop in, split how
they shared it. The sequences of a batch never meet inside the recurrent loop, so with
loom.threads(2) or more, the JIT kernels (gemm "xsmm") and enough work (batch >= 4,
T * B * G*H * H >= 2e6 multiply-adds), the loop runs in 2 parts on 2 threads; otherwise 1.
With W_hh up to 1 MiB they split the batch rows (split = "rows"), each through every step
without a barrier; a larger W_hh would not fit one core's cache, so they split its columns
(split = "columns"): each computes its half of every row's recurrent product, the parts
wait for each other, then each runs its rows' gate kernels. Every row's arithmetic is the
same either way; only the weight and bias gradients are summed in another order, so they
can differ in the last bits between thread counts (the same thread count gives the same
bits). With 2 parts the phase times are those of the calling thread's part.]] },
  { name = "nn.LSTM:zero_grad", signature = "m:zero_grad() -> m", doc = "Set every parameter gradient to zero." },
  { name = "nn.LSTM:to", signature = "m:to(dtype) -> m",
    doc = [[
Convert the parameters and gradients to "float32" (values rounded) or "float64". A float32
layer (or cell) runs float32 twins of the fused kernels and sgemm; its inputs, states and
gradients must be float32 ("nn.LSTM:forward: cannot mix float64 and float32" otherwise).
The last forward is forgotten; parameter lists and optimisers made before see the old
storage, so build the optimiser after converting.]] },
  { name = "nn.LSTM:dtype", signature = "m:dtype() -> \"float64\" | \"float32\"",
    doc = "The dtype of the layer's parameters, inputs and outputs." },
  { name = "nn.LSTM:train", signature = "m:train([mode]) -> m", doc = "Training mode (dropout between layers on)." },
  { name = "nn.LSTM:eval", signature = "m:eval() -> m", doc = "Evaluation mode (no dropout)." },
  { name = "nn.RNNCell", signature = "nn.RNNCell(in, hidden [, {nonlinearity = \"tanh\"}]) -> cell",
    doc = [[
One step at a time, for custom loops and the REPL. Parameters weight_ih, weight_hh,
bias_ih, bias_hh (PyTorch's RNNCell names). See nn.LSTMCell:forward.]] },
  { name = "nn.LSTMCell", signature = "nn.LSTMCell(in, hidden) -> cell",
    doc = "One LSTM step: h', c' = cell:forward(x, {h =, c =}). Same equations and names as torch.nn.LSTMCell." },
  { name = "nn.GRUCell", signature = "nn.GRUCell(in, hidden) -> cell",
    doc = "One GRU step: h' = cell:forward(x, {h =}). Same equations and names as torch.nn.GRUCell." },
  { name = "nn.LSTMCell:forward", signature = "cell:forward(x [, {h =, c =}]) -> h'[, c']",
    doc = [[
x: B x in, h, c: B x H (zeros when absent). Returns the new state; cell:gates() then holds
this step's gate activations (B x G*H).]] },
  { name = "nn.LSTMCell:backward", signature = "cell:backward(x, dh [, {h =, c =, dc =}]) -> dx, dh_prev[, dc_prev]",
    doc = [[
Gradient of one step: recomputes the step from x and the state it started from (h, c;
default: the state given to the last forward), accumulates the parameter gradients and
returns the gradients at x and at the previous state. To backpropagate through a loop of
steps, call it from the last step to the first, passing each step's h, c and the dh, dc
returned by the step after it.]] },
  { name = "nn.LSTMCell:gates", signature = "cell:gates() -> B x G*H",
    doc = "The last step's gate activations: LSTM i | f | g | o, GRU r | z | n, RNN h." },
  { name = "nn.is_recurrent", signature = "nn.is_recurrent(x) -> boolean",
    doc = "True for the recurrent layers and cells." },
}
