"""The flax ResidualNet is the functional resnet: same parameters, same outputs, pure training."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import mcalc


@pytest.mark.parametrize("D, M", [(1, 1), (3, 5), (8, 2)])
def test_module_parameters_map_one_to_one_and_outputs_agree(D, M):
    net = mcalc.ResidualNet(D, M, rngs=nnx.Rngs(0))
    pure = nnx.to_pure_dict(nnx.state(net, nnx.Param))
    p = net.params()
    chex.assert_trees_all_equal(pure, p)  # exactly the three arrays of the dict
    assert {k: a.shape for k, a in p.items()} == {"W0": (M, D), "W1": (D, M), "w2": (D,)}
    X = jax.random.normal(jax.random.key(1), (6, D))
    chex.assert_trees_all_close(net(X), mcalc.resnet_forward(p, X), rtol=0, atol=0)


def test_module_init_equals_functional_init():
    net = mcalc.ResidualNet(4, 3, rngs=nnx.Rngs(params=7))
    chex.assert_trees_all_equal(net.params(), mcalc.resnet_init(nnx.Rngs(params=7).params(), 4, 3))


def test_from_params_round_trip():
    p = mcalc.resnet_init(jax.random.key(3), 4, 3, dtype=jnp.float64)
    net = mcalc.ResidualNet.from_params(p)
    chex.assert_trees_all_equal(net.params(), p)
    assert net.W0[...].dtype == jnp.float64


def test_pure_training_step_across_jit_with_split_merge():
    net = mcalc.ResidualNet(3, 4, rngs=nnx.Rngs(0))
    X = jax.random.normal(jax.random.key(1), (16, 3))
    y = (X[:, 0] > 0).astype(jnp.float32)
    graphdef, state = nnx.split(net, nnx.Param)
    opt = optax.sgd(0.5)
    params = nnx.to_pure_dict(state)
    opt_state = opt.init(params)

    @jax.jit
    def step(params, opt_state):
        model = nnx.merge(graphdef, nnx.State(params))
        updates, opt_state = opt.update(mcalc.resnet_grad(model.params(), X, y), opt_state)
        return optax.apply_updates(params, updates), opt_state

    loss0 = mcalc.resnet_loss(net.params(), X, y)
    for _ in range(50):
        params, opt_state = step(params, opt_state)
    nnx.replace_by_pure_dict(state, params)
    trained = nnx.merge(graphdef, state)
    assert mcalc.resnet_loss(trained.params(), X, y) < 0.8 * loss0
    np.testing.assert_allclose(trained(X), mcalc.resnet_forward(params, X), rtol=1e-6)
