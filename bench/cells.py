"""Notebook cell latency through the `losslab` kernel, for bench/ (run by `go run -tags=noxla ./bench`).

Starts fresh kernels with jupyter_client and times cells from the execute request to the kernel's return
to idle, the latency a user sees. Per fresh kernel: the first cell (importing lib/), then trivial and
lib-importing cells in turn. With --cold, one more kernel runs with an empty Go build cache (GOCACHE in a
temporary folder), so its first cell rebuilds GoMLX and lib/, and its second lib cell shows whether
anything is rebuilt again. Prints one JSON object on stdout.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time

from jupyter_client.manager import start_new_kernel

LIB_CELL = """import (
\t"github.com/losslab/losslab/lib/data"
\t"github.com/losslab/losslab/lib/models"
\t"github.com/losslab/losslab/lib/train"
\t"github.com/losslab/losslab/lib/viz"
)

%%
fmt.Println(data.FashionMNISTDir, models.NewMLP(10, 8).Name(), train.EvalBatch, len(viz.Range(RUN)))
"""
TRIVIAL_CELL = '%%\nfmt.Println("trivial", RUN)\n'


def execute(kc, code, timeout):
    """Runs code, returns (seconds, text output, error or None)."""
    start = time.monotonic()
    msg_id = kc.execute(code)
    text, error = [], None
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            text.append(content["text"])
        elif kind == "error":
            error = content.get("ename", "") + ": " + content.get("evalue", "")
        elif kind == "status" and content["execution_state"] == "idle":
            break
    seconds = time.monotonic() - start
    reply = kc.get_shell_msg(timeout=timeout)
    if reply["content"].get("status") != "ok" and error is None:
        error = "status " + str(reply["content"].get("status"))
    out = "".join(text)
    if error is None and ("panic:" in out or "exit status" in out):
        error = out.strip().splitlines()[-1]
    return seconds, out, error


def session(env_extra, cells, timeout, log):
    """Starts a fresh kernel, runs the cells (name, code) and returns {name: [seconds...]} plus its start time."""
    env = dict(os.environ)
    env.update(env_extra)
    t0 = time.monotonic()
    km, kc = start_new_kernel(kernel_name="losslab", env=env, startup_timeout=120, stdout=log, stderr=log)
    started = time.monotonic() - t0
    times = {}
    try:
        for i, (name, code) in enumerate(cells):
            sec, out, err = execute(kc, code.replace("RUN", str(i + 1)), timeout)
            if err:
                raise RuntimeError(f"cell {name!r} failed: {err}\n{out[-2000:]}")
            times.setdefault(name, []).append(sec)
            print(f"  {name}: {sec:.2f} s", file=sys.stderr, flush=True)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return times, started


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3, help="fresh kernels with a warm build cache")
    ap.add_argument("--cold", action="store_true", help="also one kernel with an empty Go build cache")
    ap.add_argument("--timeout", type=int, default=900)
    ap.add_argument("--log", default=os.devnull, help="file for the kernels' own output")
    args = ap.parse_args()
    log = open(args.log, "a")
    result = {"first_cell_warm_cache": [], "trivial": [], "lib_warm": [], "kernel_start": []}
    for _ in range(args.reps):
        cells = [("first", LIB_CELL), ("trivial", TRIVIAL_CELL), ("lib", LIB_CELL), ("trivial", TRIVIAL_CELL), ("lib", LIB_CELL)]
        times, started = session({}, cells, args.timeout, log)
        result["first_cell_warm_cache"] += times["first"]
        result["trivial"] += times["trivial"]
        result["lib_warm"] += times["lib"]
        result["kernel_start"].append(started)
    if args.cold:
        tmp = tempfile.mkdtemp(prefix="losslab-cold-gocache-")
        try:
            cells = [("first", LIB_CELL), ("lib", LIB_CELL), ("trivial", TRIVIAL_CELL)]
            times, started = session({"GOCACHE": tmp}, cells, args.timeout, log)
            result["first_cell_cold_cache"] = times["first"]
            result["lib_after_cold"] = times["lib"]
            result["trivial_after_cold"] = times["trivial"]
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
