"""Models: the P7 residual network as a flax NNX module."""

from ._residual_net import ResidualNet as ResidualNet
