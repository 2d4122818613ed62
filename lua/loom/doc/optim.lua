-- doc/optim.lua: the docstrings of loom.optim. Not code: a list of {name, signature, doc}.
return {
  {name = "loom.optim", signature = "loom.optim",
   doc = [[Optimisers, gradient clipping and learning-rate schedules. Each optimiser takes a module
(anything with :parameters()) or a parameter list, allocates its state once, and updates
each parameter with one C call, so a step allocates nothing. Updates follow PyTorch's
formulas (tested to agree to 1e-10 over 3 steps).]]},
  {name = "loom.optim.sgd", signature = "optim.sgd(params, {lr = 0.01, momentum = 0, dampening = 0, weight_decay = 0, nesterov = false}) -> opt",
   doc = [[Stochastic gradient descent: g = grad + weight_decay * param; with momentum,
buf = momentum * buf + (1 - dampening) * g (buf = g on the first step) and the step is
buf, or g + momentum * buf with Nesterov (which needs momentum > 0 and no dampening).]]},
  {name = "loom.optim.adam", signature = "optim.adam(params, {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8, weight_decay = 0}) -> opt",
   doc = [[Adam (Kingma & Ba) with bias correction; weight_decay adds weight_decay * param to the
gradient (L2), as torch.optim.Adam does.]]},
  {name = "loom.optim.adamw", signature = "optim.adamw(params, {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8, weight_decay = 1e-2}) -> opt",
   doc = "Adam with decoupled weight decay (Loshchilov & Hutter): param *= 1 - lr * weight_decay before the Adam step."},
  {name = "loom.optim.Optimizer:step", signature = "opt:step()",
   doc = "Update every parameter from its gradient. opt.lr (and the other hyperparameters) may be changed between steps."},
  {name = "loom.optim.Optimizer", signature = "tostring(opt)",
   doc = "Optimisers print their kind, hyperparameters and how many parameters they update."},
  {name = "loom.optim.Optimizer:zero_grad", signature = "opt:zero_grad()", doc = "Zero every parameter's gradient."},
  {name = "loom.optim.Optimizer:state_dict", signature = "opt:state_dict() -> tensors, meta",
   doc = [[The state as a flat table of matrices ("1.exp_avg", "1.exp_avg_sq", "1.step" as 1x1, ...,
numbered by parameter), ready for loom.save, and the hyperparameters as strings (kind, lr,
...), ready to be its metadata. opt.state[i] holds the live state for inspection.]]},
  {name = "loom.optim.Optimizer:load_state_dict", signature = "opt:load_state_dict(tensors [, meta])",
   doc = "Restore state saved by state_dict (and the hyperparameters when meta is given); unknown keys and shape mismatches raise."},
  {name = "loom.optim.clip_grad_norm", signature = "optim.clip_grad_norm(params, max_norm) -> total_norm",
   doc = [[The 2-norm of all gradients together; when it exceeds max_norm every gradient is scaled by
max_norm / (total_norm + 1e-6), as torch.nn.utils.clip_grad_norm_ does.]]},
  {name = "loom.optim.step_lr", signature = "optim.step_lr(opt, {step_size = n, gamma = 0.1}) -> schedule",
   doc = "Each schedule:step() (once per epoch) sets opt.lr = base_lr * gamma^floor(epoch / n)."},
  {name = "loom.optim.cosine_lr", signature = "optim.cosine_lr(opt, {t_max = n, eta_min = 0}) -> schedule",
   doc = "Each schedule:step() sets opt.lr = eta_min + (base_lr - eta_min) (1 + cos(pi epoch / t_max)) / 2."},
  {name = "loom.optim.Schedule:step", signature = "schedule:step() -> lr", doc = "Advance one epoch and set the optimiser's lr."},
  {name = "loom.optim.Schedule:get_lr", signature = "schedule:get_lr() -> lr", doc = "The optimiser's current lr."},
}
