"""Every structured layer, with every option and form, under the tools people use on models:
``torch.compile(fullgraph=True)`` forward and backward, dynamic batch sizes, a ``torch.export``
save/load round trip, ``torch.func`` transforms and ONNX through onnxruntime. Each is checked
against eager mode (or, for ``torch.func``, against loops of ordinary backward passes).

Tolerances: float64 results agree with eager mode to 1e-9 relative to their largest entry (compiled
code may order sums differently); ONNX runs in float32 and must agree within 1e-4 absolute, on
outputs of order one. Most compile cases use the ``aot_eager`` backend (the graph capture and the
traced backward, which is what breaks); the three models of the first report also go through
Inductor.
"""
import io

import pytest
import torch
from torch import nn
from torch.func import functional_call, grad, jacrev, vmap

from acdc_core import ACDC, SeparableACDCConv2d, StackedACDC
from acdc_core.structured import AFDF, Butterfly, Dense, GroupedLinear, LowRank, Monarch, linear_shufflenet
from conftest import randomise

F64 = torch.float64

LAYERS = {
    "acdc": lambda: ACDC(12),
    "acdc-nobias": lambda: ACDC(12, bias=False),
    "acdc-diagonal-bias": lambda: ACDC(12, diagonal_bias=True),
    "acdc-blocks": lambda: ACDC(12, block_size=4),
    "acdc-idct-first": lambda: ACDC(12, order="idct_first"),
    "acdc-riffle": lambda: ACDC(12, parameterisation="riffle"),
    "acdc-transposed": lambda: ACDC(12, transposed=True),
    "acdc-transposed-riffle": lambda: ACDC(12, parameterisation="riffle", transposed=True),
    "acdc-dense": lambda: ACDC(12, form="dense"),
    "stack": lambda: StackedACDC(12, 12, 3),
    "stack-relu-batchnorm": lambda: StackedACDC(12, 12, 3, relu=True, batchnorm=True,
                                                shuffle_last=True, relu_last=True),
    "stack-riffle-permutation": lambda: StackedACDC(12, 12, 3, shuffle="permutation",
                                                    parameterisation="riffle"),
    "stack-adapters": lambda: StackedACDC(10, 14, 2, shuffle="unriffle", bias_placement="last"),
    "stack-shrink-sum-blocks": lambda: StackedACDC(16, 8, 2, shrink="sum", grow="repeat", block_size=4),
    "stack-collapsed": lambda: StackedACDC(12, 12, 3, form="collapsed"),
    "stack-transposed": lambda: StackedACDC(12, 12, 2, transposed=True),
    "afdf": lambda: AFDF(12),
    "grouped": lambda: GroupedLinear(12, 3),
    "shufflenet": lambda: linear_shufflenet(12, 2, 3),
    "low-rank": lambda: LowRank(12, 3),
    "dense": lambda: Dense(12),
    "monarch": lambda: Monarch(16, 4),
    "butterfly": lambda: Butterfly(16),
}
CONVS = {
    f"conv-{form}": (lambda form=form: SeparableACDCConv2d(4, 6, 3, padding=1, n_layers=2, form=form))
    for form in ("fft", "collapsed", "full")
}
CONVS["conv-checkpoint-riffle"] = lambda: SeparableACDCConv2d(4, 6, 3, stride=2, n_layers=2, form="fft",
                                                              checkpoint=True, parameterisation="riffle")
ALL = {**LAYERS, **CONVS}


def build(name, dtype=F64):
    torch.manual_seed(0)
    model = randomise(ALL[name]().to(dtype))
    if hasattr(model, "batchnorms"):
        model.eval()  # running statistics: one graph for training and evaluation would be two
    return model


def example(name, model, batch=5, dtype=F64):
    g = torch.Generator().manual_seed(batch)
    if name.startswith("conv"):
        return torch.randn(batch, 4, 8, 8, generator=g, dtype=dtype)
    return torch.randn(batch, model.in_features, generator=g, dtype=dtype)


def close(got, expected, tol=1e-9):
    return (got - expected).abs().max() <= tol * max(expected.abs().max(), 1.0)


def outputs_and_grads(model, x):
    """The output, and the gradients of a fixed random loss for the input and every parameter."""
    x = x.clone().requires_grad_()
    out = model(x)
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(1), dtype=out.dtype)
    (out * weights).sum().backward()
    grads = [x.grad] + [p.grad for p in model.parameters()]
    model.zero_grad(set_to_none=True)
    return out.detach(), grads


@pytest.mark.parametrize("name", ALL)
def test_compile_fullgraph_forward_and_backward_match_eager(name):
    model = build(name)
    x = example(name, model)
    expected, expected_grads = outputs_and_grads(model, x)
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    out, grads = outputs_and_grads(compiled, x)
    assert close(out, expected)
    for g, e in zip(grads, expected_grads):
        assert close(g, e)


def agrees_with_eager(run, model, name, batches) -> None:
    for batch in batches:
        x = example(name, model, batch)
        with torch.no_grad():
            assert close(run(x), model(x)), batch


@pytest.mark.parametrize("name", ALL)
def test_dynamic_batch_sizes_compile_once_and_match_eager(name):
    from torch._dynamo.testing import CompileCounterWithBackend

    model = build(name)
    torch._dynamo.reset()
    counter = CompileCounterWithBackend("aot_eager")
    compiled = torch.compile(model, fullgraph=True, dynamic=True, backend=counter)
    agrees_with_eager(compiled, model, name, (3,))
    compiles = counter.frame_count
    agrees_with_eager(compiled, model, name, (7, 11, 2))
    assert counter.frame_count == compiles  # no recompilation for other batch sizes


@pytest.mark.parametrize("name", ALL)
def test_export_round_trip_matches_eager(name):
    model = build(name)
    x = example(name, model)
    batch = torch.export.Dim("batch", min=2)
    program = torch.export.export(model, (x,), dynamic_shapes=({0: batch},))
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    buffer.seek(0)
    agrees_with_eager(torch.export.load(buffer).module(), model, name, (5, 9))


@pytest.mark.parametrize("name", ALL)
def test_per_sample_gradients_by_vmap_of_grad_match_a_loop(name):
    model = build(name)
    x = example(name, model, 3)
    params = {k: v.detach() for k, v in model.named_parameters()}
    buffers = dict(model.named_buffers())

    def loss(p, sample):
        return functional_call(model, (p, buffers), (sample[None],)).square().sum()

    per_sample = vmap(grad(loss), in_dims=(None, 0))(params, x)
    for i in range(x.shape[0]):
        model.zero_grad(set_to_none=True)
        model(x[i:i + 1]).square().sum().backward()
        for key, p in model.named_parameters():
            assert close(per_sample[key][i], p.grad), (key, i)


@pytest.mark.parametrize("name", ALL)
def test_jacobian_by_jacrev_matches_one_backward_per_output(name):
    model = build(name)
    x = example(name, model, 2)
    jacobian = jacrev(model)(x)
    out = model(x.requires_grad_())
    for index in range(out.numel()):
        row, = torch.autograd.grad(out.reshape(-1)[index], x, retain_graph=True)
        assert close(jacobian.reshape(out.numel(), -1)[index], row.reshape(-1)), index


INDUCTOR = {
    "linear-acdc-stack-linear": lambda: nn.Sequential(nn.Linear(16, 32), ACDC(32), nn.ReLU(),
                                                       StackedACDC(32, 32, 3), nn.Linear(32, 8)),
    "riffle-relu-stack": lambda: StackedACDC(32, 32, 4, relu=True, parameterisation="riffle"),
    "conv-net": lambda: nn.Sequential(nn.Conv2d(3, 8, 3, padding=1),
                                      SeparableACDCConv2d(8, 16, 3, padding=1, n_layers=2, form="fft"),
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten()),
}


def inductor_model(name):
    torch.manual_seed(0)
    model = INDUCTOR[name]()
    x = torch.randn(6, 3, 8, 8) if name == "conv-net" else torch.randn(6, 16 if name[0] == "l" else 32)
    return model, x


@pytest.mark.parametrize("name", INDUCTOR)
def test_inductor_compiles_the_reported_models_without_a_graph_break(name):
    """float32, the default dtype: agreement within 1e-5 relative to the largest entry."""
    model, x = inductor_model(name)
    expected, expected_grads = outputs_and_grads(model, x)
    torch._dynamo.reset()
    explained = torch._dynamo.explain(model)(x)
    assert explained.graph_count == 1 and explained.graph_break_count == 0, explained.break_reasons
    out, grads = outputs_and_grads(torch.compile(model, fullgraph=True), x)
    assert close(out, expected, 1e-5)
    for g, e in zip(grads, expected_grads):
        assert close(g, e, 1e-5)


@pytest.mark.parametrize("name", list(ALL) + list(INDUCTOR))
def test_onnx_export_runs_in_onnxruntime_within_1e_4(name, tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    pytest.importorskip("onnxscript", reason="the onnx extra is not installed")
    if name in INDUCTOR:
        model, x = inductor_model(name)
    else:
        model = build(name, torch.float32)
        x = example(name, model, dtype=torch.float32)
    model.eval()
    path = tmp_path / "model.onnx"
    torch.onnx.export(model, (x,), str(path), dynamo=True, verbose=False,
                      dynamic_shapes=({0: torch.export.Dim("batch", min=2)},))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for rows in (x.shape[0], 9):
        y = torch.cat([x] * 2)[:rows]
        (got,) = session.run(None, {session.get_inputs()[0].name: y.numpy()})
        with torch.no_grad():
            assert (torch.from_numpy(got) - model(y)).abs().max() <= 1e-4, rows


@pytest.mark.parametrize("name", ["acdc", "stack-relu-batchnorm", "conv-fft"])
def test_compiled_layers_keep_their_precision_rules(name):
    """bfloat16 parameters (computed in float32 on upcast copies) and autocast (float32 out), as in
    eager mode, with the same results."""
    for cast, context in ((torch.bfloat16, None), (torch.float32, torch.bfloat16)):
        model = build(name, cast)
        x = example(name, model, dtype=cast)
        torch._dynamo.reset()
        compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
        with torch.autocast("cpu", dtype=context, enabled=context is not None):
            expected, got = model(x), compiled(x)
        assert got.dtype == expected.dtype
        assert torch.equal(got, expected)
