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


def test_closed_form_grads_drive_an_nnx_optimizer():
    """grads_to_state feeds the delta rule to nnx.Optimizer: the same step as nnx.grad's."""
    import optax
    from flax import nnx

    X = jax.random.normal(jax.random.key(1), (16, 3))
    y = (X[:, 0] > 0).astype(jnp.float32)
    a = mcalc.ResidualNet(D=3, M=5, rngs=nnx.Rngs(0))
    b = mcalc.ResidualNet(D=3, M=5, rngs=nnx.Rngs(0))
    opt_a = nnx.Optimizer(a, optax.adam(0.01), wrt=nnx.Param)
    opt_b = nnx.Optimizer(b, optax.adam(0.01), wrt=nnx.Param)
    for _ in range(3):
        opt_a.update(a, a.grads_to_state(mcalc.resnet_grad(a.params(), X, y)))
        opt_b.update(b, nnx.grad(lambda m: mcalc.resnet_loss(m.params(), X, y))(b))
    chex.assert_trees_all_close(a.params(), b.params(), rtol=1e-5, atol=1e-6)
    with pytest.raises(
        ValueError, match=r"grads must be a dict with keys W0, W1, w2 .*; got \['W0'\]"
    ):
        a.grads_to_state({"W0": a.params()["W0"]})
    with pytest.raises(
        ValueError, match=r"grads\['w2'\] has shape \(2,\); the module's w2 is \(3,\)"
    ):
        a.grads_to_state({**a.params(), "w2": jnp.zeros(2)})
