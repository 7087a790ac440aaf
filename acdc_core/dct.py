"""Discrete cosine transforms of types 1-4 for PyTorch, with scipy.fft's numbers and fast gradients.

Each call checks its arguments, then runs one operator ``acdc::dct_plan`` per dimension: the
transform's :class:`~acdc_core.ops.plans.Plan`, whose gradient is the transposed plan (see
:mod:`acdc_core.ops`). The operator is what ``torch.compile``, ``torch.export``, ``torch.func`` and
``FlopCounterMode`` see.
"""
from __future__ import annotations

import torch

from .checks import check_choice, check_int, check_positive_int
from .ops import dct_plan
from .ops.plans import Plan, makhoul_order, plan_for, unmakhoul

__all__ = ["dct", "idct", "dctn", "idctn", "dct_matrix", "makhoul_order", "from_makhoul", "Plan"]

_TYPES = (1, 2, 3, 4)
_NORMS = (None, "backward", "ortho", "forward")
_COMPUTED = (torch.float32, torch.float64)
_WIDENED = (torch.float16, torch.bfloat16)


def from_makhoul(v: torch.Tensor) -> torch.Tensor:
    """Undo :func:`makhoul_order` along the last dimension. Differentiable, saving nothing."""
    return _FromMakhoul.apply(v)


class _FromMakhoul(torch.autograd.Function):
    """Forward by interleaving, backward by splitting into evens and reversed odds (both at copy
    speed)."""
    generate_vmap_rule = True

    @staticmethod
    def forward(v):
        return unmakhoul(v)

    @staticmethod
    def setup_context(ctx, inputs, output):
        pass

    @staticmethod
    def backward(ctx, grad):
        return torch.cat([grad[..., 0::2], grad[..., 1::2].flip(-1)], -1)


# ----------------------------------------------------------------------------------------------
# Public functions: argument checks, then one operator per dimension.

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
    plan = plan_for(type, length, norm, inverse)
    work = x if x.dtype in _COMPUTED else x.float()
    if dim != x.ndim - 1:
        work = work.movedim(dim, -1)
    y = dct_plan(work, plan)
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
