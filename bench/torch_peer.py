"""PyTorch reference for bench/: the same workloads as LossLab's worker, speaking the same line protocol.

Run by `go run -tags=noxla ./bench` (not by hand) with Debian's /usr/bin/python3 and python3-torch:

    torch_peer.py WORKLOAD --fixture DIR --threads N [--quick] [--grid-points P]

It sets up (loads data, builds the model, runs one untimed repetition), prints {"ready": true, ...} on
stdout, then answers each "run" line on stdin with one timed repetition {"sample": {...}} and "quit" with
its peak resident memory. Everything is float32 on the CPU with N intra-op threads (torch.set_num_threads)
and one inter-op thread.
"""
import argparse
import gzip
import json
import math
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

FASHION = os.environ.get("LOSSLAB_FASHION_MNIST", "/usr/share/datasets/fashion-mnist")


def send(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def blas_info():
    """Which BLAS this process actually loaded (torch's BLAS_INFO=generic means libblas.so.3, which
    Debian's alternatives point at OpenBLAS or the reference BLAS)."""
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1] if len(line.split()) >= 6 else ""
            if "blas" in path or "lapack" in path:
                libs.add(os.path.realpath(path))
    cfg = torch.__config__.show()
    blas = [l.strip() for l in cfg.splitlines() if "BLAS_INFO" in l]
    return {"loaded_blas_libraries": sorted(libs),
            "openblas": any("openblas" in l for l in libs),
            "torch_build_blas": blas[0].split("BLAS_INFO=")[1].split(",")[0] if blas else "",
            "mkldnn": torch.backends.mkldnn.is_available()}


def idx(name):
    with gzip.open(os.path.join(FASHION, name + ".gz"), "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def fashion_train():
    """Training images standardised with the training set's mean and std (LossLab's default scaling)."""
    x = idx("train-images-idx3-ubyte").reshape(-1, 784).astype(np.float32) / 255
    x = (x - x.mean()) / x.std()
    y = idx("train-labels-idx1-ubyte").astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def fashion_test():
    """Test images standardised with the training set's mean and std, as LossLab does."""
    train = idx("train-images-idx3-ubyte").reshape(-1, 784).astype(np.float32) / 255
    x = idx("t10k-images-idx3-ubyte").reshape(-1, 784).astype(np.float32) / 255
    x = (x - train.mean()) / train.std()
    y = idx("t10k-labels-idx1-ubyte").astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def mlp():
    return torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256), torch.nn.ReLU(),
                               torch.nn.Linear(256, 10))


def cnn():
    """LossLab's models.CNN default: conv 3×3 16, relu, maxpool 2; conv 3×3 32, relu, maxpool 2; dense 64, relu;
    dense 10 (same padding)."""
    return torch.nn.Sequential(
        torch.nn.Unflatten(1, (1, 28, 28)),
        torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(7 * 7 * 32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))


class Fixture:
    """The parameters and test data LossLab's side wrote (bench/fixture.go)."""

    def __init__(self, d, examples):
        with open(os.path.join(d, "manifest.json")) as f:
            self.manifest = json.load(f)
        self.sets = {k: np.fromfile(os.path.join(d, k + ".bin"), dtype="<f4") for k in "abuv"}
        x = np.fromfile(os.path.join(d, "test_x.bin"), dtype="<f4").reshape(-1, 784)[:examples]
        y = np.fromfile(os.path.join(d, "test_y.bin"), dtype="<i4")[:examples].astype(np.int64)
        self.x, self.y = torch.from_numpy(x.copy()), torch.from_numpy(y)

    def params(self, flat):
        """Flat LossLab vector -> list of torch tensors in nn.Sequential(mlp()) parameter order."""
        by_name, off = {}, 0
        for p in self.manifest["params"]:
            n = int(np.prod(p["shape"]))
            by_name[p["scope"].strip("/") + "/" + p["var"]] = flat[off:off + n].reshape(p["shape"])
            off += n
        out = []
        for i in range(3):
            out.append(torch.from_numpy(np.ascontiguousarray(by_name[f"dense_{i}/weights"].T)))  # Linear keeps [out, in]
            out.append(torch.from_numpy(by_name[f"dense_{i}/biases"].copy()))
        return out


def mlp_forward(params, x):
    w0, b0, w1, b1, w2, b2 = params
    h = F.relu(F.linear(x, w0, b0))
    h = F.relu(F.linear(h, w1, b1))
    return F.linear(h, w2, b2)


@torch.no_grad()
def eval_point(params, x, y, batch=1000):
    """Mean cross-entropy and error over x in batches (LossLab's evaluator uses batches of 1000 too)."""
    loss, wrong = 0.0, 0
    for i in range(0, len(y), batch):
        logits = mlp_forward(params, x[i:i + batch])
        loss += F.cross_entropy(logits, y[i:i + batch], reduction="sum").item()
        wrong += (logits.argmax(1) != y[i:i + batch]).sum().item()
    return loss / len(y), wrong / len(y)


# ---- workloads: each returns (info, run) where run() -> (work, check)

def train_workload(kind, sizes):
    x, y = fashion_train()
    torch.manual_seed(1)
    model = mlp() if kind == "train-mlp" else cnn()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    steps = sizes["train_steps"] if kind == "train-mlp" else sizes["cnn_steps"]
    g = torch.Generator().manual_seed(2)
    state = {"perm": torch.randperm(len(y), generator=g), "pos": 0}

    def run():
        loss = None
        for _ in range(steps):
            if state["pos"] + 256 > len(y):
                state["perm"], state["pos"] = torch.randperm(len(y), generator=g), 0
            idx_ = state["perm"][state["pos"]:state["pos"] + 256]
            state["pos"] += 256
            xb, yb = x[idx_], y[idx_]
            opt.zero_grad(set_to_none=True)
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            # LossLab's step also reports the batch accuracy; do the same work here.
            acc = (logits.argmax(1) == yb).float().mean()
            loss.backward()
            opt.step()
            loss, _ = loss.item(), acc.item()
        return steps * 256, loss

    return {"model": kind[6:], "batch": 256, "steps_per_rep": steps, "optimizer": "adam 1e-3"}, run


def grid_workload(fx, sizes):
    a, u, v = (fx.params(fx.sets[k]) for k in "auv")
    s_vals = np.linspace(-1, 1, 21)
    points = [(s_vals[j], s_vals[i]) for i in range(21) for j in range(21)][:sizes["grid_points"]]

    def run():
        first = None
        for s, t in points:  # the per-point loop: one parameter point at a time over the whole test set
            params = [p + float(s) * du + float(t) * dv for p, du, dv in zip(a, u, v)]
            loss, _ = eval_point(params, fx.x, fx.y)
            if first is None:
                first = loss
        return len(points), first

    return {"examples": len(fx.y), "points_per_rep": len(points), "batch": 1000, "loop": "per point"}, run


def barriers_gap(alpha, phi):
    p0, p1 = phi[0], phi[-1]
    return [phi[i] - ((1 - a) * p0 + a * p1) for i, a in enumerate(alpha)]


def parabola_vertex(x0, y0, x1, y1, x2, y2):
    d0 = (y1 - y0) / (x1 - x0)
    d1 = (y2 - y1) / (x2 - x1)
    a = (d1 - d0) / (x2 - x0)
    if not a < 0:
        return None
    s = d0 + a * (x1 - x0)
    xv = x1 - s / (2 * a)
    if xv < x0 or xv > x2:
        return None
    return xv, y1 + s * (xv - x1) + a * (xv - x1) ** 2


def lmc_workload(fx, sizes):
    """21 evenly spaced α, then LossLab's refinement rule (lib/landscape path.go, linear barrier,
    tolerance 1e-3, at most 12 rounds of ≤ 2 midpoints around the maximum), re-implemented here."""
    a, b = fx.params(fx.sets["a"]), fx.params(fx.sets["b"])

    def phi(alpha):
        return eval_point([(1 - alpha) * pa + alpha * pb for pa, pb in zip(a, b)], fx.x, fx.y)[0]

    def run():
        alpha = [i / 20 for i in range(21)]
        loss = [phi(al) for al in alpha]
        prev = -math.inf
        for rnd in range(12):
            g = barriers_gap(alpha, loss)
            i = max(range(len(g)), key=lambda j: (g[j], -j))
            unc = abs(g[i] - prev)
            c = min(max(i, 1), len(g) - 2)
            pv = parabola_vertex(alpha[c - 1], g[c - 1], alpha[c], g[c], alpha[c + 1], g[c + 1])
            if pv is not None and 0 <= pv[0] <= 1:
                unc = max(unc, pv[1] - g[i])
            if rnd > 0 and unc <= 1e-3:
                break
            prev = g[i]
            new = []
            if i > 0:
                new.append((alpha[i - 1] + alpha[i]) / 2)
            if i + 1 < len(alpha):
                new.append((alpha[i] + alpha[i + 1]) / 2)
            if alpha[min(i + 1, len(alpha) - 1)] - alpha[max(i - 1, 0)] < 1e-9:
                break
            pairs = sorted(list(zip(alpha, loss)) + [(al, phi(al)) for al in new])
            alpha, loss = [p[0] for p in pairs], [p[1] for p in pairs]
        return len(alpha), max(barriers_gap(alpha, loss))

    return {"examples": len(fx.y), "alpha": 21, "refine": "LossLab's rule, re-implemented"}, run


def power_iteration(params, x, y, iters):
    """iters power-iteration steps on exact Hessian-vector products of the mean cross-entropy (double
    backward, Pearlmutter's trick) from a seeded start; returns the last Rayleigh quotient vᵀHv."""
    gen = torch.Generator().manual_seed(7)
    v = [torch.randn(p.shape, generator=gen) for p in params]
    n = math.sqrt(sum((t * t).sum().item() for t in v))
    v = [t / n for t in v]
    grads = torch.autograd.grad(F.cross_entropy(mlp_forward(params, x), y), params, create_graph=True)
    lam = 0.0
    for _ in range(iters):
        hv = torch.autograd.grad(grads, params, grad_outputs=v, retain_graph=True)
        lam = sum((a * b).sum().item() for a, b in zip(v, hv))
        n = math.sqrt(sum((t * t).sum().item() for t in hv))
        v = [t / n for t in hv]
    return lam


def hessian_workload(fx, sizes):
    """Power iteration with exact Hessian-vector products."""
    params = [p.clone().requires_grad_(True) for p in fx.params(fx.sets["a"])]
    iters = sizes["hessian_iters"]

    def run():
        return iters, power_iteration(params, fx.x, fx.y, iters)

    return {"examples": len(fx.y), "iterations": iters, "hvp": "double backward (exact)"}, run


# The atlas workload's sizes: bench/worker.go's atlasSizes, which they must equal.
ATLAS_SIZES = dict(runs=3, hidden=128, steps=800, batch=128, train=10000, test=2000, alpha=11, path_examples=2000,
                   power_iters=20, hessian_examples=1000)
ATLAS_QUICK = dict(runs=3, hidden=32, steps=20, batch=64, train=1000, test=500, alpha=5, path_examples=500,
                   power_iters=3, hessian_examples=200)


def gce(logits, y, q=0.7):
    """Generalized cross-entropy (1 - p_y^q)/q as lib/losses computes it: -expm1(q·log p_y)/q, batch mean."""
    lp = F.log_softmax(logits, 1).gather(1, y[:, None])[:, 0]
    return (-torch.expm1(q * lp) / q).mean()


def atlas_workload(sz):
    """Per objective (ce, gce): sz["runs"] MLPs trained (Adam 1e-3, the loss and batch accuracy read back each
    step, as train.Run does), their test accuracy, the linear CE barrier between runs 0 and 1 at sz["alpha"]
    points, and run 0's top Hessian eigenvalue by sz["power_iters"] power-iteration steps (exact
    Hessian-vector products)."""
    xtr, ytr = fashion_train()
    xtr, ytr = xtr[:sz["train"]], ytr[:sz["train"]]
    xte, yte = fashion_test()
    xte, yte = xte[:sz["test"]], yte[:sz["test"]]
    xp, yp = xte[:sz["path_examples"]], yte[:sz["path_examples"]]
    xh, yh = xtr[:sz["hessian_examples"]], ytr[:sz["hessian_examples"]]
    h, batch = sz["hidden"], sz["batch"]
    losses = {"ce": F.cross_entropy, "gce": gce}

    def train_one(loss_fn, seed):
        torch.manual_seed(seed)
        model = torch.nn.Sequential(torch.nn.Linear(784, h), torch.nn.ReLU(), torch.nn.Linear(h, h), torch.nn.ReLU(),
                                    torch.nn.Linear(h, 10))
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        g = torch.Generator().manual_seed(1000 + seed)
        perm, pos = torch.randperm(len(ytr), generator=g), 0
        for _ in range(sz["steps"]):
            if pos + batch > len(ytr):
                perm, pos = torch.randperm(len(ytr), generator=g), 0
            i = perm[pos:pos + batch]
            pos += batch
            opt.zero_grad(set_to_none=True)
            logits = model(xtr[i])
            loss = loss_fn(logits, ytr[i])
            acc = (logits.argmax(1) == ytr[i]).float().mean()
            loss.backward()
            opt.step()
            _ = loss.item(), acc.item()
        return [p.detach() for p in model.parameters()]

    def accuracy(params):
        with torch.no_grad():
            right = 0
            for i in range(0, len(yte), 1000):
                right += (mlp_forward(params, xte[i:i + 1000]).argmax(1) == yte[i:i + 1000]).sum().item()
        return right / len(yte)

    def objective(name):
        runs = [train_one(losses[name], seed) for seed in range(1, sz["runs"] + 1)]
        acc = sum(accuracy(p) for p in runs) / len(runs)
        alpha = [i / (sz["alpha"] - 1) for i in range(sz["alpha"])]
        path = [eval_point([(1 - a) * pa + a * pb for pa, pb in zip(runs[0], runs[1])], xp, yp)[0] for a in alpha]
        barrier = max(barriers_gap(alpha, path))
        lam = power_iteration([p.clone().requires_grad_(True) for p in runs[0]], xh, yh, sz["power_iters"])
        return acc, barrier, lam

    def run():
        accs = [objective(name)[0] for name in losses]
        return 3600 * len(losses), sum(accs) / len(accs)

    return {"objectives": list(losses), "model": f"mlp-{h}-{h}-10", "sizes": sz, "optimizer": "adam 1e-3",
            "hvp": "double backward (exact)", "check": "mean test accuracy over the objectives' runs"}, run


def pgd_workload(sizes):
    x = idx("t10k-images-idx3-ubyte")[:256].reshape(256, 784).astype(np.float32) / 255
    y = idx("t10k-labels-idx1-ubyte")[:256].astype(np.int64)
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    torch.manual_seed(1)
    model = cnn().eval()
    for p in model.parameters():
        p.requires_grad_(False)
    eps, alpha, steps = 0.1, 2.5 * 0.1 / 10, 10
    gen = torch.Generator().manual_seed(3)

    def run():
        with torch.no_grad():
            clean_pred = model(x).argmax(1)
        xa = (x + (torch.rand(x.shape, generator=gen) * 2 - 1) * eps).clamp(0, 1)
        for _ in range(steps):
            xa.requires_grad_(True)
            loss = F.cross_entropy(model(xa), y, reduction="sum")
            (g,) = torch.autograd.grad(loss, xa)
            with torch.no_grad():
                xa = xa + alpha * g.sign()
                xa = torch.min(torch.max(xa, x - eps), x + eps).clamp(0, 1)
        with torch.no_grad():
            logits = model(xa)
            adv_loss = F.cross_entropy(logits, y).item()
            _ = (logits.argmax(1) == y) & (clean_pred == y)
        return 256, adv_loss

    return {"model": "cnn-16-32-64-10", "batch": 256, "attack": "PGD-10 L∞ ε=0.1 α=0.025, random start, clip [0,1]"}, run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("workload")
    ap.add_argument("--fixture", default="")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--grid-points", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    sizes = dict(train_steps=40, cnn_steps=4, grid_points=16, grid_examples=10000, hessian_examples=2000, hessian_iters=20)
    if args.quick:
        sizes = dict(train_steps=4, cnn_steps=1, grid_points=8, grid_examples=1000, hessian_examples=500, hessian_iters=3)
    if args.grid_points > 0:
        sizes["grid_points"] = args.grid_points
    start = time.monotonic()
    try:
        w = args.workload
        if w in ("train-mlp", "train-cnn"):
            info, run = train_workload(w, sizes)
        elif w == "grid":
            info, run = grid_workload(Fixture(args.fixture, sizes["grid_examples"]), sizes)
        elif w == "lmc":
            info, run = lmc_workload(Fixture(args.fixture, sizes["grid_examples"]), sizes)
        elif w == "hessian":
            info, run = hessian_workload(Fixture(args.fixture, sizes["hessian_examples"]), sizes)
        elif w == "pgd":
            info, run = pgd_workload(sizes)
        elif w == "atlas":
            info, run = atlas_workload(ATLAS_QUICK if args.quick else ATLAS_SIZES)
        else:
            raise ValueError(f"unknown workload {w!r}")
        run()  # warm-up, untimed
    except Exception as e:  # reported to the parent, which prints it
        send({"error": f"{type(e).__name__}: {e}"})
        raise
    info.update(blas_info())
    info.update({"torch": torch.__version__, "threads": torch.get_num_threads(), "interop_threads": torch.get_num_interop_threads()})
    send({"ready": True, "setup_seconds": time.monotonic() - start, "compiles": 0, "info": info})
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == "run":
            t = time.perf_counter()
            work, check = run()
            sec = time.perf_counter() - t
            send({"sample": {"seconds": sec, "work": work, "compiles": 0, "check": check}})
        elif cmd[0] == "quit":
            send({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "compiles": 0})
            return


if __name__ == "__main__":
    main()
