"""A neural associative memory trained at test time (Titans' long-term memory, in torch).

The memory is a small network M with a linear path and a residual MLP; writing the pair
(k, v) takes gradient steps on the associative loss ||M(k) - v||^2. As in Titans
(Behrouz et al., 2025), the gradient is the "surprise": steps carry momentum (past
surprise) and a weight decay that acts as a forgetting gate, and pairs the memory already
predicts well (loss below a threshold) are not written at all (surprise-gated writes).
Reading is a forward pass, M(q).

`SlotMemory` puts a fixed budget of slots behind such a network, so that what a read
returns is decided by the network: each slot gets a random code, a write teaches M to map
the item's key to its slot's code, and a read decodes M(q) against the codes. The weight
decay fades old associations; when every slot is taken, the slots M decodes most weakly
from their own keys are freed. Neither the slots nor the parameters grow with the stream.
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


_MEAN_PRIOR = 8.0  # pseudo-count of zero keys in the running mean


class SlotMemory:
    """A fixed number of slots (payload + code) addressed through a NeuralMemory M.

    write(k, payload): unless M(k) already decodes to a stored slot (surprise below the
    threshold: the item is known, nothing is written), take a free slot, draw a fresh code
    c for it and teach M the pair k -> c. read(q): the slots whose codes best match M(q).
    Each slot also keeps the key it was written with, only to measure how strongly M still
    decodes it (its strength, c . M(k)); when no slot is free, the weakest `sweep` share is
    freed at once, so the strength pass costs O(slots) per that many writes, not per write.
    A reused slot gets a new code, so the faded association of its old item decodes to nothing.
    Keys are centred on the running mean of the keys written so far and L2-normalised: what
    every turn shares (the words of a template, the speaker) would otherwise dominate each key,
    and one-step delta-rule writes of highly correlated keys overwrite each other.
    """

    def __init__(self, dim_key: int, slots: int, code_dim: int = 256, hidden: int = 128, lr: float = 0.8,
                 momentum: float = 0.1, forget: float = 0.0, surprise_threshold: float = 0.0, sweep: float = 0.125,
                 seed: int = 0) -> None:
        self.net = NeuralMemory(dim_key, code_dim, hidden=hidden, lr=lr, momentum=momentum, forget=forget, seed=seed)
        self.slots = max(1, int(slots))
        self.codes = torch.zeros(self.slots, code_dim)
        self.keys = torch.zeros(self.slots, dim_key)
        self.used = torch.zeros(self.slots, dtype=torch.bool)
        self.payload: list[object] = [None] * self.slots
        self.threshold = float(surprise_threshold)
        self.sweep = max(1, int(round(float(sweep) * self.slots)))
        self._gen = torch.Generator().manual_seed(int(seed) + 1)
        self.mean = torch.zeros(dim_key)
        self.seen = 0
        self.writes = 0
        self.skipped = 0
        self.evicted = 0

    def __len__(self) -> int:
        return int(self.used.sum())

    def _key(self, key) -> torch.Tensor:
        # The mean is shrunk towards zero while few keys are known, so that the first keys (or
        # one key repeated) are not centred to nothing.
        shrink = self.seen / (self.seen + _MEAN_PRIOR)
        k = torch.as_tensor(key, dtype=torch.float32).reshape(-1) - shrink * self.mean
        return k / k.norm().clamp_min(1e-8)

    def decode(self, key) -> torch.Tensor:
        """Score of every slot for M(key): code . M(key); free slots get -inf."""
        out = self.net.read(self._key(key))
        scores = self.codes @ out
        return torch.where(self.used, scores, torch.full_like(scores, -float("inf")))

    def surprise(self, key) -> float:
        """Distance from M(key) to the nearest stored code, ||M(k) - c||^2 (codes are unit vectors)."""
        if not bool(self.used.any()):
            return float("inf")
        out = self.net.read(self._key(key))
        best = torch.where(self.used, self.codes @ out, torch.full((self.slots,), -float("inf"))).max()
        return float(1.0 + out @ out - 2.0 * best)  # ||c - out||^2 with ||c|| = 1

    def strengths(self) -> torch.Tensor:
        """How strongly M still decodes each slot from its own key (free slots: +inf)."""
        s = (self.net.read(self.keys) * self.codes).sum(1)
        return torch.where(self.used, s, torch.full_like(s, float("inf")))

    def _free_weakest(self) -> None:
        weakest = torch.argsort(self.strengths())[: self.sweep]
        for i in weakest.tolist():
            self.used[i] = False
            self.payload[i] = None
            self.evicted += 1

    def write(self, key, payload) -> int | None:
        """Store `payload` under `key`; the slot used, or None when the key was no surprise."""
        raw = torch.as_tensor(key, dtype=torch.float32).reshape(-1)
        if self.threshold > 0 and self.surprise(raw) < self.threshold:
            self.skipped += 1
            return None
        self.seen += 1
        self.mean += (raw - self.mean) / self.seen
        k = self._key(raw)
        if bool(self.used.all()):
            self._free_weakest()
        slot = int(torch.nonzero(~self.used)[0])
        code = torch.randn(self.codes.shape[1], generator=self._gen)
        self.codes[slot] = code / code.norm()
        self.keys[slot] = k
        self.used[slot] = True
        self.payload[slot] = payload
        self.net.write(k, self.codes[slot])
        self.writes += 1
        return slot

    def read(self, key, k: int) -> list[tuple[object, float]]:
        """The top-k slots for M(key), with positive scores: (payload, score), best first."""
        scores = self.decode(key)
        k = min(max(1, int(k)), len(self))
        if k == 0:
            return []
        top = torch.topk(scores, k)
        return [(self.payload[i], float(s)) for s, i in zip(top.values.tolist(), top.indices.tolist()) if s > 0]
