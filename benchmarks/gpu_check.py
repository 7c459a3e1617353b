"""Check minidl on a real GPU with CuPy: run the engine's tests there and time the MLP steps.

    python benchmarks/gpu_check.py [--out DIR]

Writes ``gpu_check.json`` and ``gpu_check.md`` into DIR (default: benchmarks/): the GPU's
name, the CuPy and driver versions, the test summary, and the MLP step times on the GPU
next to the same steps on the CPU (NumPy) and, when PyTorch sees the GPU, PyTorch CUDA.
On a machine without a usable GPU it says so and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ENGINE_TESTS = [
    "tests/test_engine_gradients.py", "tests/test_engine_semantics.py", "tests/test_nn.py", "tests/test_losses.py",
    "tests/test_backend.py", "tests/test_optim_classes.py", "tests/test_optim_closed_forms.py", "tests/test_conv.py",
    "tests/test_quant_formulas.py", "tests/test_quant_fake_quant.py", "tests/test_distill_losses.py",
    "tests/test_prune_criteria.py", "tests/test_data_backends.py",
]
CASES = [([784, 256, 128, 10], 128), ([64, 128, 10], 32), ([784, 2048, 2048, 10], 1024)]


def gpu_description() -> dict[str, object]:
    import cupy

    props = cupy.cuda.runtime.getDeviceProperties(0)
    name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    return {"gpu": name, "cupy": cupy.__version__, "cuda_runtime": cupy.cuda.runtime.runtimeGetVersion(),
            "driver": cupy.cuda.runtime.driverGetVersion(),
            "memory_gib": round(props["totalGlobalMem"] / 2**30, 1)}


def run_tests() -> dict[str, object]:
    existing = [t for t in ENGINE_TESTS if (ROOT / t).exists()]
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--backend=cupy",
                           *existing], cwd=ROOT, capture_output=True, text=True)
    summary = (proc.stdout.strip().splitlines() or ["(no output)"])[-1]
    failures = [line for line in proc.stdout.splitlines() if line.startswith("FAILED")]
    return {"files": existing, "returncode": proc.returncode, "summary": summary,
            "failures": failures[:30], "seconds": round(time.perf_counter() - start, 1)}


def time_steps(rounds: int = 7) -> list[dict[str, object]]:
    import numpy as np

    import minidl
    from minidl import backend, nn, optim

    def make_step(name: str, sizes: list[int], batch: int):
        with backend.use(name):
            minidl.manual_seed(0)
            model = nn.MLP(sizes)
            opt = optim.SGD(model.parameters(), lr=0.01)
            rng = np.random.default_rng(0)
            x = minidl.tensor(rng.standard_normal((batch, sizes[0])).astype(np.float32))
            y = minidl.tensor(rng.integers(0, sizes[-1], batch))

        def step() -> None:
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()

        return step, name

    def torch_step(sizes: list[int], batch: int):
        try:
            import torch
        except ImportError:
            return None
        if not torch.cuda.is_available():
            return None
        layers = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(torch.nn.Linear(a, b))
            if i < len(sizes) - 2:
                layers.append(torch.nn.ReLU())
        model = torch.nn.Sequential(*layers).cuda()
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        x = torch.randn(batch, sizes[0], device="cuda")
        y = torch.randint(0, sizes[-1], (batch,), device="cuda")

        def step() -> None:
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()

        return step, torch.cuda.synchronize

    results = []
    for sizes, batch in CASES:
        candidates = {}
        for name in ("numpy", "cupy"):
            step, _ = make_step(name, sizes, batch)
            sync = backend._load(name).synchronize
            candidates[f"minidl {name}"] = (step, sync)
        t = torch_step(sizes, batch)
        if t is not None:
            candidates["PyTorch CUDA"] = t
        times: dict[str, list[float]] = {k: [] for k in candidates}
        for fn, sync in candidates.values():
            for _ in range(5):
                fn()
            sync()
        number = 20 if sizes[1] > 1000 else 200
        for _ in range(rounds):
            for k, (fn, sync) in candidates.items():
                time.sleep(0.05)
                sync()
                start = time.perf_counter()
                for _ in range(number):
                    fn()
                sync()
                times[k].append((time.perf_counter() - start) / number)
        med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
        results.append({"network": "-".join(map(str, sizes)), "batch": batch,
                        "median_us": {k: round(v * 1e6, 1) for k, v in med.items()},
                        "gpu_speedup_over_cpu": round(med["minidl numpy"] / med["minidl cupy"], 2)})
    return results


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(ROOT / "benchmarks"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        from minidl import backend

        backend.set_backend("cupy")
        backend.set_backend("numpy")
        info = gpu_description()
    except Exception as e:  # no CuPy or no GPU: say which, and stop
        print(f"gpu_check: no usable GPU here: {e}")
        return 2
    import numpy as np

    report = {"when": time.strftime("%Y-%m-%d"), "python": platform.python_version(),
              "numpy": np.__version__, **info}
    print(json.dumps(report, indent=2), flush=True)
    report["tests"] = run_tests()
    print(json.dumps(report["tests"], indent=2), flush=True)
    report["mlp_steps"] = time_steps()
    (out / "gpu_check.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [f"# minidl on a GPU: {report['gpu']}", "",
             f"Checked {report['when']} with CuPy {report['cupy']} (CUDA runtime {report['cuda_runtime']}, "
             f"driver {report['driver']}), NumPy {report['numpy']}, Python {report['python']}.", "",
             f"Engine tests on CuPy ({', '.join(report['tests']['files'])}): {report['tests']['summary']}", ""]
    if report["tests"]["failures"]:
        lines += ["Failures:", ""] + [f"- {f}" for f in report["tests"]["failures"]] + [""]
    lines += ["| network | batch | " + " | ".join(report["mlp_steps"][0]["median_us"]) + " | GPU ÷ CPU speed-up |",
              "|---|---|" + "---|" * (len(report["mlp_steps"][0]["median_us"]) + 1)]
    for r in report["mlp_steps"]:
        lines.append(f"| {r['network']} | {r['batch']} | " + " | ".join(f"{v:,.0f} µs" for v in r["median_us"].values())
                     + f" | {r['gpu_speedup_over_cpu']}× |")
    (out / "gpu_check.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if report["tests"]["returncode"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
