"""Discrete cosine transforms of types 1-4 for PyTorch, with scipy.fft's numbers and fast gradients.

Every transform is a linear map ``y = post ⊙ C(pre ⊙ x)`` where ``C`` is one of the four unnormalised
DCTs of scipy (the "backward" norm) and ``pre``/``post`` are diagonal scalings that hold the
normalisation. A :class:`Plan` records the type, the length and the two scalings; its transpose and
its inverse are plans again, so the gradient of a transform is another fast transform.

Each plan runs as: one gather (reorder) -> one real FFT -> one complex multiply -> one gather
(un-reorder). The gathers carry every permutation, reversal and conjugation the algorithm needs, so
no other pass over the data is made (types 2 and 3); the scalings live in the twiddle factors.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch

from .checks import check_choice, check_int, check_positive_int

__all__ = ["dct", "idct", "dctn", "idctn", "dct_matrix", "makhoul_order", "from_makhoul", "Plan"]

_TYPES = (1, 2, 3, 4)
_NORMS = (None, "backward", "ortho", "forward")
_COMPUTED = (torch.float32, torch.float64)
_WIDENED = (torch.float16, torch.bfloat16)
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


@functools.lru_cache(maxsize=512)
def _plan(type: int, n: int, norm: str | None, inverse: bool) -> Plan:
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


def from_makhoul(v: torch.Tensor) -> torch.Tensor:
    """Undo :func:`makhoul_order` along the last dimension. Differentiable, saving nothing."""
    return _FromMakhoul.apply(v)


class _FromMakhoul(torch.autograd.Function):
    """Forward by interleaving (at copy speed); backward by gathering into Makhoul order."""

    @staticmethod
    def forward(ctx, v):
        n = v.shape[-1]
        h = n // 2
        return _interleave(v[..., : n - h], v[..., n - h:].flip(-1))

    @staticmethod
    def backward(ctx, grad):
        index = _cached_makhoul_order(grad.shape[-1], grad.device)
        return torch.gather(grad, -1, index.expand(*grad.shape[:-1], index.numel()))


@functools.lru_cache(maxsize=64)
def _cached_makhoul_order(n: int, device: torch.device) -> torch.Tensor:
    return makhoul_order(n).to(device)


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
    return from_makhoul(v)


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


class _Transform(torch.autograd.Function):
    """A plan as an autograd function: the backward applies the transposed plan (no saved tensors)."""

    @staticmethod
    def forward(ctx, x, plan):
        ctx.plan = plan
        return plan(x)

    @staticmethod
    def backward(ctx, grad):
        return _Transform.apply(grad, ctx.plan.transpose()), None


def counted() -> bool:
    """True inside a TorchDispatchMode (``FlopCounterMode``, ``FakeTensorMode``, ...). The
    transforms then run as the custom operators ``acdc::dct_plan`` and ``acdc::acdc_core`` (see
    :mod:`acdc_core.flops`), so the mode sees each as one operation with a known cost; outside a
    mode the same kernels run without the dispatcher's round trip (about 40 µs per call)."""
    return torch._C._len_torch_dispatch_stack() > 0


def _plan_of(kind: int, n: int, scales) -> Plan:
    return Plan(kind, n, tuple(scales[:3]), tuple(scales[3:]))


@torch.library.custom_op("acdc::dct_plan", mutates_args=())
def plan_op(x: torch.Tensor, kind: int, scales: list[float]) -> torch.Tensor:
    """``Plan(kind, n, scales[:3], scales[3:])`` applied along the last dimension of ``x``."""
    return _plan_of(kind, x.shape[-1], scales)(x)


@plan_op.register_fake
def _(x, kind, scales):
    return torch.empty_like(x)


def _plan_op_context(ctx, inputs, output):
    ctx.kind, ctx.scales = inputs[1], inputs[2]


def _plan_op_backward(ctx, grad):
    transposed = _plan_of(ctx.kind, grad.shape[-1], ctx.scales).transpose()
    return plan_op(grad, transposed.kind, [*transposed.pre, *transposed.post]), None, None


plan_op.register_autograd(_plan_op_backward, setup_context=_plan_op_context)


# ----------------------------------------------------------------------------------------------
# Public functions: argument checks, then one _Transform per dimension.

def _check_input(x) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dtype not in _COMPUTED + _WIDENED:
        raise TypeError(
            f"x must be a real floating tensor (float16, bfloat16, float32 or float64), got {x.dtype}")


def _check_options(type, norm) -> None:
    check_choice("type", type, _TYPES)
    check_choice("norm", norm, _NORMS)


def _check_dim(dim, ndim: int) -> int:
    """``dim`` as an index in 0..ndim-1."""
    check_int("dim", dim)
    if ndim == 0 or not -ndim <= dim < ndim:
        allowed = f"{-ndim}..{ndim - 1}" if ndim else "none: x is 0-dimensional"
        raise IndexError(f"dim {dim} is out of range for a tensor with {ndim} dimensions "
                         f"(allowed: {allowed})")
    return dim % ndim


def _resize(x: torch.Tensor, dim: int, n) -> torch.Tensor:
    """Truncate or zero-pad x along dim to length n, as scipy does."""
    if n is None:
        return x
    check_positive_int("n", n)
    size = x.shape[dim]
    if n == size:
        return x
    if n < size:
        return x.narrow(dim, 0, n)
    pad = [0, 0] * (x.ndim - 1 - dim) + [0, n - size]
    return torch.nn.functional.pad(x, pad)


def _check_length(type: int, length: int, dim: int, n) -> None:
    """scipy refuses a transform of no points, and type 1 (period 2(N-1)) of one point."""
    minimum = 2 if type == 1 else 1
    if length < minimum:
        given = f"n={n}" if n is not None else f"x.shape[{dim}]={length} and n=None"
        raise ValueError(f"the type {type} DCT needs a length of at least {minimum} along dim {dim}, "
                         f"got {given}")


def _transform(x, type, n, dim, norm, inverse: bool) -> torch.Tensor:
    """One checked input, type and norm along one dimension (dim and n checked here)."""
    dim = _check_dim(dim, x.ndim)
    x = _resize(x, dim, n)
    length = x.shape[dim]
    _check_length(type, length, dim, n)
    plan = _plan(type, length, norm, inverse)
    work = x if x.dtype in _COMPUTED else x.float()
    if dim != x.ndim - 1:
        work = work.movedim(dim, -1)
    if counted():
        y = plan_op(work, plan.kind, [*plan.pre, *plan.post])
    elif torch.is_grad_enabled() and work.requires_grad:
        y = _Transform.apply(work, plan)
    else:  # no graph to record: skip the autograd.Function machinery
        y = plan(work)
    if dim != x.ndim - 1:
        y = y.movedim(-1, dim)
    return y if y.dtype == x.dtype else y.to(x.dtype)


def dct(x: torch.Tensor, type: int = 2, n: int | None = None, dim: int = -1,
        norm: str | None = None) -> torch.Tensor:
    """Discrete cosine transform of ``x`` along ``dim``: the numbers of ``scipy.fft.dct``.

    Parameters
    ----------
    x : Tensor
        Real input, any shape, float16/bfloat16/float32/float64, CPU or CUDA.
    type : {1, 2, 3, 4}
        The DCT type (see Notes). Default 2.
    n : int, optional
        Length of the transform: ``x`` is truncated or zero-padded along ``dim`` to ``n``.
    dim : int
        Dimension to transform. Default -1.
    norm : {None, "backward", "ortho", "forward"}
        Normalisation. None and "backward" leave the forward transform unscaled, "forward" scales
        it by 1/(2N) (1/(2(N-1)) for type 1), "ortho" makes the transform orthonormal.

    Returns
    -------
    Tensor
        Same shape as ``x`` except ``n`` along ``dim``; same dtype and device. Differentiable: the
        gradient is the transposed transform, computed by the same fast path.

    Raises
    ------
    TypeError
        ``x`` is not a real floating tensor (integer, boolean, complex); ``n`` or ``dim`` is not
        an int.
    ValueError
        Unknown ``type`` (an int from 1 to 4) or ``norm``, ``n < 1``, a length of 0 along ``dim``
        (scipy refuses it too), or a type-1 length below 2.
    IndexError
        ``dim`` is out of range.

    See Also
    --------
    idct, dctn, dct_matrix

    Notes
    -----
    With ``N`` the length and ``norm=None``:

    - type 1: ``y[k] = x[0] + (-1)^k x[N-1] + 2 Σ_{n=1}^{N-2} x[n] cos(π k n / (N-1))``
    - type 2: ``y[k] = 2 Σ_{n=0}^{N-1} x[n] cos(π k (2n+1) / (2N))``
    - type 3: ``y[k] = x[0] + 2 Σ_{n=1}^{N-1} x[n] cos(π n (2k+1) / (2N))``
    - type 4: ``y[k] = 2 Σ_{n=0}^{N-1} x[n] cos(π (2n+1)(2k+1) / (4N))``

    With ``norm="ortho"`` type 2 scales ``y[0]`` by ``sqrt(1/(4N))`` and the rest by
    ``sqrt(1/(2N))``; type 3 is its transpose; type 1 also scales ``x[0], x[N-1]`` by √2 and
    ``y[0], y[N-1]`` by 1/√2 (scipy's ``orthogonalize=True``). All run in O(N log N) through one
    real FFT (types 1 and 4 through one FFT of length 2(N-1) or 2N).

    Examples
    --------
    >>> x = torch.tensor([4.0, 3.0, 5.0, 10.0])
    >>> dct(x, norm="ortho")
    tensor([11.0000, -4.4609,  3.0000, -0.3170])
    >>> torch.allclose(idct(dct(x)), x)
    True
    """
    _check_input(x)
    _check_options(type, norm)
    return _transform(x, type, n, dim, norm, inverse=False)


def idct(x: torch.Tensor, type: int = 2, n: int | None = None, dim: int = -1,
         norm: str | None = None) -> torch.Tensor:
    """Inverse discrete cosine transform of ``x`` along ``dim``: the numbers of
    ``scipy.fft.idct``, so that ``idct(dct(x, type, norm=norm), type, norm=norm) == x``.

    Parameters
    ----------
    x : Tensor
        Real input, any shape, float16/bfloat16/float32/float64, CPU or CUDA.
    type : {1, 2, 3, 4}
        The type of the DCT this inverts. Default 2. The inverse of type 2 is a scaled type 3,
        of type 3 a scaled type 2; types 1 and 4 are their own inverses up to scale.
    n : int, optional
        Length of the transform: ``x`` is truncated or zero-padded along ``dim`` to ``n``.
    dim : int
        Dimension to transform. Default -1.
    norm : {None, "backward", "ortho", "forward"}
        Normalisation, paired with :func:`dct`'s: with None or "backward" the inverse carries
        the factor 1/(2N) (1/(2(N-1)) for type 1), with "forward" none, with "ortho" it is the
        orthonormal transform's transpose.

    Returns
    -------
    Tensor
        Same shape as ``x`` except ``n`` along ``dim``; same dtype and device. Differentiable
        through the transposed transform, on the same fast path.

    Raises
    ------
    TypeError, ValueError, IndexError
        As :func:`dct`.

    See Also
    --------
    dct, idctn, dct_matrix

    Examples
    --------
    >>> x = torch.tensor([4.0, 3.0, 5.0, 10.0])
    >>> y = dct(x)
    >>> y
    tensor([ 44.0000, -12.6173,   8.4853,  -0.8967])
    >>> torch.allclose(idct(y), x)
    True
    >>> x = torch.randn(3, 8, dtype=torch.float64)
    >>> torch.allclose(idct(dct(x, type=4, norm="ortho"), type=4, norm="ortho"), x)
    True
    """
    _check_input(x)
    _check_options(type, norm)
    return _transform(x, type, n, dim, norm, inverse=True)


def _as_list(name: str, value) -> list:
    """scipy's ``s`` or ``axes``: an int or a sequence of them, as a list."""
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    if not isinstance(value, (tuple, list)):
        raise TypeError(f"{name} must be an int or a sequence of ints, got {value!r} "
                        f"({type(value).__name__})")
    return list(value)


def _length(i: int, n):
    """Entry ``i`` of ``s``: a length >= 1, or -1 (None here) to keep the dimension's, as scipy."""
    if isinstance(n, int) and not isinstance(n, bool) and n == -1:
        return None
    check_positive_int(f"s[{i}]", n)
    return n


def _dims(x: torch.Tensor, s, dim) -> list[int]:
    """The dimensions to transform: ``dim``, else the last ``len(s)``, else all."""
    if dim is None:
        count = x.ndim if s is None else len(s)
        if count > x.ndim:
            raise ValueError(f"s gives {count} lengths but x has {x.ndim} dimensions, got s={s}")
        return list(range(x.ndim - count, x.ndim))
    dim = _as_list("dim", dim)
    dims = [_check_dim(d, x.ndim) for d in dim]
    if len(set(dims)) != len(dims):
        raise ValueError(f"dim must not repeat a dimension, got {dim}")
    return dims


def _transform_n(x, type, s, dim, norm, inverse: bool) -> torch.Tensor:
    _check_input(x)
    _check_options(type, norm)
    s = None if s is None else _as_list("s", s)
    dims = _dims(x, s, dim)
    lengths = [None] * len(dims) if s is None else [_length(i, n) for i, n in enumerate(s)]
    if len(lengths) != len(dims):
        raise ValueError(f"s and dim must have the same length, got s={s} and dim={dims}")
    for d, n in zip(dims, lengths):
        x = _transform(x, type, n, d, norm, inverse)
    return x


def dctn(x: torch.Tensor, type: int = 2, s=None, dim=None, norm: str | None = None) -> torch.Tensor:
    """N-dimensional discrete cosine transform of ``x``: the numbers of ``scipy.fft.dctn``, one
    :func:`dct` along each dimension in ``dim``.

    Parameters
    ----------
    x : Tensor
        Real input, any shape, float16/bfloat16/float32/float64, CPU or CUDA.
    type : {1, 2, 3, 4}
        The DCT type, the same along every dimension. Default 2.
    s : int or sequence of ints, optional
        Length of the transform along each dimension of ``dim``: truncate or zero-pad, -1 keeps
        the dimension's length. Default: every length kept.
    dim : int or sequence of ints, optional
        Dimensions to transform, each once. Default: the last ``len(s)`` when ``s`` is given,
        else all of them.
    norm : {None, "backward", "ortho", "forward"}
        Normalisation along each dimension, as :func:`dct`'s.

    Returns
    -------
    Tensor
        Same shape as ``x`` except the lengths ``s`` along ``dim``; same dtype and device.
        Differentiable.

    Raises
    ------
    TypeError
        ``x`` is not a real floating tensor; ``s`` or ``dim`` is not an int or a sequence of ints.
    ValueError
        Unknown ``type`` or ``norm``; a length below 1 (other than -1); ``s`` and ``dim`` of
        different lengths, or ``s`` longer than ``x`` has dimensions; a repeated dimension.
    IndexError
        A dimension of ``dim`` is out of range.

    See Also
    --------
    idctn, dct

    Examples
    --------
    >>> image = torch.arange(12.0).reshape(3, 4)
    >>> dctn(image, norm="ortho")[0, 0]  # the mean times sqrt(12)
    tensor(19.0526)
    >>> torch.allclose(dctn(image), dct(dct(image, dim=0), dim=1))
    True
    """
    return _transform_n(x, type, s, dim, norm, inverse=False)


def idctn(x: torch.Tensor, type: int = 2, s=None, dim=None, norm: str | None = None) -> torch.Tensor:
    """N-dimensional inverse discrete cosine transform of ``x``: the numbers of
    ``scipy.fft.idctn``, one :func:`idct` along each dimension in ``dim``, so that
    ``idctn(dctn(x, type, norm=norm), type, norm=norm) == x``.

    Parameters
    ----------
    x : Tensor
        Real input, any shape, float16/bfloat16/float32/float64, CPU or CUDA.
    type : {1, 2, 3, 4}
        The type of the DCT this inverts, the same along every dimension. Default 2.
    s : int or sequence of ints, optional
        Length of the transform along each dimension of ``dim`` (truncate or zero-pad; -1 keeps
        the length).
    dim : int or sequence of ints, optional
        Dimensions to transform. Default: the last ``len(s)`` when ``s`` is given, else all.
    norm : {None, "backward", "ortho", "forward"}
        Normalisation along each dimension, as :func:`idct`'s.

    Returns
    -------
    Tensor
        Same shape as ``x`` except the lengths ``s`` along ``dim``; same dtype and device.
        Differentiable.

    Raises
    ------
    TypeError, ValueError, IndexError
        As :func:`dctn`.

    See Also
    --------
    dctn, idct

    Examples
    --------
    >>> volume = torch.randn(2, 3, 5, dtype=torch.float64)
    >>> torch.allclose(idctn(dctn(volume, type=1), type=1), volume)
    True
    >>> idctn(volume, s=(4, 8), dim=(0, 2)).shape  # zero-padded along dims 0 and 2
    torch.Size([4, 3, 8])
    """
    return _transform_n(x, type, s, dim, norm, inverse=True)


def dct_matrix(n: int, type: int = 2, norm: str | None = None, dtype: torch.dtype | None = None,
               device=None) -> torch.Tensor:
    """The dense ``(n, n)`` matrix ``M`` with ``dct(x, type, norm=norm) == M @ x`` (``x`` of length n).

    ``norm`` defaults to :func:`dct`'s (None, unnormalised); ``norm="ortho"`` gives the orthonormal
    matrix of the ACDC layers. Built in float64 and cast to ``dtype``, a real floating dtype
    (default: torch's default dtype), on ``device``; equal to
    ``scipy.fft.dct(numpy.eye(n), type, axis=0, norm=norm)``.
    """
    check_positive_int("n", n)
    dtype = torch.get_default_dtype() if dtype is None else dtype
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a real floating torch.dtype such as torch.float64 (an "
                        f"integer, bool or complex one would not hold the matrix), got {dtype!r}")
    eye = torch.eye(n, dtype=torch.float64)
    m = dct(eye, type=type, dim=0, norm=norm)
    return m.to(dtype=dtype, device=device)
