"""A neural associative memory trained at test time (Titans' long-term memory, in torch).

The memory is a small network M with a linear path and a residual MLP; writing the pair
(k, v) takes gradient steps on the associative loss ||M(k) - v||^2. As in Titans
(Behrouz et al., 2025), the gradient is the "surprise": steps carry momentum (past
surprise) and a weight decay that acts as a forgetting gate, and pairs the memory already
predicts well (loss below a threshold) are not written at all (surprise-gated writes).
Reading is a forward pass, M(q).
"""
from __future__ import annotations

import torch


_SQRT2 = 2.0 ** 0.5
_INV_SQRT_2PI = (2.0 * torch.pi) ** -0.5


def _gelu_and_slope(h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    cdf = 0.5 * (1.0 + torch.erf(h / _SQRT2))
    return h * cdf, cdf + h * _INV_SQRT_2PI * torch.exp(-0.5 * h * h)


class NeuralMemory:
    """M(k) = A k + W2 gelu(W1 k). Gradients are written out by hand: one write is a few
    small matrix products, with no autograd graph to build (writes happen once per turn)."""

    def __init__(self, dim_key: int, dim_value: int, hidden: int = 128, lr: float = 0.8, momentum: float = 0.1,
                 forget: float = 0.0, surprise_threshold: float = 0.0, steps: int = 1, seed: int = 0) -> None:
        gen = torch.Generator().manual_seed(int(seed))
        self.linear = torch.zeros(dim_value, dim_key)
        self.w1 = torch.randn(hidden, dim_key, generator=gen) / dim_key ** 0.5 if hidden else None
        self.w2 = torch.zeros(dim_value, hidden) if hidden else None
        self.params = [p for p in (self.linear, self.w1, self.w2) if p is not None]
        self._velocity = [torch.zeros_like(p) for p in self.params]
        self.lr, self.momentum, self.forget = float(lr), float(momentum), float(forget)
        self.threshold, self.steps = float(surprise_threshold), max(1, int(steps))
        self.writes = 0
        self.skipped = 0

    def _forward(self, k: torch.Tensor) -> torch.Tensor:
        out = k @ self.linear.T
        if self.w1 is not None:
            out = out + _gelu_and_slope(k @ self.w1.T)[0] @ self.w2.T
        return out

    def read(self, keys) -> torch.Tensor:
        """M(k) for a (n, dk) batch or a single (dk,) key."""
        with torch.no_grad():
            return self._forward(torch.as_tensor(keys, dtype=torch.float32))

    def surprise(self, key, value) -> float:
        """Relative associative error ||M(k) - v||^2 / ||v||^2 of a pair, before writing it."""
        k = torch.as_tensor(key, dtype=torch.float32)
        v = torch.as_tensor(value, dtype=torch.float32)
        err = self.read(k) - v
        return float((err * err).sum() / (v * v).sum().clamp_min(1e-8))

    def _gradients(self, k: torch.Tensor, v: torch.Tensor) -> tuple[list[torch.Tensor], float]:
        """Gradients of 0.5 ||M(k) - v||^2 for each parameter, and the relative error."""
        if self.w1 is None:
            err = k @ self.linear.T - v
            grads = [torch.outer(err, k)]
        else:
            act, slope = _gelu_and_slope(self.w1 @ k)
            err = self.linear @ k + self.w2 @ act - v
            grads = [torch.outer(err, k), torch.outer((self.w2.T @ err) * slope, k), torch.outer(err, act)]
        return grads, float((err * err).sum() / (v * v).sum().clamp_min(1e-8))

    def write(self, key, value) -> bool:
        """Learn k -> v unless the memory already predicts it; True when written."""
        k = torch.as_tensor(key, dtype=torch.float32).reshape(-1)
        v = torch.as_tensor(value, dtype=torch.float32).reshape(-1)
        # The key's squared norm scales the step so that lr=1 is the exact delta rule on the linear path.
        scale = self.lr / float((k * k).sum().clamp_min(1e-8))
        with torch.no_grad():
            for step in range(self.steps):
                grads, rel_err = self._gradients(k, v)
                if step == 0 and self.threshold > 0 and rel_err < self.threshold:
                    self.skipped += 1
                    return False
                for p, g, vel in zip(self.params, grads, self._velocity):
                    vel.mul_(self.momentum).add_(g, alpha=-scale)
                    p.mul_(1.0 - self.forget).add_(vel)
        self.writes += 1
        return True
