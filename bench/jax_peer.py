"""JAX peer for the GPU check (bench/gpu.sh): the same MLP training step and 21x21 landscape grid that
LossLab's benchmarks run, written plainly in JAX. Prints one JSON object."""
import json, time, sys
import jax, jax.numpy as jnp

def init(key, sizes):
    params = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        key, k = jax.random.split(key)
        params.append((jax.random.normal(k, (a, b)) * (2.0 / a) ** 0.5, jnp.zeros(b)))
    return params

def forward(params, x):
    for i, (w, b) in enumerate(params):
        x = x @ w + b
        if i < len(params) - 1:
            x = jax.nn.relu(x)
    return x

def loss_fn(params, x, y):
    logits = forward(params, x)
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))

@jax.jit
def adam_step(params, m, v, t, x, y):
    g = jax.grad(loss_fn)(params, x, y)
    m = jax.tree_util.tree_map(lambda m, g: 0.9 * m + 0.1 * g, m, g)
    v = jax.tree_util.tree_map(lambda v, g: 0.999 * v + 0.001 * g * g, v, g)
    lr = 1e-3 * jnp.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
    params = jax.tree_util.tree_map(lambda p, m, v: p - lr * m / (jnp.sqrt(v) + 1e-8), params, m, v)
    return params, m, v

sizes = [784, 256, 256, 10]
key = jax.random.PRNGKey(0)
params = init(key, sizes)
x = jax.random.normal(key, (256, 784)); y = jax.random.randint(key, (256,), 0, 10)
m = jax.tree_util.tree_map(jnp.zeros_like, params); v = jax.tree_util.tree_map(jnp.zeros_like, params)
params, m, v = adam_step(params, m, v, 1, x, y); jax.block_until_ready(params)
steps = 500
t0 = time.time()
for t in range(2, steps + 2):
    params, m, v = adam_step(params, m, v, t, x, y)
jax.block_until_ready(params)
train_eps = steps * 256 / (time.time() - t0)

# 21x21 grid over 10,000 inputs, one point per call (the anchors' loop) and all points batched.
X = jax.random.normal(key, (10000, 784)); Y = jax.random.randint(key, (10000,), 0, 10)
d1 = init(jax.random.PRNGKey(1), sizes); d2 = init(jax.random.PRNGKey(2), sizes)
@jax.jit
def point_loss(a, b):
    p = jax.tree_util.tree_map(lambda p, u, w: p + a * u + b * w, params, d1, d2)
    return loss_fn(p, X, Y)
coords = [(a, b) for a in jnp.linspace(-1, 1, 21) for b in jnp.linspace(-1, 1, 21)]
point_loss(0.0, 0.0).block_until_ready()
t0 = time.time()
for a, b in coords:
    point_loss(a, b).block_until_ready()
grid_pps = len(coords) / (time.time() - t0)
print(json.dumps({"peer": "jax " + jax.__version__, "device": str(jax.devices()[0]),
                  "train_examples_per_s": round(train_eps), "grid_points_per_s": round(grid_pps, 1)}))
