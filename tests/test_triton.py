"""The Triton kernel of the fused ACDC pass against the torch.fft path and dense products: on CUDA
when present, else on the CPU under the Triton interpreter (TRITON_INTERPRET=1, set before the
kernel module is first imported)."""
import collections
import os
import re

import pytest
import torch

pytest.importorskip("triton")
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

from acdc_core import ACDC, StackedACDC, backend  # noqa: E402
from acdc_core.ops.reference import core_forward, scale_pairs  # noqa: E402
from acdc_core.ops import triton_kernels  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
KERNEL_ENTRIES = ("core_pass", "core_backward", "stack_pass")


def count_launches(monkeypatch) -> collections.Counter:
    """Calls of each kernel entry point of ``triton_kernels`` from now on, by name: the proof that a
    computation ran on the kernel rather than falling back to torch.fft."""
    counts = collections.Counter()
    for name in KERNEL_ENTRIES:
        entry = getattr(triton_kernels, name)
        monkeypatch.setattr(triton_kernels, name,
                            lambda *args, name=name, entry=entry: counts.update([name]) or entry(*args))
    return counts


def _on_the_fft_path(module, x):
    """``module(x)`` on the torch.fft path, and the gradients of the loss sum(y²) for ``x`` and
    each parameter (then cleared): the reference for the kernel's run."""
    with backend.use("torch"):
        y = module(x)
        y.square().sum().backward()
    grads = [x.grad.clone()] + [p.grad.clone() for p in module.parameters()]
    x.grad = None
    module.zero_grad()
    return y, grads


@pytest.mark.parametrize("shape, groups", [((5, 256), None), ((3, 4, 512), 4), ((2, 1024), None),
                                           ((2, 2048), None)])
def test_the_kernel_equals_the_torch_fft_pass(shape, groups):
    torch.manual_seed(0)
    n = shape[-1]
    per = (groups, n) if groups else (n,)
    v = torch.randn(shape, device=DEVICE)
    a, d, b = (torch.randn(per, device=DEVICE) for _ in range(3))
    expected = core_forward(v.double(), a.double(), scale_pairs(d.double()), b.double())
    assert torch.allclose(triton_kernels.core_pass(v, a, d, b).double(), expected, atol=2e-5, rtol=1e-5)
    plain = core_forward(v.double(), torch.ones_like(a).double(), scale_pairs(d.double()), None)
    assert torch.allclose(triton_kernels.core_pass(v, None, d).double(), plain, atol=2e-5, rtol=1e-5)


@pytest.mark.parametrize("block_size", [None, 256])
def test_a_layer_on_the_kernel_matches_its_dense_matrix_and_the_fft_path_gradients(block_size, monkeypatch):
    torch.manual_seed(1)
    layer = ACDC(512, block_size=block_size, bias=True, device=DEVICE)
    with torch.no_grad():
        layer.bias.normal_()
    x = torch.randn(6, 512, device=DEVICE, requires_grad=True)
    reference, grads = _on_the_fft_path(layer, x)
    launches = count_launches(monkeypatch)
    with backend.use("triton"):
        y = layer(x)
        y.square().sum().backward()
    assert launches == {"core_pass": 1, "core_backward": 1}  # every block in one launch each way
    dense = x.detach().double() @ layer.double().effective_weight().T + layer.effective_bias()
    layer.float()
    assert torch.allclose(y.double(), dense, atol=1e-4)
    assert torch.allclose(y, reference, atol=1e-5)
    for ours, theirs in zip([x.grad] + [p.grad for p in layer.parameters()], grads):
        assert torch.allclose(ours, theirs, atol=1e-4, rtol=1e-4)


def test_a_stack_runs_every_layer_on_the_kernel(monkeypatch):
    torch.manual_seed(2)
    stack = StackedACDC(256, 256, 3, relu=True, device=DEVICE)
    x = torch.randn(4, 256, device=DEVICE)
    launches = count_launches(monkeypatch)
    with backend.use("triton"):
        y = stack(x)
    assert launches == {"stack_pass": 1}
    with backend.use("torch"):
        assert torch.allclose(y, stack(x), atol=1e-5)


@pytest.mark.parametrize("module", ["layer", "stack"])
def test_an_empty_batch_takes_the_torch_path_under_the_forced_kernel(module, monkeypatch):
    """No rows launch no kernel (a grid of none); the torch.fft path gives the empty result."""
    layer = ACDC(256, device=DEVICE) if module == "layer" else StackedACDC(256, 256, 3, device=DEVICE)
    for name in KERNEL_ENTRIES:
        monkeypatch.setattr(triton_kernels, name, None)  # a launch would fail: None is not callable
    x = torch.zeros(0, 256, device=DEVICE, requires_grad=True)
    with backend.use("triton"):
        y = layer(x)
        y.sum().backward()
    assert y.shape == (0, 256) and x.grad.shape == (0, 256)
    assert all(torch.equal(p.grad, torch.zeros_like(p)) for p in layer.parameters())


def test_the_backend_switch_and_its_errors():
    v = torch.randn(2, 100)
    rows = torch.randn(2, 256, device=DEVICE)
    assert backend.kernel_for(rows) is (triton_kernels if DEVICE == "cuda" else None)
    with backend.use("torch"):
        assert backend.kernel_for(rows) is None
    with backend.use("triton"), pytest.raises(ValueError, match="power-of-two width in \\[256, 4096\\].*width 100"):
        backend.kernel_for(v)
    with pytest.raises(ValueError, match="backend must be one of"):
        with backend.use("cuda"):
            pass


def test_the_gpu_benchmark_script_runs_and_writes_json(tmp_path):
    """On the CPU the numbers mean nothing; this checks the script a GPU session will run."""
    import json
    import subprocess
    import sys

    out = tmp_path / "gpu.json"
    result = subprocess.run(
        [sys.executable, "benchmarks/gpu_acdc.py", "--device", DEVICE, "--batches", "4", "--sizes", "256",
         "--rounds", "1", "--copy-mb", "4", "--layers", "2", "--json", str(out)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, **({"TRITON_INTERPRET": "1"} if DEVICE == "cpu" else {})},
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "target stack fwd+bwd vs torch.fft stack" in result.stdout
    row = json.loads(out.read_text())["results"][0]
    assert {"ACDC triton fwd", "2-layer stack triton fwd+bwd", "Linear bf16 fwd", "floor: dct fwd"} <= set(row)


def test_bfloat16_rows_are_computed_in_float32_and_differentiable(monkeypatch):
    from acdc_core.ops import acdc_pass

    torch.manual_seed(3)
    v, a, d, b = (torch.randn(shape, device=DEVICE).bfloat16() for shape in ((4, 256), (256,), (256,), (256,)))
    exact = core_forward(v.double(), a.double(), scale_pairs(d.double()), b.double())
    out = triton_kernels.core_pass(v, a, d, b)
    assert out.dtype == torch.bfloat16
    assert torch.allclose(out.double(), exact, atol=0.02 * exact.abs().max().item())  # bf16 output rounding
    leaves = [t.clone().requires_grad_() for t in (v, a, d, b)]
    launches = count_launches(monkeypatch)
    with backend.use("triton"):
        acdc_pass(*leaves).float().square().sum().backward()
    assert launches == {"core_pass": 1, "core_backward": 1}
    assert all(t.grad is not None and t.grad.dtype == torch.bfloat16 and t.grad.isfinite().all() for t in leaves)


@pytest.mark.parametrize("relu, shuffle_last, bias", [(False, False, dict()),
                                                      (True, True, dict(bias_placement="last")),
                                                      (True, False, dict(bias=False))])
def test_a_whole_stack_in_one_launch_matches_the_fft_path_and_its_gradients(relu, shuffle_last, bias,
                                                                             monkeypatch):
    torch.manual_seed(4)
    stack = StackedACDC(256, 256, 4, relu=relu, shuffle_last=shuffle_last, device=DEVICE, **bias)
    for layer in stack.layers:
        if layer.bias is not None:
            torch.nn.init.normal_(layer.bias)
    x = torch.randn(5, 256, device=DEVICE, requires_grad=True)
    reference, grads = _on_the_fft_path(stack, x)
    launches = count_launches(monkeypatch)
    with backend.use("triton"):
        y = stack(x)
        assert launches == {"stack_pass": 1}  # all four layers in one launch
        y.square().sum().backward()
    assert launches == {"stack_pass": 1, "core_backward": 4}  # the backward layer by layer
    assert torch.allclose(y, reference, atol=1e-4)
    for ours, theirs in zip([x.grad] + [p.grad for p in stack.parameters()], grads):
        assert torch.allclose(ours, theirs, atol=1e-3, rtol=1e-4)


def test_the_default_backend_comes_from_the_environment():
    import subprocess
    import sys

    check = "from acdc_core import backend; print(backend._current[0])"
    run = lambda value: subprocess.run([sys.executable, "-c", check], capture_output=True, text=True,
                                       env={**os.environ, "ACDC_BACKEND": value})
    assert run("torch").stdout.strip() == "torch"
    refused = run("cuda")
    assert refused.returncode != 0 and "ACDC_BACKEND must be one of 'auto', 'torch', 'triton'" in refused.stderr


def test_another_tuning_gives_the_same_rows_and_gradients():
    torch.manual_seed(5)
    v, g = torch.randn(5, 256, device=DEVICE), torch.randn(5, 256, device=DEVICE)
    a, d = torch.randn(256, device=DEVICE), torch.randn(256, device=DEVICE)
    steps = torch.stack([torch.randperm(256, device=DEVICE)])
    one = (triton_kernels.core_pass(v, a, d), triton_kernels.core_backward(g, v, a, d),
           triton_kernels.stack_pass(v, torch.stack([a, d]), torch.stack([d, a]), None, steps, True))
    with triton_kernels.tuned(precision="ieee", num_warps=8):
        three = (triton_kernels.core_pass(v, a, d), triton_kernels.core_backward(g, v, a, d),
                 triton_kernels.stack_pass(v, torch.stack([a, d]), torch.stack([d, a]), None, steps, True))
    for ours, theirs in zip(torch.utils._pytree.tree_leaves(three), torch.utils._pytree.tree_leaves(one)):
        assert torch.allclose(ours, theirs, atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="precision must be one of 'ieee', 'tf32x3', 'tf32', got 'fp8'"):
        with triton_kernels.tuned(precision="fp8"):
            pass


def test_auto_takes_the_kernel_only_on_cuda_and_up_to_the_measured_size():
    from types import SimpleNamespace

    def rows(m, n, cuda=True):
        return SimpleNamespace(is_cuda=cuda, numel=lambda: m * n, shape=(m, n), dtype=torch.float32)

    assert backend.kernel_for(rows(1024, 4096)) is triton_kernels
    assert backend.kernel_for(rows(8192, 1024)) is None  # measured no faster than torch.fft there
    assert backend.kernel_for(rows(8, 1024, cuda=False)) is None
    assert backend.kernel_for(rows(8, 100)) is None  # unsupported width


def test_the_kernels_compile_for_hopper_without_a_gpu_and_report_their_resources():
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}  # compile, not interpret
    result = subprocess.run([sys.executable, "benchmarks/triton_resources.py", "fwd:256:tf32:4"],
                            capture_output=True, text=True, timeout=300, env=env,
                            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert result.returncode == 0, result.stderr[-2000:]
    assert re.search(r"fwd +N +256 tf32 +warps 4: \d+ registers, \d+ B spilled, \d+ KiB shared, "
                     r"[1-9]\d* tensor-core instructions", result.stdout)
