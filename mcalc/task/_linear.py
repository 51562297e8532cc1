"""Pieces the linear built-in tasks (P2, P3, P4) share: parameters ``{"w": [D]}``."""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["init_linear", "margin", "intercept_mask"]


def init_linear(key: jax.Array, D: int, **_: object) -> dict[str, jax.Array]:
    """``w ~ N(0, I/D)``, drawn in float32 so that the draw is the same whatever JAX's x64
    setting (mcalc casts it to the data's dtype and scales it by ``model.init_scale``)."""
    return {"w": jax.random.normal(key, (D,), jnp.float32) / jnp.sqrt(jnp.float32(D))}


def margin(params: dict[str, jax.Array], X: jax.Array) -> jax.Array:
    """``Xw``: the linear score of every sample."""
    return X @ params["w"]


def intercept_mask(params: dict[str, jax.Array]) -> dict[str, jax.Array]:
    """1 on every weight, 0 on the last one (the intercept column's, with ``data.intercept``)."""
    w = params["w"]
    return {"w": jnp.ones_like(w).at[-1].set(0)}
