# %% [markdown]
# # Lesson 01 — Tensors, broadcasting and the computational graph
#
# ## What you will learn
#
# - How reverse-mode automatic differentiation works, by writing it yourself in about
#   40 lines for single numbers — and then checking it against minidl.
# - minidl's `Tensor`: how to make one, its dtype (float32 unless you ask otherwise),
#   and NumPy broadcasting.
# - Why the gradient of a broadcast input is a **sum** over the broadcast axes.
# - The graph behind a result (`grad_fn`, `next_functions`), how `backward()`
#   **accumulates** into `.grad`, and how to switch recording off with `minidl.no_grad()`.
# - Second derivatives with `minidl.grad(..., create_graph=True)`.
# - How to check any gradient with central differences (`minidl.gradcheck`), and why
#   that check needs float64.
#
# Run it as a script (`python lessons/01_tensors_and_graphs.py`) or open it as a notebook
# with jupytext. It takes a couple of seconds.
#
# Notation: [the course's notation table](../docs/notation.md) — one symbol, one meaning,
# in every lesson.
#
# Time: the full version takes about 2 s on one laptop core (CPU time measured with one
# BLAS thread, 2026-12-02); `MINIDL_FAST=1` runs the quick version, the one the tests run.

# %% [markdown]
# ## The math
#
# A computation is a graph of small ops. Each op knows its *local* derivatives, written
# in minidl as the op's docstring, for example
#
# - `Add`: $z = x + y$; $\partial z/\partial x = 1$, $\partial z/\partial y = 1$
# - `Mul`: $z = x \cdot y$; $\partial z/\partial x = y$, $\partial z/\partial y = x$
# - `Tanh`: $y = \tanh x$; $\partial y/\partial x = 1 - y^2$
#
# The chain rule glues them together. Walking the graph from the output $L$ back to
# the inputs (`minidl.engine.autograd`'s docstring):
#
# $$\frac{\partial L}{\partial x} = \sum_{\text{ops } f \text{ that consumed } x}
#   \frac{\partial L}{\partial f(x)} \cdot \frac{\partial f}{\partial x}$$
#
# The **sum** $\sum$ matters: a value used twice gets a contribution from each use, so gradients
# must be *added* (`+=`), never assigned. And every node must be processed only after all
# the nodes that use it — a *topological order* of the graph.

# %%
import math

import numpy as np

import minidl
from minidl import Function
from minidl.course import new_figure, pick, save_figure
from minidl.course_checks import check
from minidl.threads import lesson_threads

lesson_threads()  # one BLAS thread, however the lesson is started (lesson 14 explains why)

# %% [markdown]
# ## 1. A scalar autograd in 40 lines
#
# Each `Value` stores a number, its gradient, the Values it was computed from
# (`parents`) and the local derivative with respect to each parent (`local_grads`).
# `backward()` sorts the graph so each node comes after its parents, then walks it
# backwards, applying the chain rule: `parent.grad += local · node.grad`.


# %%
class Value:
    """A scalar that remembers how it was computed, so gradients can flow back through it."""

    def __init__(self, data: float, parents: tuple = (), local_grads: tuple = ()) -> None:
        self.data = float(data)
        self.grad = 0.0
        self.parents = parents  # the Values this one was computed from
        self.local_grads = local_grads  # ∂self/∂parent, one number per parent

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data + other.data, (self, other), (1.0, 1.0))

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data * other.data, (self, other), (other.data, self.data))

    def __pow__(self, k: float):  # k is a plain number
        return Value(self.data**k, (self,), (k * self.data ** (k - 1),))

    def tanh(self):
        t = math.tanh(self.data)
        return Value(t, (self,), (1 - t * t,))

    def relu(self):
        return Value(max(self.data, 0.0), (self,), (float(self.data > 0),))

    def exp(self):
        e = math.exp(self.data)
        return Value(e, (self,), (e,))

    __radd__ = __add__  # 2 + v, 3 * v
    __rmul__ = __mul__

    def topological_order(self) -> list:
        """Every Value this one depends on, each listed after the Values it was made from."""
        order, seen = [], set()

        def visit(v):
            if v not in seen:
                seen.add(v)
                for p in v.parents:
                    visit(p)
                order.append(v)

        visit(self)
        return order

    def backward(self) -> None:
        order = self.topological_order()
        for v in order:
            if v.parents:  # interior grads are scratch space for this pass; leaves accumulate
                v.grad = 0.0
        self.grad = 1.0
        for v in reversed(order):
            for parent, local in zip(v.parents, v.local_grads):
                parent.grad += local * v.grad  # += : a value used twice gets both contributions


# %% [markdown]
# A small neuron with a twist: the pre-activation `n` is used twice (in `tanh` and in
# `exp`), and so are `x1` and `w2`. Because the function only uses `+`, `*`, `**`,
# `tanh`, `exp` and `relu`, the *same* Python function runs on our `Value`s and on
# minidl Tensors.


# %%
def neuron(x1, x2, w1, w2, b):
    n = x1 * w1 + x2 * w2 + b  # pre-activation
    return n.tanh() * n.exp() + (x1 * w2).relu() ** 2


inputs = {"x1": 2.0, "x2": -1.0, "w1": -0.5, "w2": 1.5, "b": 0.3}

ours = {k: Value(v) for k, v in inputs.items()}
out_ours = neuron(**ours)
out_ours.backward()

theirs = {k: minidl.tensor(v, dtype=minidl.float64, requires_grad=True) for k, v in inputs.items()}
out_theirs = neuron(**theirs)
out_theirs.backward()

print(f"output:  ours {out_ours.data:.12f}   minidl {out_theirs.item():.12f}")
max_abs_diff = abs(out_ours.data - out_theirs.item())
for k in inputs:
    ours_g, theirs_g = ours[k].grad, theirs[k].grad.item()
    max_abs_diff = max(max_abs_diff, abs(ours_g - theirs_g))
    print(f"  ∂out/∂{k:2s}  ours {ours_g:+.12f}   minidl {theirs_g:+.12f}")
scalar_autograd_matches = max_abs_diff < 1e-12
print(f"largest difference: {max_abs_diff:.2e}")
assert scalar_autograd_matches

# %% [markdown]
# minidl does exactly this, but each node holds a whole array, and each op's backward
# rule works on arrays (a matrix product's local derivative is another matrix product).
# The rest of the lesson is about those arrays.
#
# ## 2. minidl's Tensor
#
# A `Tensor` wraps a NumPy array in `.data`. Python floats become **float32** (as in
# PyTorch: enough precision for training, half the memory of float64); Python ints
# become int64.

# %%
a = minidl.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
print(a, a.shape, a.dtype)
print(minidl.tensor([1, 2, 3]).dtype, minidl.zeros(2, 3).dtype,
      minidl.randn(2, 3, dtype=minidl.float64).dtype)
print(type(a.data), "— the array itself; a.numpy() gives it to you as NumPy")
assert a.dtype == minidl.float32

# %% [markdown]
# ### Broadcasting, and why its gradient is a sum
#
# Adding a bias `b` of shape (3,) to a batch `x` of shape (4, 3) follows NumPy's rule:
# `b` is (virtually) copied to every one of the 4 rows. Each copy takes part in the loss,
# so — the $\sum$ of the chain rule again — `b`'s gradient is the gradient of the output
# **summed over the batch axis**. minidl's `Add` does this with `sum_to` (see the
# docstring of `minidl/engine/ops/arithmetic.py`).

# %%
minidl.manual_seed(0)
x = minidl.randn(4, 3)
b = minidl.zeros(3, requires_grad=True)
y = x + b  # (4, 3) + (3,) -> (4, 3)
loss = (y**2).sum()
loss.backward()

grad_of_y = 2 * (x.numpy() + b.numpy())  # ∂loss/∂y, shape (4, 3)
print("y.shape", y.shape, " b.grad.shape", b.grad.shape)
print("b.grad            ", b.grad.numpy())
print("∂loss/∂y summed   ", grad_of_y.sum(axis=0))
bias_grad_is_batch_sum = b.grad.shape == (3,) and np.allclose(b.grad.numpy(), grad_of_y.sum(axis=0))
assert bias_grad_is_batch_sum

# %% [markdown]
# ### The graph: `grad_fn` and `next_functions`
#
# A Tensor computed from a Tensor that requires a gradient remembers the op that made
# it in `grad_fn`. That node's `next_functions` are the nodes of its inputs (`None` for a
# leaf — a tensor you created yourself). Following them is walking the graph backwards.

# %%
w = minidl.tensor([1.0, -2.0], requires_grad=True)
z = (w * w + w.tanh()).sum()


def show_graph(fn, depth=0):
    print("    " * depth + (repr(fn) if fn is not None else "leaf"))
    if fn is not None:
        for parent in fn.next_functions:
            show_graph(parent, depth + 1)


show_graph(z.grad_fn)
print("w is a leaf:", w.is_leaf, "  z is a leaf:", z.is_leaf)

# %% [markdown]
# ### `backward()` accumulates
#
# Like PyTorch, minidl **adds** each backward's gradient into a leaf's `.grad`. That is
# what lets a gradient be summed over several mini-batches — and it is why a training loop
# clears the gradients before each step. (Calling `backward()` twice on the *same* graph is
# an error: its saved values were freed. Compute the loss again, or pass `retain_graph=True`.)

# %%
(w * w).sum().backward()
print("after one backward: ", w.grad.numpy())  # 2w
(w * w).sum().backward()
print("after two backwards:", w.grad.numpy())  # 2w + 2w
assert np.allclose(w.grad.numpy(), 4 * w.numpy())
w.grad.zero_()  # or w.grad = None, which is what optimizer.zero_grad() does
print("after zero_():      ", w.grad.numpy())

# %% [markdown]
# ### `minidl.no_grad()`
#
# Inside `no_grad`, ops compute values but record no graph: use it for evaluation and for
# updating weights (lesson 02), where you do not want the update itself differentiated.

# %%
with minidl.no_grad():
    evaluated = w * 2
print("requires_grad:", evaluated.requires_grad, " grad_fn:", evaluated.grad_fn)
assert evaluated.grad_fn is None

# %% [markdown]
# ### Second derivatives: `minidl.grad(..., create_graph=True)`
#
# `minidl.grad(outputs, inputs)` returns $\partial\,\text{outputs}/\partial\,\text{inputs}$ instead of accumulating it.
# With `create_graph=True` the backward pass is itself recorded, so its result can be
# differentiated again. For $f(x) = x^3$: $f'(x) = 3x^2$, $f''(x) = 6x$.

# %%
xs = minidl.linspace(-2.0, 2.0, 5, dtype=minidl.float64).requires_grad_()
(first,) = minidl.grad((xs**3).sum(), xs, create_graph=True)  # 3x², still in a graph
(second,) = minidl.grad(first.sum(), xs)  # 6x
print("x    ", xs.numpy())
print("f'   ", first.numpy())
print("f''  ", second.numpy())
second_derivative_ok = np.allclose(first.numpy(), 3 * xs.numpy() ** 2) and np.allclose(
    second.numpy(), 6 * xs.numpy())
assert second_derivative_ok

# %% [markdown]
# ### Checking gradients: `minidl.gradcheck`
#
# The independent check for any backward rule is the central difference
# (`minidl/engine/gradcheck.py`):
#
#     ∂L/∂xᵢ ≈ (L(x + h·eᵢ) − L(x − h·eᵢ)) / 2h,   error O(h²)
#
# `gradcheck(fn, inputs)` compares it with autograd for every element of every input
# (in float64) and raises if they disagree. Here it checks the bias example above.

# %%
x64 = minidl.randn(4, 3, dtype=minidl.float64, requires_grad=True)
b64 = minidl.randn(3, dtype=minidl.float64, requires_grad=True)
gradcheck_passed = minidl.gradcheck(lambda x, b: ((x + b) ** 2).tanh(), [x64, b64])
print("gradcheck passed:", gradcheck_passed)

# %% [markdown]
# ## 3. Experiment: autograd against finite differences
#
# Left: tanh, its derivative from minidl's autograd, central differences (dots) and the
# second derivative from `create_graph=True`. Right: the error of the central difference
# at $x = 0.5$ as the step $h$ shrinks, in float32 and float64. The error first falls as $h^2$
# (the Taylor remainder), then *rises* as $u/h$: subtracting two nearly equal numbers loses
# digits, and $u$, the rounding unit, is $10^{-7}$ in float32 but $10^{-16}$ in float64. That is why
# `gradcheck` insists on float64 with $h = 10^{-6}$.

# %%
grid = minidl.linspace(-3.0, 3.0, pick(121, 41), dtype=minidl.float64).requires_grad_()
(dtanh,) = minidl.grad(grid.tanh().sum(), grid, create_graph=True)
(d2tanh,) = minidl.grad(dtanh.sum(), grid)


def tanh_at(value: float, dtype) -> float:
    return minidl.tensor(value, dtype=dtype).tanh().item()


def central_difference(value: float, h: float, dtype) -> float:
    return (tanh_at(value + h, dtype) - tanh_at(value - h, dtype)) / (2 * h)


coarse = grid.numpy()[::4]
numeric = np.array([central_difference(v, 1e-6, minidl.float64) for v in coarse])

x0 = 0.5
exact = 1 - math.tanh(x0) ** 2
steps = np.logspace(-10, 0, pick(41, 21))
errors = {
    name: np.array([abs(central_difference(x0, h, dtype) - exact) for h in steps]) + 1e-18
    for name, dtype in (("float32", minidl.float32), ("float64", minidl.float64))
}

fig, (ax_f, ax_err) = new_figure(1, 2, figsize=(13, 5))
ax_f.plot(grid.numpy(), grid.tanh().numpy(), label="tanh x")
ax_f.plot(grid.numpy(), dtanh.numpy(), label="autograd: d/dx")
ax_f.plot(coarse, numeric, "o", ms=4, label="central difference")
ax_f.plot(grid.numpy(), d2tanh.numpy(), "--", label="autograd: d²/dx²")
ax_f.set(xlabel="x (no unit)", ylabel="value (no unit)", title="tanh and its derivatives")
ax_f.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2)  # below: off the curves
for name, err in errors.items():
    ax_err.loglog(steps, err, "o-", ms=3, label=name)
ax_err.axvline(1e-6, color="gray", ls=":", label="h = 1e-6 (gradcheck)")
ax_err.set(xlabel="step h (no unit, log scale)", ylabel="absolute error |central − exact| (log scale)",
           title=f"finite-difference error at x = {x0}")
ax_err.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2)  # below: off the curves
for ax in (ax_f, ax_err):
    ax.grid(alpha=0.3)
fig.tight_layout()
print("saved", save_figure(fig, "01_autograd_vs_finite_differences"))

max_fd_gap = float(np.max(np.abs(numeric - dtanh.numpy()[::4])))
best_error = {name: float(err.min()) for name, err in errors.items()}
print(f"autograd vs central differences (float64, h=1e-6): max gap {max_fd_gap:.1e}")
print(f"best finite-difference error: float32 {best_error['float32']:.1e}, "
      f"float64 {best_error['float64']:.1e}")

# %% [markdown]
# ## Exercises
#
# **1. The "backward called twice" bug.** Many toy autograds (micrograd among them) do
# not reset interior gradients in `backward()`. Take $y = (3a)^2$ at $a = 0.5$, so
# $dy/da = 18a = 9$. Run backward once, then again *without* resetting the interior gradients. What is
# `a.grad` after the second run — and what should it be?

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** It should be 18: leaves accumulate, so two backwards give twice the
# gradient (that is what PyTorch and minidl do). The naive version gives **27**: the
# interior node `b = 3a` still holds its old gradient 3, gets another 3 added (making 6), and
# passes all 6 on, so `a` receives $3 \cdot 6 = 18$ on top of its 9. The error grows with depth.
# Our `Value.backward` avoids it by zeroing interior gradients first.

# %% tags=["answer", "hide-cell"]
a = Value(0.5)
y = (a * 3) ** 2
y.backward()
assert a.grad == 9.0
y.backward()
assert a.grad == 18.0  # correct: accumulated twice


def backward_without_reset(root: Value) -> None:
    root.grad = 1.0
    for v in reversed(root.topological_order()):
        for parent, local in zip(v.parents, v.local_grads):
            parent.grad += local * v.grad


a = Value(0.5)
y = (a * 3) ** 2
backward_without_reset(y)
backward_without_reset(y)
print("naive toy autograd, backward twice: a.grad =", a.grad)
assert a.grad == 27.0

# %% [markdown]
# **2. Why is the gradient of a broadcast a sum?** Write the bias example with the copies
# made explicit, `B = ones((4, 1)) * b`, and compare.
# Then write `bias_grad(grad_out)`: given $\partial L/\partial y$ for $y = x + b$ ($b$ broadcast over the rows),
# return $\partial L/\partial b$, and test it with `minidl.course_checks.check("01.2", bias_grad)`.

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** Broadcasting *uses* `b` four times, once per row, exactly like a `Value` used
# four times. The chain rule adds the four contributions: $\partial L/\partial b$ is the sum over the
# rows of the gradient of `B`. Below,
# the explicit copy (a `Mul` whose backward also sums) gives the same gradient.

# %% tags=["answer", "hide-cell"]
b_explicit = minidl.zeros(3, requires_grad=True)
copies = minidl.ones(4, 1) * b_explicit  # shape (4, 3): b repeated on each row
copies.retain_grad()
((x + copies) ** 2).sum().backward()
print("∂L/∂copies summed over rows:", copies.grad.numpy().sum(axis=0))
print("b.grad from broadcasting:   ", b.grad.numpy())
assert np.allclose(b_explicit.grad.numpy(), b.grad.numpy())


def bias_grad(grad_out: np.ndarray) -> np.ndarray:
    return grad_out.sum(axis=0)  # b was used once per row: add the rows' gradients


check("01.2", bias_grad)

# %% [markdown]
# **3. A wrong backward rule.** Write an op $y = x^3$ whose backward forgets the square
# (returns $3x$ instead of $3x^2$). Does `gradcheck` notice?

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** Yes: central differences give $3x^2$, so `gradcheck` raises `GradcheckError`
# and names the worst element. A test built on `gradcheck` can fail — that is what makes
# it a test.

# %% tags=["answer", "hide-cell"]
class WrongCube(Function):
    """y = x³;   ∂y/∂x = 3x² — but the backward below 'forgets' the square."""

    def forward(self, x):
        return x**3

    def backward(self, gy, x):
        return gy * 3 * x


try:
    minidl.gradcheck(lambda t: WrongCube()(t), [minidl.randn(3, dtype=minidl.float64, requires_grad=True)])
    caught = False
except AssertionError as error:  # GradcheckError is an AssertionError
    caught = True
    print("gradcheck caught it:", str(error)[:90], "...")
assert caught

# %% [markdown]
# ## Results

# %%
results = {
    "scalar_autograd_matches": scalar_autograd_matches,
    "max_abs_diff": max_abs_diff,
    "bias_grad_is_batch_sum": bool(bias_grad_is_batch_sum),
    "second_derivative_ok": bool(second_derivative_ok),
    "gradcheck_passed": gradcheck_passed,
    "tanh_autograd_vs_central_difference": max_fd_gap,
    "best_fd_error_float32": best_error["float32"],
    "best_fd_error_float64": best_error["float64"],
}
print(results)
