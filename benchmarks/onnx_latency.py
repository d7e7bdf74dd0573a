"""Inference latency of the exported paper CNN in onnxruntime, beside this package's forward.

Run (both variables unset in the same command; they slow numpy's BLAS):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/onnx_latency.py [--quick]

One forward of the MNIST-1D paper CNN (eval mode, no gradients) on a batch of 1 and of 100,
one thread everywhere: threadpoolctl for numpy's BLAS, torch.set_num_threads for torch, and
intra_op_num_threads=1 for onnxruntime. Contenders, timed in turn (harness.alternate):

- onnxruntime: the file tg.onnx.export wrote (dynamic batch), CPUExecutionProvider;
- eager: model(x) under tg.no_grad();
- compiled: tg.compile(model), the recorded forward replayed as straight-line numpy;
- torch: the PyTorch twin (benchmarks/torch_twin.py), when torch is installed.

Every contender's output is checked against eager's before timing. Needs onnx and onnxruntime
(pip install 'tinygrad1d[onnx]'); the weights are a seeded initialisation (latency does not
depend on their values).
"""
from __future__ import annotations

import argparse
import io

import numpy as np
from harness import alternate, fmt_time, median, median_ratio, report_environment, table, threads
from harness import torch as torch_mod

import tinygrad1d as tg
from tinygrad1d.app import models

BATCHES = (1, 100)


def contenders(model, x: np.ndarray) -> dict:
    """name -> a function running one forward on x, each returning its output as numpy."""
    import onnxruntime as ort

    f = io.BytesIO()
    tg.onnx.export(model, tg.Tensor(x), f, input_names=["x"], output_names=["logits"],
                   dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}})
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(f.getvalue(), options, providers=["CPUExecutionProvider"])
    compiled, xt = tg.compile(model), tg.Tensor(x)

    def eager():
        with tg.no_grad():
            return model(xt).data

    def replayed():
        with tg.no_grad():
            return compiled(xt).data

    fns = {"onnxruntime": lambda: session.run(None, {"x": x})[0], "eager": eager,
           "compiled": replayed}
    if torch_mod:
        from torch_twin import torch_twin
        twin, xs = torch_twin(model).eval(), torch_mod.from_numpy(x)

        def torch_forward():
            with torch_mod.no_grad():
                return twin(xs).numpy()
        fns["torch"] = torch_forward
    return fns


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer samples")
    args = p.parse_args()
    report_environment()
    tg.manual_seed(0)
    model = models.paper_cnn().eval()
    rng = np.random.default_rng(0)
    rows = []
    for n in BATCHES:
        x = rng.normal(size=(n, 1, 40)).astype(np.float32)
        fns = contenders(model, x)
        for name, fn in fns.items():  # the same numbers first
            np.testing.assert_allclose(fn(), fns["eager"](), rtol=1e-4, atol=1e-5,
                                       err_msg=name)
        with threads(1):
            t = alternate(fns, samples=5 if args.quick else 21, warmup=20)
        row = [f"batch {n}"] + [fmt_time(median(t[name])) for name in fns]
        row += [f"{median_ratio(t['eager'], t['onnxruntime']):.1f}x",
                f"{median_ratio(t['compiled'], t['onnxruntime']):.1f}x"]
        rows.append(row)
        print(row, flush=True)
    names = list(fns)
    headers = ["paper CNN, 1 thread"] + names + ["eager / onnxruntime",
                                                "compiled / onnxruntime"]
    print(table(rows, headers))


if __name__ == "__main__":
    main()
