"""PyTorch reference of one SAE training step, as in the paper's code (Kang, Wang, Xiong; cxcscmu/embedding-scope,
source/autoencoder/kSparse.py and source/trainer/v2410.py): nn.Linear encoder and decoder, a dense [rows, n]
latent matrix filled by scatter, MSE on queries and documents, KL between the original and reconstructed
query-to-document score distributions, Adam. Used by train.bench.ts as the baseline of the step time.

Usage: python3 torch_reference.py <d> <n> <k> <groups> <neighbours> <warmup> <steps>
Prints one JSON object: {"msPerStep": ..., "torch": version, "threads": ..., "blas": ...}.
"""

import json
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


def main() -> None:
    d, n, k, groups, neighbours, warmup, steps = (int(v) for v in sys.argv[1:8])
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
    start = time.perf_counter()
    for _ in range(steps):
        step()
    elapsed = time.perf_counter() - start
    libraries = []
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            for line in maps:
                path = line.split()[-1]
                if "blas" in path.lower() and path not in libraries:
                    libraries.append(path)
    except OSError:
        pass
    blas = ", ".join(libraries) or "unknown"
    print(
        json.dumps(
            {
                "msPerStep": 1000 * elapsed / steps,
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
                "blas": blas,
            }
        )
    )


if __name__ == "__main__":
    main()
