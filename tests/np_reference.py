"""Independent numpy re-implementations of the networks, used as references by the tests.

Written from the description in docs/algorithm.md §2-3, not from the library code: a bug in one is unlikely to
be repeated in the other.
"""

from __future__ import annotations

import numpy as np


def relu(x):
    return np.maximum(x, 0.0)


def mlp(x, weights: dict, prefix: str, n_layers: int):
    """Dense layers ``prefix/_0 .. _{n-1}`` with ReLU between them (not after the last)."""
    for i in range(n_layers):
        x = x @ weights[f"{prefix}/_{i}/kernel"] + weights[f"{prefix}/_{i}/bias"]
        if i < n_layers - 1:
            x = relu(x)
    return x


def dense(x, weights, prefix):
    return x @ weights[f"{prefix}/kernel"] + weights[f"{prefix}/bias"]


def normalize(v, mean, std, clip):
    return np.clip((v - mean) / std, -clip, clip)


def actor_input(w, o, z, g, clip):
    on = normalize(o, w["o_stats/mean"], w["o_stats/std"], clip)
    gn = normalize(g, w["g_stats/mean"], w["g_stats/std"], clip)
    return np.concatenate([on, z, gn], axis=1)


def ddpg_actor(w, scope, x, layers, max_u):
    return max_u * np.tanh(mlp(x, w, f"{scope}/pi", layers + 1))


def sac_actor(w, scope, x, layers, max_u, noise):
    """Returns (mu, pi, neg_logp_pi) of the squashed Gaussian policy."""
    h = mlp(x, w, f"{scope}/pi", layers + 1)  # last trunk layer is linear
    mu = dense(h, w, f"{scope}/pi/mu")
    log_std = np.tanh(dense(h, w, f"{scope}/pi/log_std"))
    log_std = -5.0 + 0.5 * (2.0 - (-5.0)) * (log_std + 1.0)
    std = np.exp(log_std)
    pi = mu + noise * std
    logp = np.sum(-0.5 * (((pi - mu) / (std + 1e-8)) ** 2 + 2 * log_std + np.log(2 * np.pi)), axis=1)
    logp -= np.sum(np.log(np.clip(1 - np.tanh(pi) ** 2, 0, 1) + 1e-6), axis=1)
    return max_u * np.tanh(mu), max_u * np.tanh(pi), -logp


def critic(w, scope, x, u, layers, max_u):
    return mlp(np.concatenate([x, u / max_u], axis=1), w, f"{scope}/Q", layers + 1)


def mine_neg_mi(w, o_tau, perm, agent=slice(0, 3), surrounding=slice(3, 6)):
    """-(mean_t T(x_t, y_t) - log mean_t exp T(x_t, y_perm(t))) per sequence, shape (B, 1)."""
    x, y = o_tau[..., agent], o_tau[..., surrounding]

    def stat(xx, yy):
        h = relu(dense(xx, w, "ir/state_mi/x") + dense(yy, w, "ir/state_mi/y"))
        return np.tanh(dense(h, w, "ir/state_mi/out"))

    t_joint = stat(x, y)
    t_marg = stat(x, y[:, perm])
    mi = t_joint.mean(axis=1) - np.log(np.exp(t_marg).mean(axis=1))
    return -mi


def softmax_cross_entropy(logits, labels):
    logits = logits - logits.max(axis=1, keepdims=True)
    log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return -(labels * log_softmax).sum(axis=1)
