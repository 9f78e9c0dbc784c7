"""Pass ``detect_chains``: chains of two or more matmuls with biases, each feeding the next alone (through
a relu or not), that become one MLP phase (phases/mlp.py: the weights resident in PMUs, the samples
pipelined through the layers).

``mlp_weights`` ``resident``: every chain that fits one MLP phase; ``auto``: those whose MLP phase costs
less than a matmul phase per layer (cost-model cycles on the lowering's memory plus the unit
configuration each loads: ``Lowering.cost``); where several chains compute with the same weights (a
graph repeated per request, ``Graph.repeated``) and the PMUs keep their contents (``pmus_kept``), the
MLP phases' costs are the first run's and the later runs' on the weights it left resident
(residency.py), against every chain streamed (``lower`` then weighs the program so lowered against the program with every
chain streamed, whole);
``streamed``: none. A relu or sigmoid that is the only use of the last layer's result becomes the
phase's epilogue, its chain of PCUs after the last layer (its node is absorbed), where the cost model
finds the phase with it cheaper than the phase and the op's own phases."""

from __future__ import annotations

from rdagen.mapper.phases.eltwise import eltwise_phases, epilogue_chain
from rdagen.mapper.backend.place import sites
from rdagen.mapper.phases.mlp import Layer, MlpPhase
from rdagen.mapper.phases.phase import MapError

from .ops import ELTWISE, matmul_phases
from .state import Lowering


def _chains(s: Lowering) -> list[list[int]]:
    """The chains of matmuls, each feeding the next alone, as lists of node positions."""
    nodes = s.graph.nodes
    following = {}
    for i, mm in s.matmuls.items():
        use = s.only_use(mm.y)
        if mm.bias is None or use is None:
            continue
        j = use[0]
        if nodes[j].op == "relu":
            use = s.only_use(nodes[j].output)
            j = use[0] if use else None
        if j in s.matmuls and use[1] == 0 and s.matmuls[j].bias is not None:
            following[i] = j
    chains = []
    for first in sorted(set(following) - set(following.values())):
        chain = [first]
        while chain[-1] in following:
            chain.append(following[chain[-1]])
        chains.append(chain)
    return chains


def detect_chains(s: Lowering) -> None:
    if s.mlp_weights == "streamed":
        return
    cfg, nodes = s.cfg, s.graph.nodes
    chains = _chains(s)
    runs: dict[tuple, int] = {}  # the chains on each weights
    for chain in chains:
        key = tuple(s.matmuls[i].w for i in chain)
        runs[key] = runs.get(key, 0) + 1
    # the PMUs a resident MLP can count on: the chains on repeated weights share them (residency.py)
    share = len(sites(cfg, "pmu")) // max(1, sum(count > 1 for count in runs.values()))
    for chain in chains:
        layers = []
        for i in chain:
            mm = s.matmuls[i]
            k, n = s.shape(mm.w)
            layers.append(Layer(mm.w, mm.bias, mm.relu_in, k, n, mm.y))
        x = s.matmuls[chain[0]].x
        covered = tuple(n for i in chain for n in s.matmuls[i].covered)
        m = s.shape(x)[0]
        use, epilogue, after, r = s.only_use(layers[-1].y), (), [], None
        # a relu already fused into the matmuls that read it (fuse_relus) stays there: they read the
        # chain's own result, so the phase must write that, not the relu's
        if use and nodes[use[0]].op in ELTWISE and nodes[use[0]].op != "add" and use[0] not in s.absorbed:
            r = use[0]
            program = ELTWISE[nodes[r].op]
            epilogue = epilogue_chain(cfg, program, len(sites(cfg, "pcu")) // 2) or ()
            if epilogue:
                shape = s.shape(layers[-1].y)
                after = eltwise_phases(cfg, f"{nodes[r].op}{r}", (r,), program, (layers[-1].y,), nodes[r].output,
                                       (shape,), shape, s.where(r))
        phase = _mlp_phase(s, chain, covered, x, layers, m, (r, epilogue) if epilogue else None, after)
        if phase is None:
            continue
        after = after if phase.epilogue else []  # without the epilogue, both sides run the op's own phases
        runs_on_weights = runs[tuple(layer.w for layer in layers)] if s.pmus_kept else 1
        if s.mlp_weights == "auto" and _streamed_is_cheaper(s, chain, after, phase, runs_on_weights, share):
            continue
        s.mlp_of.update({i: None for i in chain})
        s.mlp_of[chain[0]] = phase
        if phase.epilogue:
            s.absorbed.add(r)


def _mlp_phase(s: Lowering, chain, covered: tuple, x: str, layers: list[Layer], m: int,
               epilogue: tuple[int, tuple] | None, after: list) -> MlpPhase | None:
    """The chain's MLP phase: with the *epilogue* (node r, its chain of PCUs; node r covered too) where it
    fits and costs no more than the phase without it and the op's own phases (*after*), else without;
    None when neither fits one configuration."""
    options = []
    for r, chosen in ((epilogue, (None, ())) if epilogue else ((None, ()),)):
        try:
            options.append(MlpPhase(s.cfg, f"mlp{chain[0]}", covered + ((r,) if chosen else ()), x, tuple(layers), m,
                                    s.where(chain[0]), chosen, s.graph.nodes[r].output if chosen else None))
        except MapError:
            continue
    if len(options) == 2 and s.cost(options[0]) > s.cost(options[1]) + sum(map(s.cost, after)):
        return options[1]
    return options[0] if options else None


def _streamed_is_cheaper(s: Lowering, chain, after: list, phase: MlpPhase, runs: int, share: int) -> bool:
    """Each layer's matmul phases (SIMD or systolic, ``matmul_phases``) and the epilogue's own phases
    cost no more than the MLP phase, over the *runs* of chains on these weights: the later ones read
    the weights the first left resident on its *share* of the PMUs at most (residency.py gives the
    resident MLPs their shares; none: every run loads them)."""
    try:
        streamed = [p for i in chain for p in matmul_phases(s, i)]
    except MapError:  # a layer no matmul phase takes: the MLP phase, which fits, is
        return False
    if after and after[-1].writes == streamed[-1].writes:  # the last layer's ring sends the ReLU itself
        after = []
    mlp = runs * s.cost(phase)
    if runs > 1:
        try:
            first = phase.keeping_weights(min(phase.units_used()["pmu"], share))
            mlp = s.cost(first) + (runs - 1) * s.cost(phase.reading_weights_of(first))
        except MapError:  # no tiling keeps the weights on its PMUs: each run loads them
            pass
    return runs * sum(s.cost(p, tuple(streamed)) for p in streamed + after) <= mlp
