"""A model written as a plain expression, trained by hand-rolled gradient descent.

Fits y = sin(3x) on [-1, 1] with a one-hidden-layer tanh network: the weights are Tensors,
the model is an expression, backward() fills .grad, and the update is one line of numpy.
"""
import numpy as np

import tinygrad1d as tg

tg.manual_seed(0)
x = tg.Tensor(np.linspace(-1, 1, 64).reshape(-1, 1))
y = tg.Tensor(np.sin(3 * x.data))
w1, b1 = tg.randn(1, 32, requires_grad=True), tg.zeros(32, requires_grad=True)
w2, b2 = tg.Tensor(tg.randn(32, 1).data * 0.1, requires_grad=True), tg.zeros(1, requires_grad=True)

for step in range(2001):
    pred = (x @ w1 + b1).tanh() @ w2 + b2  # the model is this expression
    loss = ((pred - y) ** 2).mean()
    for p in (w1, b1, w2, b2):
        p.zero_grad()
    loss.backward()
    for p in (w1, b1, w2, b2):
        p.data -= 0.1 * p.grad
    if step % 500 == 0:
        print(f"step {step:4d}  mse {loss.item():.5f}")
print(f"final mse {loss.item():.5f} (a constant predictor scores {float(np.var(y.data)):.5f})")
