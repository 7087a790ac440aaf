"""ACDC and StackedACDC against explicit products of dense matrices, in float64."""
import pytest
import torch

from acdc_core import ACDC, StackedACDC, dct_matrix
from acdc_core.ops import acdc_pass
from acdc_core.shuffle import shuffle_index, unriffle
from conftest import devices, gather_matrix, randomise

F64 = torch.float64


def dense_layer(layer: ACDC):
    """(M, c) with layer(x) == x @ M.T + c, built from diag, DCT-matrix and permutation products."""
    size = layer.block_size
    C = dct_matrix(size, norm="ortho", dtype=F64)  # orthonormal DCT-II; its inverse is C.T
    first, second = (C, C.T) if layer.order == "dct_first" else (C.T, C)
    # the riffle parameterisation: evens then odds of the first transform's coefficients, before D
    P = gather_matrix(unriffle(size)) if layer.parameterisation == "riffle" else torch.eye(size, dtype=F64)
    blocks, offsets = [], []
    for start in range(0, layer.features, size):
        part = slice(start, start + size)
        A, D = torch.diag(layer.a[part]), torch.diag(layer.d[part])
        # the transpose of second·D·P·first·A (first.T is second and second.T is first)
        blocks.append(A @ second @ P.T @ D @ first if layer.transposed else second @ D @ P @ first @ A)
        offset = torch.zeros(size, dtype=F64)
        if layer.a_bias is not None:
            offset = second @ (D @ P @ first @ layer.a_bias[part] + layer.d_bias[part])
        offsets.append(offset)
    M, c = torch.block_diag(*blocks), torch.cat(offsets)
    return M, c if layer.bias is None else c + layer.bias


LAYER_OPTIONS = [dict(), dict(order="idct_first"), dict(parameterisation="riffle"),
                 dict(diagonal_bias=True), dict(bias=False), dict(block_size=4),
                 dict(parameterisation="riffle", order="idct_first", diagonal_bias=True, block_size=4),
                 dict(transposed=True), dict(transposed=True, parameterisation="riffle", block_size=4),
                 dict(transposed=True, parameterisation="riffle", order="idct_first")]


@pytest.mark.parametrize("options", LAYER_OPTIONS, ids=str)
@pytest.mark.parametrize("features", [1, 4, 8, 12, 13])
def test_layer_matches_dense_product(features, options):
    if "block_size" in options and features % options["block_size"]:
        pytest.skip("block size does not divide the width")
    layer = randomise(ACDC(features, dtype=F64, **options))
    x = torch.randn(5, 3, features, dtype=F64)
    M, c = dense_layer(layer)
    torch.testing.assert_close(layer(x), x @ M.T + c, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(layer.effective_weight(), M, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(layer.effective_bias(), c, rtol=1e-12, atol=1e-12)
    dense = randomise(ACDC(features, form="dense", dtype=F64, **options))
    torch.testing.assert_close(dense(x), layer(x), rtol=1e-12, atol=1e-12)


def test_fused_and_composed_forms_agree():
    layer = randomise(ACDC(16, diagonal_bias=True, block_size=8, dtype=F64))
    assert layer.fused
    x = torch.randn(7, 16, dtype=F64)
    torch.testing.assert_close(layer._fft_map(x), layer._composed_map(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("options", LAYER_OPTIONS, ids=str)
def test_layer_gradients(options):
    layer = randomise(ACDC(8, dtype=F64, **options))
    x = torch.randn(3, 8, dtype=F64, requires_grad=True)
    params = tuple(layer.parameters())

    def f(x, *values):
        return torch.func.functional_call(layer, dict(zip([n for n, _ in layer.named_parameters()], values)), (x,))
    assert torch.autograd.gradcheck(f, (x, *params))


def test_core_gradients_odd_and_even_lengths():
    for n in (1, 2, 3, 6, 7):
        args = [torch.randn(shape, dtype=F64, requires_grad=True)
                for shape in ((4, 2, n), (2, n), (2, n), (2, n))]
        assert torch.autograd.gradcheck(acdc_pass, args)


def test_layer_saves_one_features_wide_tensor():
    """At most two are allowed; the core keeps only its input and recomputes the spectrum."""
    layer = ACDC(64)
    x = torch.randn(32, 64, requires_grad=True)
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        layer(x)
    wide = [t for t in saved if t.numel() >= 32 * 64 / 2]
    assert len(wide) == 1, [tuple(t.shape) for t in wide]


@pytest.mark.parametrize("features", [1, 6, 7, 16])
def test_identity_init_is_identity_map(features):
    x = torch.randn(4, features, dtype=F64)
    torch.testing.assert_close(ACDC(features, init="identity", dtype=F64)(x), x)
    stack = StackedACDC(features, features, 5, init="identity", shuffle="none", dtype=F64)
    torch.testing.assert_close(stack(x), x)


def test_initialisations_draw_from_their_distributions():
    layer = ACDC(20000)
    assert abs(layer.a.mean().item() - 1) < 1e-3 and abs(layer.a.std().item() - 1e-2) < 1e-3
    uniform = ACDC(20000, init="uniform")
    assert -1 <= uniform.d.min() < -0.99 and 0.99 < uniform.d.max() <= 1
    assert torch.equal(ACDC(10, init="identity").a, torch.ones(10))
    assert ACDC(10, sigma=0.5).a.std() > 0.1
    assert torch.count_nonzero(layer.bias) == 0


def test_dense_mode_cache_follows_parameter_changes():
    layer = ACDC(8, form="dense", dtype=F64)
    x = torch.randn(2, 8, dtype=F64)
    with torch.no_grad():
        before = layer(x)
        assert layer(x) is not before and layer._dense_cache is not None
        layer.d.mul_(2.0)  # an in-place update, as an optimiser makes
        after = layer(x)
    torch.testing.assert_close(after, layer._fft_map(x) + layer.bias)
    assert not torch.allclose(before, after)
    optimiser = torch.optim.SGD(layer.parameters(), lr=0.1)
    layer(x).sum().backward()  # trains through the dense form
    optimiser.step()
    with torch.no_grad():
        torch.testing.assert_close(layer(x), layer._fft_map(x) + layer.bias)


def dense_stack(stack: StackedACDC):
    """(M, c) of a linear stack, built from the layers' dense products and permutation matrices."""
    n_in, width, padded = stack.in_features, stack.width, stack.padded_width
    if n_in < width and stack.grow == "linear":
        M = torch.cat([torch.eye(n_in, dtype=F64), stack.grow_linear.weight])
        c = torch.zeros(width, dtype=F64)
    elif n_in < width:
        M = torch.eye(n_in, dtype=F64).repeat(-(-width // n_in), 1)[:width]
        c = torch.zeros(width, dtype=F64)
    else:
        M, c = torch.eye(width, dtype=F64), torch.zeros(width, dtype=F64)
    M = torch.cat([M, torch.zeros(padded - width, n_in, dtype=F64)])
    c = torch.cat([c, torch.zeros(padded - width, dtype=F64)])
    for i, layer in enumerate(stack.layers):
        L, b = dense_layer(layer)
        M, c = L @ M, L @ c + b
        if i < stack.n_layers - 1 or stack.shuffle_last:
            S = gather_matrix(getattr(stack, f"shuffle_{i}"))
            M, c = S @ M, S @ c
    M, c = M[:width], c[:width]
    out = stack.out_features
    if out < width and stack.shrink == "linear":
        M = M[:out] + stack.shrink_linear.weight @ M[out:]
        c = c[:out] + stack.shrink_linear.weight @ c[out:]
    elif out < width and stack.shrink == "sum":
        M, c = M.reshape(-1, out, n_in).sum(0), c.reshape(-1, out).sum(0)
    elif out < width:
        M, c = M[:out], c[:out]
    return M, c


STACK_OPTIONS = [dict(), dict(shuffle="permutation"), dict(shuffle="none"), dict(shuffle_last=True),
                 dict(bias_placement="last"), dict(bias=False), dict(block_size=4), dict(block_size=5),
                 dict(parameterisation="riffle"), dict(order="idct_first", shuffle="permutation"),
                 dict(diagonal_bias=True), dict(grow="repeat"), dict(shrink="truncate"),
                 dict(shrink="sum"), dict(transposed=True, parameterisation="riffle")]


@pytest.mark.parametrize("options", STACK_OPTIONS, ids=str)
@pytest.mark.parametrize("sizes", [(12, 12), (7, 12), (12, 4)], ids=str)
def test_linear_stack_matches_dense_product(sizes, options):
    stack = randomise(StackedACDC(*sizes, 4, dtype=F64, **options))
    x = torch.randn(6, sizes[0], dtype=F64)
    M, c = dense_stack(stack)
    torch.testing.assert_close(stack(x), x @ M.T + c, rtol=1e-11, atol=1e-11)
    torch.testing.assert_close(stack.effective_weight(), M, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("options", [dict(relu=True), dict(batchnorm=True), dict(relu=True, batchnorm=True),
                                     dict(relu=True, shuffle_last=True, block_size=3)], ids=str)
def test_fused_stack_equals_layer_by_layer(options):
    stack = randomise(StackedACDC(10, 6, 5, dtype=F64, **options))
    x = torch.randn(8, 10, dtype=F64)
    widened = stack._widen(x)
    for mode in (stack.train, stack.eval):
        mode()
        fused = stack._fused_forward(widened)
        layerwise = stack._layerwise_forward(widened)
        torch.testing.assert_close(fused, layerwise, rtol=1e-12, atol=1e-12)


def test_batchnorm_statistics_update_in_natural_order():
    fused = StackedACDC(8, 8, 3, batchnorm=True, dtype=F64)
    plain = StackedACDC(8, 8, 3, batchnorm=True, parameterisation="riffle", dtype=F64)
    plain.load_state_dict(fused.state_dict())
    plain.layers[0].parameterisation = plain.layers[1].parameterisation = "original"
    plain.layers[2].parameterisation = "original"
    x = torch.randn(16, 8, dtype=F64) * 3 + 1
    fused(x), plain._layerwise_forward(plain._widen(x))
    torch.testing.assert_close(fused.batchnorms[0].running_mean, plain.batchnorms[0].running_mean)
    torch.testing.assert_close(fused.batchnorms[1].running_var, plain.batchnorms[1].running_var)
    assert fused.batchnorms[0].running_mean.abs().sum() > 0


def test_stack_gradients():
    stack = randomise(StackedACDC(6, 5, 3, relu=True, batchnorm=True, dtype=F64))
    names = [n for n, _ in stack.named_parameters()]
    x = torch.randn(7, 6, dtype=F64, requires_grad=True)

    def f(x, *values):
        return torch.func.functional_call(stack, dict(zip(names, values)), (x,))
    assert torch.autograd.gradcheck(f, (x, *stack.parameters()))


def test_exactly_n_layers_and_parameter_count():
    stack = StackedACDC(784, 784, 32)
    assert len(stack.layers) == 32
    assert sum(p.numel() for p in stack.parameters()) == 32 * 3 * 784
    assert repr(stack).startswith("StackedACDC(\n  in_features=784, out_features=784, n_layers=32, "
                                  "shuffle='riffle', relu=False, batchnorm=False, bias=True\n")


def test_state_dict_round_trip_restores_outputs_and_permutations():
    source = randomise(StackedACDC(10, 10, 4, shuffle="permutation", seed=1, batchnorm=True))
    source(torch.randn(16, 10))  # moves the running statistics
    source.eval()
    target = StackedACDC(10, 10, 4, shuffle="permutation", seed=2, batchnorm=True).eval()
    x = torch.randn(3, 10)
    assert not torch.equal(source.shuffle_0, target.shuffle_0)
    target.load_state_dict(source.state_dict())
    assert torch.equal(target.shuffle_0, source.shuffle_0)
    assert torch.equal(target(x), source(x))
    assert torch.equal(shuffle_index("permutation", 10, 5), shuffle_index("permutation", 10, 5))


def test_each_riffle_name_gathers_as_its_permutation_matrix():
    x = torch.arange(8, dtype=F64)
    assert gather_matrix(shuffle_index("riffle", 8)) @ x == pytest.approx([0, 4, 1, 5, 2, 6, 3, 7])
    assert gather_matrix(shuffle_index("unriffle", 8)) @ x == pytest.approx([0, 2, 4, 6, 1, 3, 5, 7])
    for n in (1, 2, 7, 8, 9):  # inverses of each other, odd lengths included
        both = gather_matrix(shuffle_index("riffle", n)) @ gather_matrix(shuffle_index("unriffle", n))
        assert torch.equal(both, torch.eye(n, dtype=F64))
    stack = StackedACDC(8, 8, 3, shuffle="unriffle", shuffle_last=True, init="identity", bias=False, dtype=F64)
    P = gather_matrix(shuffle_index("unriffle", 8))  # identity layers: the stack is the shuffles alone
    assert torch.allclose(stack(x.unsqueeze(0))[0], P @ P @ P @ x, atol=1e-12)


def test_the_uniform_bias_initialisation_is_nn_linears():
    torch.manual_seed(0)
    layer = ACDC(4096, bias_init="uniform")
    bound = 4096 ** -0.5
    bias = layer.bias.detach()
    assert bias.abs().max() <= bound and bias.std().item() == pytest.approx(bound / 3 ** 0.5, rel=0.05)
    assert torch.count_nonzero(ACDC(16).bias) == 0  # the default stays zero
    stack = StackedACDC(16, 16, 3, bias_init="uniform", bias_placement="last")
    assert [layer.bias is not None and bool(layer.bias.any()) for layer in stack.layers] == [False, False, True]
    assert "bias_init='uniform'" in repr(stack)


@pytest.mark.parametrize("device", devices())
def test_moving_between_dtypes_and_devices(device):
    stack = StackedACDC(16, 16, 3, shuffle="permutation", dtype=F64)
    layer = ACDC(16, form="dense", dtype=F64)
    x = torch.randn(4, 16, dtype=F64)
    reference_stack, reference_layer = stack(x), layer(x)
    for dtype in (torch.float32, F64):
        stack.to(device=device, dtype=dtype), layer.to(device=device, dtype=dtype)
        moved = x.to(device=device, dtype=dtype)
        tolerance = 1e-5  # float64 again after float32 keeps the float32-rounded parameters
        torch.testing.assert_close(stack(moved).cpu().double(), reference_stack, rtol=tolerance, atol=tolerance)
        with torch.no_grad():
            torch.testing.assert_close(layer(moved).cpu().double(), reference_layer, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("make, call, error, words", [
    (lambda: ACDC(8), lambda m: m(torch.randn(2, 7)), ValueError, r"expects input of shape \(\*, 8\), got \(2, 7\)"),
    (lambda: ACDC(8), lambda m: m(torch.ones(2, 8, dtype=torch.long)), TypeError, "floating-point tensor, got torch.int64"),
    (lambda: ACDC(8), lambda m: m(torch.randn(2, 8, dtype=F64)), RuntimeError, "does not match"),
    (lambda: ACDC(8, init="zeros"), None, ValueError, "init must be one of 'normal', 'identity', 'uniform', got 'zeros'"),
    (lambda: ACDC(8, order="inverse"), None, ValueError, "order must be one of"),
    (lambda: ACDC(8, parameterisation="shuffled"), None, ValueError, "parameterisation must be one of"),
    (lambda: ACDC(8, form="sparse"), None, ValueError, "form must be one of"),
    (lambda: ACDC(8, block_size=3), None, ValueError, "block_size must divide features=8, got 3"),
    (lambda: ACDC(0), None, ValueError, "features must be a positive int"),
    (lambda: StackedACDC(8, 8, 2, shuffle="random"), None, ValueError, "shuffle must be one of 'riffle', 'unriffle', 'permutation', 'none'"),
    (lambda: StackedACDC(8, 8, 0), None, ValueError, "n_layers must be a positive int"),
    (lambda: StackedACDC(8, 8, 2, block_size=16), None, ValueError, "block_size must be an int from 1 to the working width 8"),
    (lambda: StackedACDC(10, 4, 2, shrink="sum"), None, ValueError, "divisible"),
    (lambda: StackedACDC(8, 8, 2, bias_placement="first"), None, ValueError, "bias_placement must be one of"),
    (lambda: StackedACDC(8, 4, 2), lambda m: m(torch.randn(3, 4)), ValueError, r"expects input of shape \(\*, 8\)"),
    (lambda: StackedACDC(8, 8, 2, relu=True), lambda m: m.effective_weight(), ValueError, "ReLU"),
    (lambda: StackedACDC(8, 8, 2, batchnorm=True), lambda m: m.effective_weight(), ValueError, "training mode"),
])
def test_bad_input_is_refused_clearly(make, call, error, words):
    with pytest.raises(error, match=words):
        module = make()
        call(module)


def test_stack_bias_is_a_flag_as_nn_linear_and_its_placement_an_option():
    assert all(layer.bias is not None for layer in StackedACDC(8, 8, 3).layers)
    assert all(layer.bias is None for layer in StackedACDC(8, 8, 3, bias=False).layers)
    last = StackedACDC(8, 8, 3, bias_placement="last")
    assert [layer.bias is not None for layer in last.layers] == [False, False, True]
    assert "bias=True, bias_placement='last'" in repr(last)
    assert all(layer.bias is None for layer in StackedACDC(8, 8, 3, bias=False, bias_placement="last").layers)
