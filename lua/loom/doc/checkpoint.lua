-- doc/checkpoint.lua: the docstrings of safetensors files and checkpoints (loom.save,
-- loom.load, loom.checkpoint.*, `loom run --resume`), read by help(x) and the API reference.
return {
  { name = "loom.save",
    signature = "loom.save(path, tensors [, metadata [, opts]]) -> true | nil, message",
    doc = [[
Write a safetensors file: tensors = {name = matrix, ...}, metadata = {key = "string", ...}.
opts.dtype = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL"
for every tensor (default: each matrix in its own dtype, F32 for float32, F64 for float64), opts.dtypes = {name = dtype} for some, opts.shapes = {name = {d1,
d2, ...}} to store a matrix with another shape of the same element count ({n} makes a bias
1-D as PyTorch has it, {} a scalar). Without a hint a matrix is stored as [rows, cols].
Tensors are written in sorted name order, contiguous, the header padded to a multiple of 8
bytes; metadata sorted by key (equal contents give equal files). Integer dtypes need
integral values in range (an error otherwise); floats round to nearest even.
The write is atomic: a temporary file in the same directory, fsync, rename, fsync of the
directory; a crash leaves the old file or the new one, never a torn one. Only a regular
file is replaced: a device, fifo or directory at path is refused (nil, message). A symbolic
link is written through to its target (in the target's directory) and stays a link.
Temporary files a kill left for the same file are removed by the next save.
Bad arguments raise; I/O failures return nil, "path: message".
Example: loom.save("w.safetensors", {weight = W, bias = b}, {epoch = "3"}, {shapes = {bias = {b:rows()}}})]] },

  { name = "loom.load",
    signature = "loom.load(path) -> tensors, metadata, shapes, dtypes | nil, message",
    doc = [[
Read a safetensors file (PyTorch's, numpy's, loom's): tensors = {name = matrix}; F32
tensors load as float32 matrices with their bits unchanged, F64, F16, BF16, I64, I32, I16,
I8, U8 and BOOL ones as float64 matrices; metadata = {key = string};
shapes = {name = {d1, ...}} the true shape of each tensor; dtypes = {name = "F32", ...}.
A 1-D tensor of n loads as an n x 1 matrix, a scalar as 1 x 1, a k-D tensor as
shape[1] x (product of the rest). loom.save(path2, tensors, metadata, {shapes = shapes,
dtypes = dtypes}) writes the same file back.
Loading is defensive: a header length beyond the file or over 100 MB, invalid UTF-8 or
JSON, duplicate names or keys, wrong types, unknown dtypes, shapes that overflow, offsets
outside the data, overlapping or leaving holes, a size that does not match the dtype and
shape: each returns nil, "path: message" saying what is wrong. Nothing in the header sizes
an allocation before it has been checked against the file's size.]] },

  { name = "loom.checkpoint",
    signature = "loom.checkpoint(path, {model = m, optim = opt, step = n [, extra = {...}, metadata = {...}, rng = true, dtype = 'F64'}]) -> true | nil, message",
    doc = [[
Save training state to one safetensors file: the model's state_dict ("model.<key>", biases
1-D as in PyTorch), the optimiser's state_dict ("optim.<key>" tensors and metadata), the
random generator's state (unless rng = false), the step, and extras ({name = number |
boolean | string | matrix}). With the generator state saved and loaded, training resumed
from a checkpoint continues bitwise as if never stopped (same seed and thread count).
Also loom.checkpoint.save(path, state). Inside `loom run` the run's buffered metrics are
written to its database before the checkpoint (run:checkpointing).
Example: loom.checkpoint(loom.checkpoint.path(run), {model = net, optim = opt, step = step})]] },

  { name = "loom.load_checkpoint",
    signature = "loom.load_checkpoint(path [, {model = m, optim = opt, strict = true, rng = true}]) -> info | nil, message",
    doc = [[
Load a checkpoint written by loom.checkpoint and restore what is given: model:load_state_dict
(strict unless strict = false; missing, unexpected or mis-shaped keys raise, listed),
optim:load_state_dict (state and hyperparameters), and the generator (unless rng = false).
info = {step, dtype (the model's parameters' dtype when saved: "float32" or "float64"),
extra, metadata (the caller's), model = tensors, optim = tensors, optim_meta = strings}.
Tensors keep the dtype they were saved in (a float32 model's as F32, exactly) and convert
into the targets' dtype. A file that is not a checkpoint returns nil, message.
Also loom.checkpoint.load(path, targets).]] },

  { name = "loom.checkpoint.save",
    signature = "loom.checkpoint.save(path, state) -> true | nil, message",
    doc = [[The function behind loom.checkpoint(path, state); see loom.checkpoint.]] },

  { name = "loom.checkpoint.load",
    signature = "loom.checkpoint.load(path [, targets]) -> info | nil, message",
    doc = [[The same function as loom.load_checkpoint; see there.]] },

  { name = "loom.checkpoint.resume",
    signature = "loom.checkpoint.resume(run | path, {model = m, optim = opt} [, name]) -> step, info",
    doc = [[
In an experiment: restore the run's checkpoint (run:artifact(name), by default
"checkpoint.safetensors") when it exists and return its step, else return 0. A run started
by `loom run --resume ID` finds the checkpoint its earlier life saved; the metrics that life
logged after the checkpoint are dropped (run:rewind(step)), so the run's history is the one
an uninterrupted run would have. A checkpoint that exists but does not load raises.
Example:
  local start = loom.checkpoint.resume(run, {model = net, optim = opt})
  for step = start + 1, p.steps do
    ... run:log{step = step, loss = l}
    if step % p.every == 0 then
      loom.checkpoint(loom.checkpoint.path(run), {model = net, optim = opt, step = step})
    end
  end]] },

  { name = "loom.checkpoint.path",
    signature = "loom.checkpoint.path(run [, name]) -> path",
    doc = [[
The run's checkpoint file: run:artifact(name or "checkpoint.safetensors"). One file, replaced
atomically at each save, is all a resume needs.]] },

  { name = "loom.checkpoint.save_model",
    signature = "loom.checkpoint.save_model(path, model [, metadata [, {dtype, shapes}]]) -> true | nil, message",
    doc = [[
Save model:state_dict() in PyTorch's layout (names as PyTorch's, n x 1 biases as 1-D), so
torch's load_state_dict(strict=True) takes it after safetensors.torch.load_file (or any
safetensors reader).]] },

  { name = "loom.checkpoint.load_model",
    signature = "loom.checkpoint.load_model(path, model [, {strict = true}]) -> model, metadata | nil, message",
    doc = [[
Load a state_dict file (PyTorch's model.state_dict() saved with safetensors, or
save_model's) into model with load_state_dict (strict by default).]] },

  { name = "loom.checkpoint.torch_shapes",
    signature = "loom.checkpoint.torch_shapes(state_dict) -> shapes",
    doc = [[
The opts.shapes for loom.save that give a loom state_dict PyTorch's ranks: every n x 1
matrix whose last name part starts with "bias" (bias, 0.bias, bias_ih_l0) becomes {n}.]] },

  { name = "run:rewind",
    signature = "run:rewind(step [, expected])",
    doc = [[
Forget the metrics the run logged after step and log the next one at step + 1.
loom.checkpoint.resume calls it; an experiment rarely needs to. expected is the number of
metric rows up to step that the checkpoint saw recorded; when fewer are left (rows lost),
it raises rather than let the run end "completed" with holes in its steps.]] },

  { name = "run:checkpointing",
    signature = "run:checkpointing(step) -> metadata",
    doc = [[
Called by loom.checkpoint inside `loom run` before it writes: the run's buffered metrics
are written to the database first (so a kill after the checkpoint loses none of them),
and the checkpoint records the run id and its metric rows up to step ("loom.run",
"loom.run_metrics"), which loom.checkpoint.resume checks.]] },

  { name = "loom run --resume",
    signature = "loom run [--db PATH] [--quiet] --resume ID [script.lua]",
    doc = [[
Continue a run that was interrupted, failed or killed: the same run id, params and seed,
the script recorded for it (or the one given), metrics appended to the same run. The
experiment picks up its last checkpoint with loom.checkpoint.resume; one that keeps no
checkpoint starts over from step 1 (the metrics of its earlier life are dropped). A
completed or still running run is refused.]] },
}
