#!/usr/bin/env bash
# GPU check: LossLab's XLA path on a machine with JAX's CUDA PJRT plugin, beside JAX doing the same work.
# Expects test binaries built on the dev machine (see the README's benchmarks section) in .gpu/.
set -u
out=${OUT:-/tmp/gpu-out}; mkdir -p "$out"
plugin=$(python3 -c 'import jax_plugins, glob, os; print((sorted(glob.glob(os.path.join(list(jax_plugins.__path__)[0], "xla_cuda*", "xla_cuda_plugin.so"))) or [""])[-1])' 2>/dev/null)
echo "jax cuda plugin: $plugin"
mkdir -p /tmp/pjrt && ln -sf "$plugin" /tmp/pjrt/pjrt_c_api_cuda_plugin.so
export PJRT_PLUGIN_LIBRARY_PATH=/tmp/pjrt
nv=$(python3 -c 'import nvidia, os, glob; print(":".join(sorted(glob.glob(os.path.join(list(nvidia.__path__)[0], "*", "lib")))))' 2>/dev/null)
export LD_LIBRARY_PATH=${nv}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
for cfg in ${CONFIGS:-auto go:ops_sequential}; do
  echo "=== GOMLX_BACKEND='${cfg}'"
  export GOMLX_BACKEND=$cfg; [ "$cfg" = auto ] && unset GOMLX_BACKEND
  timeout 120 .gpu/backend.test -test.run 'Describe' -test.v 2>&1 | grep -i "backend" | head -3
  timeout 150 .gpu/train.test -test.run XXX -test.bench 'TrainStepMLP$' -test.benchtime 5s 2>&1 | grep -E "Benchmark|panic|Error" | head -5
  n=10000; [ "$cfg" != auto ] && n=2000   # the pure-Go baseline on fewer images, to fit the device time
  echo "grid over $n images"
  LOSSLAB_BENCH_N=$n timeout 150 .gpu/landscape.test -test.run XXX -test.bench GridMLP -test.benchtime 1x 2>&1 | grep -E "Benchmark|panic|Error" | head -5
done
unset GOMLX_BACKEND
echo "=== JAX peer"
timeout 150 python3 bench/jax_peer.py 2>&1 | tail -2
