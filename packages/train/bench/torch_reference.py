"""PyTorch reference of one SAE training step, as in the paper's code (Kang, Wang, Xiong; cxcscmu/embedding-scope,
source/autoencoder/kSparse.py and source/trainer/v2410.py): nn.Linear encoder and decoder, a dense [rows, n]
latent matrix filled by scatter, MSE on queries and documents, KL between the original and reconstructed
query-to-document score distributions, Adam. Used by train.bench.ts as the baseline of the step time.

PyTorch runs on every core (torch.set_num_threads(os.cpu_count()); OpenBLAS's own pool defaults to every core too),
and the script reports which BLAS library the process really loaded, so that the bench can refuse a crippled baseline.
When OpenBLAS does not recognise the CPU it falls back to generic SSE3 kernels ("Prescott"; OpenBLAS 0.3.21 does so on
Xeons newer than Sapphire Rapids): the script then restarts itself with OPENBLAS_CORETYPE set to the newest kernel
family the CPU's flags support, and reports both names.

Usage: python3 torch_reference.py <d> <n> <k> <groups> <neighbours> <warmup> <steps>
Prints one JSON object: {"msPerStep": (the median step) ..., "torch": version, "threads": ..., "blas": {"kind", "library", "detail",
"core", "threads", "forcedCore"}}; kind is "openblas", "mkl", "reference" (netlib, unoptimised) or "unknown".
"""

import ctypes
import json
import os
import sys
import time

import torch
from torch import nn
from torch.nn import functional as F


class KSparseAutoencoder(nn.Module):
    """The paper's model: h = ReLU(TopK(W_enc (x - b_dec) + b_enc)), x_hat = W_dec h + b_dec."""

    def __init__(self, d: int, n: int, k: int):
        super().__init__()
        self.encoder = nn.Linear(d, n)
        self.decoder = nn.Linear(n, d)
        self.k = k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.encoder(x - self.decoder.bias)
        top = torch.topk(a, self.k)
        f = torch.zeros_like(a)
        f.scatter_(1, top.indices, F.relu(top.values))
        return self.decoder(f)


def loss_fn(q, docs, q_hat, docs_hat):
    """MSE of queries and documents plus KL(p || p_hat) of the query-to-document score softmax (temperature 1)."""
    mse = F.mse_loss(q_hat, q) + F.mse_loss(docs_hat, docs)
    s = torch.bmm(docs, q.unsqueeze(2)).squeeze(2)
    s_hat = torch.bmm(docs_hat, q_hat.unsqueeze(2)).squeeze(2)
    kl = F.kl_div(F.log_softmax(s_hat, dim=1), F.log_softmax(s, dim=1), log_target=True, reduction="batchmean")
    return mse + kl


def loaded_blas() -> dict:
    """The BLAS library this process mapped (from /proc/self/maps), with OpenBLAS's own report when it is OpenBLAS."""
    paths = []
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            for line in maps:
                path = line.split()[-1]
                name = os.path.basename(path).lower()
                if ("blas" in name or "mkl" in name) and path not in paths:
                    paths.append(path)
    except OSError:
        pass
    info = {
        "kind": "unknown",
        "library": ", ".join(paths) or "none found",
        "detail": "",
        "core": None,
        "threads": None,
        "forcedCore": os.environ.get("STEER_OPENBLAS_FORCED"),
    }
    for path in paths:
        if "openblas" in path.lower():
            info["kind"] = "openblas"
            try:
                lib = ctypes.CDLL(path)
                lib.openblas_get_config.restype = ctypes.c_char_p
                lib.openblas_get_corename.restype = ctypes.c_char_p
                info["detail"] = lib.openblas_get_config().decode()
                info["core"] = lib.openblas_get_corename().decode()
                info["threads"] = lib.openblas_get_num_threads()
            except (OSError, AttributeError):
                pass
            break
        if "mkl" in path.lower():
            info["kind"] = "mkl"
            break
        # Debian's netlib reference BLAS: /usr/lib/<triplet>/blas/libblas.so.3 (the alternative without OpenBLAS).
        if os.path.basename(os.path.dirname(path)) == "blas" and os.path.basename(path).startswith("libblas"):
            info["kind"] = "reference"
    return info


# OpenBLAS's generic x86-64 kernels, which it takes for CPUs it does not know.
GENERIC_CORES = {"prescott", "core2", "katmai", "coppermine", "northwood", "banias", "atom", "nehalem"}


def best_openblas_core() -> str | None:
    """The newest OpenBLAS kernel family (DYNAMIC_ARCH name) that this CPU's flags support, from /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            flags = next((line.split(":", 1)[1].split() for line in cpuinfo if line.startswith("flags")), [])
    except OSError:
        return None
    if "avx512_bf16" in flags:
        return "Cooperlake"
    if "avx512f" in flags and "avx512vl" in flags:
        return "SkylakeX"
    if "avx2" in flags and "fma" in flags:
        return "Haswell"
    return None


def fix_generic_openblas(blas: dict) -> None:
    """Restarts the script with OPENBLAS_CORETYPE set when OpenBLAS took its generic kernels on a newer CPU."""
    core = (blas.get("core") or "").lower()
    if blas["kind"] != "openblas" or core not in GENERIC_CORES or "OPENBLAS_CORETYPE" in os.environ:
        return
    best = best_openblas_core()
    if best is None:
        return
    env = dict(os.environ, OPENBLAS_CORETYPE=best, STEER_OPENBLAS_FORCED="%s -> %s" % (blas["core"], best))
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


def main() -> None:
    fix_generic_openblas(loaded_blas())
    d, n, k, groups, neighbours, warmup, steps = (int(v) for v in sys.argv[1:8])
    # The baseline uses the whole machine, as a user's PyTorch would.
    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(0)
    model = KSparseAutoencoder(d, n, k)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    q = torch.randn(groups, d) / d**0.5
    docs = torch.randn(groups, neighbours, d) / d**0.5

    def step() -> None:
        optimizer.zero_grad()
        q_hat = model(q)
        docs_hat = model(docs.view(-1, d)).view(groups, neighbours, d)
        loss = loss_fn(q, docs, q_hat, docs_hat)
        loss.backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    times.sort()
    blas = loaded_blas()
    print(
        json.dumps(
            {
                # The median step: robust to a step slowed by other work on a shared machine.
                "msPerStep": 1000 * times[len(times) // 2],
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
                "blas": blas,
            }
        )
    )


if __name__ == "__main__":
    main()
