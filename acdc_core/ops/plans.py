"""The DCT plans: each of scipy's transforms (types 1-4, every norm, forward or inverse) as a linear
map ``y = post ⊙ C(pre ⊙ x)`` along the last dimension, where ``C`` is one of the four
unnormalised DCTs of scipy (the "backward" norm) and ``pre``/``post`` are diagonal scalings that
hold the normalisation. A :class:`Plan` records the type, the length and the two scalings; its
transpose and its inverse are plans again, so the gradient of a transform is another fast
transform. The operator ``acdc::dct_plan`` (:mod:`acdc_core.ops.library`) runs them.

Each plan runs as: one gather (reorder) -> one real FFT -> one complex multiply -> one gather
(un-reorder). The gathers carry every permutation, reversal and conjugation the algorithm needs, so
no other pass over the data is made (types 2 and 3); the scalings live in the twiddle factors.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch

from ..checks import check_positive_int

_COMPLEX = {torch.float32: torch.complex64, torch.float64: torch.complex128}


@dataclass(frozen=True)
class Plan:
    """The linear map ``y = post ⊙ C_kind(pre ⊙ x)`` along the last dimension, length ``n``.

    ``pre`` and ``post`` are (first, middle, last) entries of a diagonal scaling: the vector
    ``[first, middle, ..., middle, last]``. ``C_kind`` is scipy's unnormalised DCT of that type.
    """

    kind: int
    n: int
    pre: tuple = (1.0, 1.0, 1.0)
    post: tuple = (1.0, 1.0, 1.0)

    def transpose(self) -> Plan:
        """The plan of ``Mᵀ``: what the backward pass applies to the incoming gradient."""
        if self.kind == 1:  # C1ᵀ = W C1 W⁻¹ with W = diag(1, 2, ..., 2, 1)
            return Plan(1, self.n, _mul(self.post, (1.0, 0.5, 1.0)), _mul(self.pre, (1.0, 2.0, 1.0)))
        if self.kind == 2:  # C2ᵀ = C3 diag(2, 1, ..., 1)
            return Plan(3, self.n, _mul(self.post, (2.0, 1.0, 1.0)), self.pre)
        if self.kind == 3:  # C3ᵀ = diag(1/2, 1, ..., 1) C2
            return Plan(2, self.n, self.post, _mul(self.pre, (0.5, 1.0, 1.0)))
        return Plan(4, self.n, self.post, self.pre)  # C4 is symmetric

    def inverse(self) -> Plan:
        """The plan of ``M⁻¹``: C1⁻¹ = C1/(2(n-1)), C2⁻¹ = C3/(2n), C3⁻¹ = C2/(2n), C4⁻¹ = C4/(2n)."""
        scale = 1.0 / (2 * (self.n - 1) if self.kind == 1 else 2 * self.n)
        kind = {1: 1, 2: 3, 3: 2, 4: 4}[self.kind]
        return Plan(kind, self.n, _recip(self.post), tuple(scale / p for p in self.pre))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the plan along the last dimension of ``x`` (float32/float64), no autograd."""
        if x.numel() == 0:  # FFT backends refuse empty batches
            return x.new_empty(x.shape)
        return _KERNELS[self.kind](self, x)


def _mul(a, b):
    return tuple(float(p * q) for p, q in zip(a, b))


def _recip(a):
    return tuple(1.0 / p for p in a)


def plan_for(type: int, n: int, norm: str | None, inverse: bool) -> Plan:
    """scipy.fft.dct's map (or idct's, when ``inverse``) for this type, length and norm."""
    plan = _forward_plan(type, n, norm)
    return plan.inverse() if inverse else plan


def _forward_plan(type: int, n: int, norm: str | None) -> Plan:
    """scipy.fft.dct's map for this type, length and norm."""
    period = 2 * (n - 1) if type == 1 else 2 * n
    if norm in (None, "backward"):
        return Plan(type, n)
    if norm == "forward":
        s = 1.0 / period
        return Plan(type, n, post=(s, s, s))
    s = math.sqrt(1.0 / period)  # "ortho"
    if type == 1:
        r = math.sqrt(2.0)
        return Plan(1, n, pre=(r, 1.0, r), post=(s / r, s, s / r))
    if type == 2:
        return Plan(2, n, post=(s / math.sqrt(2.0), s, s))
    if type == 3:
        return Plan(3, n, pre=(s * math.sqrt(2.0), s, s))
    return Plan(4, n, post=(s, s, s))


# ----------------------------------------------------------------------------------------------
# Per-(plan, dtype, device) constants: gather indices and twiddle factors, built once in float64.

def _makhoul_position(n: int) -> torch.Tensor:
    """p[j]: where x[j] sits in Makhoul's reordering v (evens ascending, then odds descending)."""
    j = torch.arange(n)
    return torch.where(j % 2 == 0, j // 2, n - 1 - j // 2)


def makhoul_order(n: int) -> torch.Tensor:
    """Index ``P`` of Makhoul's reordering: ``v = x[..., P]`` holds the even-indexed entries of x
    ascending, then the odd-indexed ones descending. The real FFT of ``v`` is what every type-2/3
    transform (and a fused ACDC layer) works on."""
    check_positive_int("n", n)
    order = torch.empty(n, dtype=torch.long)
    order[_makhoul_position(n)] = torch.arange(n)
    return order



def unmakhoul(v: torch.Tensor) -> torch.Tensor:
    """Undo :func:`makhoul_order` along the last dimension (no autograd): (..., n) -> (..., n)."""
    n = v.shape[-1]
    h = n // 2
    return _interleave(v[..., : n - h], v[..., n - h:].flip(-1))


def _interleave(evens: torch.Tensor, odds: torch.Tensor) -> torch.Tensor:
    """[e0, o0, e1, o1, ...]; ``evens`` may be one longer than ``odds``."""
    pairs = torch.view_as_real(torch.complex(evens[..., : odds.shape[-1]], odds)).flatten(-2)
    if evens.shape[-1] == odds.shape[-1]:
        return pairs
    return torch.cat([pairs, evens[..., -1:]], -1)


@functools.lru_cache(maxsize=256)
def _constants(plan: Plan, dtype: torch.dtype, device: torch.device):
    n, h = plan.n, plan.n // 2
    cdtype = torch.complex128 if dtype == torch.float64 else torch.complex64
    m = torch.arange(h + 1, dtype=torch.float64)
    if plan.kind == 2:
        # v'[i] = v[-i mod n] makes rfft(v') = conj(rfft(v)), so Re and Im of Z below are y[m]
        # and y[n-m] directly: y = 2 post ⊙ Re(e^{-iπk/2n} V).
        gather_in = makhoul_order(n)[(-torch.arange(n)) % n]
        scale = torch.full((h + 1,), 2.0 * plan.pre[1] * plan.post[1], dtype=torch.float64)
        scale[0] = 2.0 * plan.pre[1] * plan.post[0]
        twiddle = scale * torch.exp(1j * math.pi * m / (2 * n))
        k = torch.arange(n)
        gather_out = torch.where(k <= h, 2 * k, 2 * (n - k) + 1)
    elif plan.kind == 3:
        # U[k] = e^{iπk/2n} (X[k] - i X[n-k]) is the real FFT of Makhoul's v: C3 X = unreorder(irfft U).
        scale = torch.full((h + 1,), plan.pre[1] * plan.post[1], dtype=torch.float64)
        scale[0] = plan.pre[0] * plan.post[1]
        twiddle = scale * torch.exp(1j * math.pi * m / (2 * n))
        if n % 2 == 0:  # U[n/2] ∝ (1 - i) e^{iπ/4}: equal parts keep the Nyquist bin exactly real
            twiddle[h] = scale[h] * complex(math.sqrt(0.5), math.sqrt(0.5))
        return twiddle.to(cdtype).to(device)
    elif plan.kind == 1:
        # Symmetric extension [x0 .. x_{n-1}, x_{n-2} .. x1]: its real FFT is C1 x.
        gather_in = torch.cat([torch.arange(n), torch.arange(n - 2, 0, -1)])
        post = torch.full((n,), plan.post[1] * plan.pre[1], dtype=torch.float64)
        post[0], post[-1] = plan.post[0] * plan.pre[1], plan.post[2] * plan.pre[1]
        ends = (plan.pre[0] / plan.pre[1], plan.pre[2] / plan.pre[1])
        return gather_in.to(device), post.to(dtype=dtype, device=device), ends
    else:
        # C4 x = 2 Re(e^{-iπ(2k+1)/4n} FFT_2n(x ⊙ e^{-iπj/2n})[k]), k < n.
        j = torch.arange(n, dtype=torch.float64)
        before = torch.exp(-1j * math.pi * j / (2 * n))
        after = 2.0 * plan.pre[1] * plan.post[1] * torch.exp(-1j * math.pi * (2 * j + 1) / (4 * n))
        return before.to(cdtype).to(device), after.to(cdtype).to(device)
    return gather_in.to(device), twiddle.to(cdtype).to(device), gather_out.to(device)


def _gather(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    return torch.gather(x, -1, index.expand(*x.shape[:-1], index.numel()))


def _kind2(plan: Plan, x: torch.Tensor) -> torch.Tensor:
    gather_in, twiddle, gather_out = _constants(plan, x.dtype, x.device)
    z = torch.fft.rfft(_gather(x, gather_in))
    z.mul_(twiddle)
    return _gather(torch.view_as_real(z).flatten(-2), gather_out)


def _kind3(plan: Plan, x: torch.Tensor) -> torch.Tensor:
    # Only interleaving moves data here (torch.complex), which runs at copy speed, unlike a gather.
    n, h = plan.n, plan.n // 2
    u = x.new_empty(*x.shape[:-1], h + 1, dtype=_COMPLEX[x.dtype])
    torch.complex(x[..., 1:h + 1], x[..., n - h:].flip(-1).neg_(), out=u[..., 1:])
    u[..., 0] = x[..., 0]
    v = torch.fft.irfft(u.mul_(_constants(plan, x.dtype, x.device)), n=n, norm="forward")
    return unmakhoul(v)


def _kind1(plan: Plan, x: torch.Tensor) -> torch.Tensor:
    gather_in, post, (first, last) = _constants(plan, x.dtype, x.device)
    e = _gather(x, gather_in)
    if first != 1.0:
        e[..., 0] *= first
    if last != 1.0:
        e[..., plan.n - 1] *= last
    return torch.view_as_real(torch.fft.rfft(e))[..., 0] * post


def _kind4(plan: Plan, x: torch.Tensor) -> torch.Tensor:
    before, after = _constants(plan, x.dtype, x.device)
    spectrum = torch.fft.fft(x * before, n=2 * plan.n)[..., : plan.n]
    return torch.view_as_real(spectrum.mul_(after))[..., 0].contiguous()


_KERNELS = {1: _kind1, 2: _kind2, 3: _kind3, 4: _kind4}
