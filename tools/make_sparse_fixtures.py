"""PyTorch reference trajectories for optimizers on sparse gradients (SparseAdam, and Adagrad's
lazy path), written to Tests/OptimTests/Fixtures/Sparse/. Run once in a venv with torch:

    python tools/make_sparse_fixtures.py

Problem: a [6, 4] parameter (an embedding table, or a linear weight's touched columns), loss
sum over the touched elements of (p - target)^2. Each step touches a seeded subset of the
elements; the gradient is a sparse COO tensor over them (2 (p - target) there), as
nn.Embedding(sparse=True) gives. The fixture records each step's element indices and the
parameter after the step.
"""
import json
import pathlib
import random

import torch

OUT = pathlib.Path(__file__).resolve().parent.parent / "Tests/OptimTests/Fixtures/Sparse"
SHAPE = (6, 4)
STEPS = 40


def trajectory(name, hp, dtype, seed):
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    p = torch.randn(SHAPE, generator=gen, dtype=dtype).requires_grad_(False)
    target = torch.randn(SHAPE, generator=gen, dtype=dtype)
    initial = p.clone()
    opt = {"SparseAdam": torch.optim.SparseAdam, "Adagrad": torch.optim.Adagrad}[name]([p], **hp)
    steps = []
    n = SHAPE[0] * SHAPE[1]
    for _ in range(STEPS):
        count = rng.randint(0, 9)  # 0: a gradient with no values
        flat = sorted(rng.sample(range(n), count))
        rows = [i // SHAPE[1] for i in flat]
        cols = [i % SHAPE[1] for i in flat]
        values = (2 * (p - target))[rows, cols] if count else torch.zeros(0, dtype=dtype)
        p.grad = torch.sparse_coo_tensor(torch.tensor([rows, cols], dtype=torch.long).reshape(2, count), values, SHAPE)
        opt.step()
        steps.append({"indices": flat, "params": p.flatten().tolist()})
    return {"optimizer": name, "hyperparameters": hp, "dtype": str(dtype).replace("torch.", ""), "shape": list(SHAPE),
            "initial": initial.flatten().tolist(), "target": target.flatten().tolist(), "steps": steps,
            "torch_version": torch.__version__}


CASES = [
    ("SparseAdam", {}),
    ("SparseAdam", {"lr": 0.05}),
    ("SparseAdam", {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-6}),
    ("SparseAdam", {"lr": 0.01, "maximize": True}),
    ("Adagrad", {"lr": 0.1}),
    ("Adagrad", {"lr": 0.05, "lr_decay": 0.01, "initial_accumulator_value": 0.1, "eps": 1e-8}),
    ("Adagrad", {"lr": 0.1, "maximize": True}),
]


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.json"):
        old.unlink()
    for i, (name, hp) in enumerate(CASES):
        for dtype in (torch.float32, torch.float64):
            fixture = trajectory(name, hp, dtype, seed=100 + i)
            path = OUT / f"{i:02d}_{name}_{fixture['dtype']}.json"
            path.write_text(json.dumps(fixture))
            print("wrote", path.name)


if __name__ == "__main__":
    main()
