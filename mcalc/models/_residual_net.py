"""The P7 residual network as a flax NNX module.

Its three parameters are exactly the arrays of :func:`mcalc.resnet_init`'s dict,
and its forward pass *is* :func:`mcalc.resnet_forward`, so the module, the
functional API and the closed-form gradient :func:`mcalc.resnet_grad` agree by
construction. Train it purely by crossing ``jit`` with ``nnx.split``/``nnx.merge``
or by moving between the module and the dict with :meth:`ResidualNet.params`
and :meth:`ResidualNet.from_params`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from ..problems._p7_resnet import _params, resnet_forward, resnet_init

__all__ = ["ResidualNet"]


class ResidualNet(nnx.Module):
    """``g = σ(w2ᵀ(x + σ(W1 σ(W0 x))))`` with input width ``D`` and hidden width ``M``.

    Args:
      D: input (and residual) width, ``>= 1``.
      M: hidden width, ``>= 1``.
      rngs: ``nnx.Rngs`` supplying the ``params`` stream.
      dtype: floating dtype of the parameters.

    Attributes:
      W0: ``nnx.Param`` ``[M, D]``, LeCun-normal at initialisation (:func:`mcalc.resnet_init`).
      W1: ``nnx.Param`` ``[D, M]``.
      w2: ``nnx.Param`` ``[D]``.

    Raises:
      ValueError: if ``D`` or ``M`` is not an integer ``>= 1``.
      TypeError: if ``dtype`` is not a floating dtype.

    Example:
      >>> import jax.numpy as jnp, mcalc
      >>> from flax import nnx
      >>> net = mcalc.ResidualNet(D=3, M=4, rngs=nnx.Rngs(0))
      >>> net(jnp.zeros((2, 3))).shape
      (2,)
    """

    def __init__(self, D: int, M: int, *, rngs: nnx.Rngs, dtype: Any = jnp.float32):
        p = resnet_init(rngs.params(), D, M, dtype=dtype)
        self.D, self.M = int(D), int(M)
        self.W0 = nnx.Param(p["W0"])
        self.W1 = nnx.Param(p["W1"])
        self.w2 = nnx.Param(p["w2"])

    def __call__(self, X: jax.Array) -> jax.Array:
        """Outputs ``[N]`` for inputs ``X: [N, D]``; the same as ``resnet_forward(self.params(), X)``.

        Args:
          X: ``[N, D]`` inputs, one sample per row.

        Returns:
          ``[N]`` outputs in ``(0, 1)``.

        Raises:
          ValueError: if ``X`` is not ``[N, D]``.
        """
        return resnet_forward(self.params(), X)

    def params(self) -> dict[str, jax.Array]:
        """The parameters as the dict the functional API takes.

        Returns:
          ``{"W0": [M, D], "W1": [D, M], "w2": [D]}``, the module's arrays (no copies), for
          :func:`mcalc.resnet_forward`, :func:`mcalc.resnet_loss` and :func:`mcalc.resnet_grad`.

        Example:
          >>> import jax.numpy as jnp, mcalc
          >>> from flax import nnx
          >>> net = mcalc.ResidualNet(D=3, M=4, rngs=nnx.Rngs(0))
          >>> {k: a.shape for k, a in net.params().items()}
          {'W0': (4, 3), 'W1': (3, 4), 'w2': (3,)}
        """
        return {"W0": self.W0[...], "W1": self.W1[...], "w2": self.w2[...]}

    def grads_to_state(self, grads: dict[str, jax.Array]) -> nnx.State:
        """Closed-form gradients as the ``nnx.State`` that ``nnx.Optimizer.update`` takes.

        ``grads`` is a dict like :meth:`params` -- what :func:`mcalc.resnet_grad` returns --
        so the delta rule can drive a flax optimizer in place of ``nnx.grad``.

        Args:
          grads: ``{"W0": [M, D], "W1": [D, M], "w2": [D]}``.

        Returns:
          An ``nnx.State`` of ``nnx.Param`` with the module's structure.

        Raises:
          ValueError: when the keys or shapes differ from the module's parameters.

        Example:
          >>> import jax.numpy as jnp, optax, mcalc
          >>> from flax import nnx
          >>> net = mcalc.ResidualNet(D=3, M=4, rngs=nnx.Rngs(0))
          >>> opt = nnx.Optimizer(net, optax.sgd(0.1), wrt=nnx.Param)
          >>> X, y = jnp.ones((5, 3)), jnp.array([0.0, 1.0, 0.0, 1.0, 1.0])
          >>> grads = mcalc.resnet_grad(net.params(), X, y)
          >>> _ = opt.update(net, net.grads_to_state(grads))  # one SGD step on the closed form
          >>> [k for k in net.params()]
          ['W0', 'W1', 'w2']
        """
        params = self.params()
        if not isinstance(grads, dict) or set(grads) != set(params):
            got = sorted(grads) if isinstance(grads, dict) else type(grads).__name__
            raise ValueError(
                f"mcalc.ResidualNet.grads_to_state: grads must be a dict with keys W0, W1, w2 "
                f"(as mcalc.resnet_grad returns); got {got}."
            )
        for k, v in params.items():
            if tuple(jnp.shape(grads[k])) != tuple(v.shape):
                raise ValueError(
                    f"mcalc.ResidualNet.grads_to_state: grads[{k!r}] has shape "
                    f"{tuple(jnp.shape(grads[k]))}; the module's {k} is {tuple(v.shape)}."
                )
        return nnx.State({k: nnx.Param(grads[k]) for k in ("W0", "W1", "w2")})

    @classmethod
    def from_params(cls, params: dict[str, jax.Array]) -> ResidualNet:
        """A module holding exactly the arrays of ``params`` (as :func:`resnet_init` returns).

        Args:
          params: ``{"W0": [M, D], "W1": [D, M], "w2": [D]}``; ``D``, ``M`` and the dtype
            come from it.

        Returns:
          A :class:`ResidualNet` whose forward pass is ``resnet_forward(params, X)``.

        Raises:
          ValueError: on keys other than ``W0``, ``W1``, ``w2``, or shapes that do not fit
            together.
          TypeError: if a parameter is not an array of real numbers.

        Example:
          >>> import jax, jax.numpy as jnp, mcalc
          >>> params = mcalc.resnet_init(jax.random.key(0), D=3, M=4)
          >>> net = mcalc.ResidualNet.from_params(params)
          >>> X = jnp.ones((2, 3))
          >>> bool(jnp.array_equal(net(X), mcalc.resnet_forward(params, X)))
          True
        """
        p, D, M = _params("mcalc.ResidualNet.from_params", params)
        net = nnx.eval_shape(lambda: cls(D, M, rngs=nnx.Rngs(0), dtype=p["W0"].dtype))
        net.W0 = nnx.Param(p["W0"])
        net.W1 = nnx.Param(p["W1"])
        net.w2 = nnx.Param(p["w2"])
        return net
