-- digits.lua: image classification with an MLP (64-128-10, ReLU, Adam, batch 32) on the 8x8
-- handwritten digits (1,797 images, UCI optdigits via scikit-learn). Prints test accuracy,
-- the confusion matrix and the time taken.
-- Split: row i (1-based) is a test row when FNV-1a-32(decimal text of i) mod 100 < 20
-- (loom.data.split): deterministic, the same on every machine, independent of the seed.
-- The learning rate follows a cosine from lr down to 0 over the epochs.
--   loom run scripts/experiments/digits.lua [epochs=30 lr=0.003 hidden=128 batch=32 quick=false dtype=float64]
local loom = require "loom"
local nn, optim, data = loom.nn, loom.optim, loom.data

-- Where the dataset is: params.path, else the bundled set (datasets/digits).
local function locate(path)
  if path ~= "" then return path end
  return data.require("digits") .. "/digits.csv.gz"
end

local function load(path, dtype)
  local all, err = loom.read_csv(path, {header = false, dtype = dtype})
  if not all then error("digits: " .. err) end
  local n = all:rows()
  local X = all:slice(1, n, 1, 64) / 16 -- pixel values 0..16 scaled to [0, 1]
  local y = (all:slice(1, n, 65, 65) + 1):double() -- digits 0..9 as class ids 1..10
  local train_idx, test_idx = data.split(n, {test = 0.2})
  local Xtr, Xte = X:index_rows(train_idx), X:index_rows(test_idx)
  return Xtr, y:index_rows(train_idx), Xte, y:index_rows(test_idx)
end

local function evaluate(model, X, y)
  model:eval()
  local pred = model:forward(X):argmax(2)
  model:train()
  local confusion, correct = {}, 0
  for i = 1, 10 do confusion[i] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0} end
  for i = 1, X:rows() do
    local want, got = y:get(i, 1), pred:get(i, 1)
    confusion[want][got] = confusion[want][got] + 1
    if want == got then correct = correct + 1 end
  end
  return correct / X:rows(), confusion
end

local function print_confusion(confusion)
  print("confusion matrix (rows: true digit, columns: predicted digit)")
  local head = {"     "}
  for d = 0, 9 do head[#head + 1] = string.format("%4d", d) end
  print(table.concat(head))
  for t = 1, 10 do
    local row = {string.format("  %d |", t - 1)}
    for p = 1, 10 do row[#row + 1] = string.format("%4d", confusion[t][p]) end
    print(table.concat(row))
  end
end

return loom.experiment{
  name = "digits",
  description = "MLP on the 8x8 handwritten digits: test accuracy and confusion matrix",
  params = {
    seed = 42,
    quick = {false, "the demo setting: at most 15 epochs"},
    epochs = {30, "passes over the training set (cosine learning-rate schedule over them)"},
    lr = {0.003, "Adam's initial learning rate"},
    hidden = {128, "ReLU units in the hidden layer (64-hidden-10)"},
    batch = {32, "mini-batch size"},
    path = {"", "digits CSV (empty: the bundled datasets/digits/digits.csv.gz)"},
    dtype = {"float64", "float32 trains in single precision (faster); float64 is the reference"},
  },
  run = function(p, run)
    local started = os.clock()
    if p.quick then p.epochs = math.min(p.epochs, 15) end
    local path = locate(p.path)
    local Xtr, ytr, Xte, yte = load(path, p.dtype)
    print(string.format("digits: %d training and %d test images of 64 pixels (data: %s)", Xtr:rows(),
      Xte:rows(), path))
    local model = nn.Sequential{nn.Linear(64, p.hidden), nn.ReLU(), nn.Linear(p.hidden, 10)}
    model:to(p.dtype) -- the same initial weights in both dtypes (rounded for float32)
    print(model)
    local loss, opt = nn.CrossEntropyLoss(), optim.adam(model, {lr = p.lr})
    local schedule = optim.cosine_lr(opt, {t_max = p.epochs})
    local loader = data.loader(Xtr, ytr, p.batch)
    local acc
    for epoch = 1, p.epochs do
      local total, batches = 0, 0
      for xb, yb in loader:epoch() do
        opt:zero_grad()
        local out = model:forward(xb)
        local d, l = loss:backward(out, yb)
        model:backward(xb, d, false) -- no gradient for the pixels
        opt:step()
        total, batches = total + l, batches + 1
      end
      acc = evaluate(model, Xte, yte)
      run:log{step = epoch, train_loss = total / batches, test_accuracy = acc, lr = opt.lr}
      schedule:step()
      run:progress(epoch, p.epochs)
    end
    local train_acc = evaluate(model, Xtr, ytr)
    local confusion
    acc, confusion = evaluate(model, Xte, yte)
    print_confusion(confusion)
    if loom.save and run.artifact then
      -- A safetensors checkpoint PyTorch can load into the same Sequential.
      local path = run:artifact("digits_mlp.safetensors")
      local ok, err = pcall(loom.save, path, model:state_dict(), {test_accuracy = string.format("%.4f", acc)})
      print(ok and ("checkpoint: " .. path) or ("checkpoint not saved: " .. tostring(err)))
    end
    local seconds = os.clock() - started
    print(string.format("test accuracy %.2f%% (%d epochs, train accuracy %.2f%%) in %.2f s of CPU",
      100 * acc, p.epochs, 100 * train_acc, seconds))
    return {test_accuracy = acc, train_accuracy = train_acc, epochs = p.epochs, seconds = seconds,
      parameters = model:num_parameters()}
  end,
}
