"""What the Triton kernels cost a Hopper GPU's multiprocessor, found without a GPU: each kernel
is compiled for sm_90 here, then Triton's bundled ptxas reports registers, spills and shared memory.
Spills (local-memory traffic) and shared memory over the 227 KiB a program may use are what to
look for before spending device time.

    python benchmarks/triton_resources.py [fwd|grad|dgrad|stack]:N:PRECISION:WARPS ...
    e.g. python benchmarks/triton_resources.py fwd:4096:tf32x3:4 grad:4096:tf32x3:4
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import tempfile
import time

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from acdc_core.ops import triton_kernels

BIN = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin")
HOPPER = GPUTarget("cuda", 90, 32)
KERNELS = {  # kernel, its pointer arguments, its integer arguments, its other constexprs
    "fwd": (triton_kernels._acdc_kernel, "v out a bias p q t", "G", dict(HAS_A=True, HAS_BIAS=True)),
    "grad": (triton_kernels._gradient_kernel, "g x a p q grad_x grad_a t", "G", {}),
    "dgrad": (triton_kernels._diagonal_gradient_kernel, "g x a grad_d t", "G", {}),
    "stack": (triton_kernels._stack_kernel, "v saved steps a bias p q t", "M K", dict(RELU=True, HAS_BIAS=True)),
}


def resources(kind: str, n: int, precision: str, warps: int) -> dict:
    """Compile one kernel for sm_90; its registers per thread, spill bytes, shared memory bytes,
    count of tensor-core instructions in the PTX, and compile seconds."""
    if kind not in KERNELS:
        raise ValueError(f"kernel must be one of {', '.join(KERNELS)}, got {kind!r}")
    fn, pointers, integers, constants = KERNELS[kind]
    signature = {f"{p}_ptr": "*i32" if p == "steps" else "*fp32" for p in pointers.split()}
    signature.update({i: "i32" for i in integers.split()})
    n1, n2 = triton_kernels._split(n)
    constants = dict(constants, N1=n1, N2=n2, PRECISION=precision)
    signature.update({name: "constexpr" for name in constants})
    start = time.perf_counter()
    compiled = triton.compile(ASTSource(fn, signature, constants), target=HOPPER,
                              options=dict(num_warps=warps))
    seconds = time.perf_counter() - start
    ptx = compiled.asm["ptx"]
    with tempfile.TemporaryDirectory() as folder:
        source = os.path.join(folder, "kernel.ptx")
        with open(source, "w") as f:
            f.write(ptx)
        report = _ptxas_report(source)
    return {"registers": int(re.search(r"Used (\d+) registers", report).group(1)),
            "spill_bytes": int(re.search(r"(\d+) bytes spill stores", report).group(1)),
            "shared_bytes": compiled.metadata.shared,
            "mma_instructions": len(re.findall(r"wgmma\.mma_async|mma\.sync", ptx)),
            "compile_s": seconds}


def _ptxas_report(source: str) -> str:
    """ptxas -v's report on a PTX file, from the first of Triton's bundled assemblers that takes
    its PTX version (triton 3.9 writes PTX that only its newer ``ptxas-blackwell`` reads)."""
    errors = []
    for name in ("ptxas", "ptxas-blackwell"):
        run = subprocess.run([os.path.join(BIN, name), "-v", "--gpu-name", "sm_90a", source, "-o",
                              source + ".cubin"], capture_output=True, text=True)
        if run.returncode == 0:
            return run.stderr
        errors.append(f"{name}: {run.stderr.strip()}")
    raise RuntimeError("no bundled ptxas assembled the kernel: " + "; ".join(errors))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("specs", nargs="+", metavar="KERNEL:N:PRECISION:WARPS")
    for spec in parser.parse_args(argv).specs:
        kind, n, precision, warps = spec.split(":")
        r = resources(kind, int(n), precision, int(warps))
        print(f"{kind:5s} N {int(n):5d} {precision:6s} warps {warps}: {r['registers']} registers, "
              f"{r['spill_bytes']} B spilled, {r['shared_bytes'] / 1024:.0f} KiB shared, "
              f"{r['mma_instructions']} tensor-core instructions, compiled in {r['compile_s']:.1f} s")


if __name__ == "__main__":
    main()
