"""Pass ``emit_phases`` and its table from op to lowering (``LOWERINGS``): every node not absorbed into
another's phase, in graph order, becomes its phases.

* ``matmul`` -> a matmul phase over the whole array in the SIMD mode (phases/matmul.py) or the systolic
  mode (phases/systolic.py: sections, or one ring; a ReLU fused into its input an elementwise phase
  before it, or sent by the ring that produces that input), whichever the cost model finds faster (or
  the one ``matmul_mode`` names), or its chain's MLP phase. A relu that alone reads its result (DLRM's
  bottom MLP's last ReLU, read by the interaction) is sent by its ring where that is cheaper than the
  relu's own phase: Kaggle on ``plasticine``, a steady batch of 8 156 cycles less, of 64 198 less. In the SIMD mode a row of X longer than a PMU is
  split over K: a matmul phase per chunk (partial sums in DRAM), then elementwise adds in chunk order,
  then the bias.
* ``relu``, ``add``, ``sigmoid`` -> elementwise phases (phases/eltwise.py; one per piece of the op's
  program, rtl/spec/expression.py).
* ``dot_interaction`` -> a dot-interaction phase (phases/interaction.py).
* ``embedding_bag`` -> packed by ``pack_embeddings``; ``concat`` moves no data: its operands are written
  to column ranges of one DRAM tensor (the runner joins them when a later phase reads it).
"""

from __future__ import annotations

from rdagen.mapper.phases.eltwise import eltwise_phases
from rdagen.mapper.phases.interaction import InteractionPhase
from rdagen.mapper.phases.matmul import MatmulPhase
from rdagen.mapper.phases.phase import MapError, Phase
from rdagen.mapper.phases.ring import SystolicRingPhase
from rdagen.mapper.phases.systolic import SystolicMatmulPhase, systolic_phases, tile_systolic
from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.expression import ADD, RELU, SIGMOID

from .state import Lowering

ELTWISE = {"relu": RELU, "add": ADD, "sigmoid": SIGMOID}
"""The elementwise graph ops and their programs (rtl/spec/expression.py)."""


def k_chunks(cfg: ArrayConfig, k: int, bias: bool) -> list[tuple[int, int]]:
    """[k0, k1) ranges of K, each a row of X that fits one PMU (one range when all of K fits)."""
    if -(-(k + bias) // cfg.lanes) * cfg.lanes <= cfg.pmu_words:
        return [(0, k)]
    count = -(-k // cfg.pmu_words)
    size = -(-k // count)
    return [(k0, min(k, k0 + size)) for k0 in range(0, k, size)]


def _cost(s: Lowering, phases: list[Phase]) -> int:
    """Cycles of *phases* by the cost model on the program's memory (``Lowering.run_cycles``: a
    lowering that re-reads its operands pays for it), with the configuration loads: phases sharing a
    placement load once, and a phase of another variant of it (another bitstream on the same units)
    loads while the phase before runs, so it pays what that run does not hide."""
    runs = [s.run_cycles(p, tuple(phases)) for p in phases]
    loads = {p.placement_key or id(p): p.unit_configuration_cycles(s.cfg) for p in phases}
    exposed = sum(max(0, p.unit_configuration_cycles(s.cfg) - run)
                  for before, run, p in zip(phases, runs, phases[1:])
                  if p.placement_key is not None and p.placement_key == before.placement_key and p.variant != before.variant)
    return sum(runs) + sum(loads.values()) + exposed


def lower_matmul(s: Lowering, i: int) -> list[Phase]:
    if i in s.mlp_of:
        return [s.mlp_of[i]] if s.mlp_of[i] is not None else []
    phases = matmul_phases(s, i)
    r = _relu_after(s, i)
    if r is not None and s.graph.nodes[r].output in phases[-1].writes:  # the ring sends the ReLU itself
        s.absorbed.add(r)
    return _relu_from_producer(s, i, phases)


def _relu_after(s: Lowering, i: int) -> int | None:
    """The relu node that is the only use of matmul *i*'s result and runs as phases of its own (no
    matmul takes it fused into its input), or None."""
    use = s.only_use(s.matmuls[i].y)
    if use is None or s.graph.nodes[use[0]].op != "relu" or use[0] in s.absorbed:
        return None
    return use[0]


def _ring_sending_relu_after(s: Lowering, i: int, r: int | None) -> list[Phase] | None:
    """Matmul *i* in the systolic mode as a ring that sends the ReLU of its sums (``tile_systolic``'s
    *relu_out*), writing the output of relu node *r* that follows it (``_relu_after``), so that no
    elementwise phase reads Y back from DRAM to write its ReLU; None where no relu follows alone, the
    partial sums are not the ring's to choose, or no such ring fits."""
    if r is None or s.partial_sums not in ("auto", "ring"):
        return None
    mm, relu = s.matmuls[i], s.graph.nodes[r]
    m, k = s.shape(mm.x)
    n = s.shape(mm.w)[1]
    try:
        t = tile_systolic(s.cfg, s.where(i), m, k, n, mm.bias is not None, "ring", s.memory, relu_out=True,
                          pmus_kept=s.pmus_kept)
    except MapError:  # its PCUs cannot send a ReLU, or no ring fits
        return None
    relu_in, x = _systolic_input(s, i)
    return relu_in + [SystolicRingPhase(s.cfg, f"mm{i}", mm.covered + (r,), x, mm.w, mm.bias, relu.output, (m, k, n), t)]


def _relu_from_producer(s: Lowering, i: int, phases: list[Phase]) -> list[Phase]:
    """*phases* of matmul *i*, or, where its input's ReLU is an elementwise phase before a systolic
    matmul (``systolic_matmul``) that the producing ring can send instead (``_producer_sending_relu``)
    and the cost model finds that cheaper, without that phase, the producer replaced: the ReLU'd tensor
    crosses DRAM once, not three times."""
    found = _producer_sending_relu(s, i, phases)
    if found is None:
        return phases
    n, fused = found
    if s.cost(fused) >= s.cost(s.phases[n]) + s.cost(phases[0]):
        return phases
    s.phases[n] = fused
    return phases[1:]


def _producer_sending_relu(s: Lowering, i: int, phases: list[Phase]) -> tuple[int, Phase] | None:
    """Where *phases* (matmul *i*'s) begin with its input's ReLU as an elementwise phase and the input
    comes from a systolic matmul in one phase (a ring, or one section) that nothing else reads: that
    phase's position and the same matmul as a ring that sends the ReLU of its sums (phases/ring.py,
    ``tile_systolic``'s *relu_out*); else None."""
    mm = s.matmuls[i]
    if not (mm.relu_in and phases and phases[0].name == f"mm{i}r") or len(s.uses.get(mm.x, ())) != 1 \
            or mm.x in s.graph.outputs:
        return None
    relu = phases[0]
    n = next((n for n in reversed(range(len(s.phases))) if mm.x in s.phases[n].writes), None)
    p = s.phases[n] if n is not None else None
    if not (isinstance(p, SystolicRingPhase) or (isinstance(p, SystolicMatmulPhase) and len(p.t.sections) == 1)):
        return None
    try:
        t = tile_systolic(s.cfg, p.name, p.m, p.k, p.n, p.bias is not None, "ring", s.memory, relu_out=True)
    except MapError:  # its PCUs cannot send a ReLU, or no ring fits
        return None
    return n, SystolicRingPhase(s.cfg, p.name, p.nodes, p.x, p.w, p.bias, relu.writes[0], (p.m, p.k, p.n), t)


def matmul_phases(s: Lowering, i: int) -> list[Phase]:
    """Matmul node *i* on its own: the SIMD or the systolic mode, the one the cost model finds faster
    (the systolic mode's input ReLU from the producing ring where that is cheaper than its own phase;
    a relu that follows it alone, ``_relu_after``, from the ring itself where that is cheaper than its
    own phase after either mode: the phases then write the relu's output, and ``lower_matmul`` absorbs
    the relu node) or the one ``matmul_mode`` names."""
    if s.matmul_mode == "simd":
        return simd_matmul(s, i)
    try:
        systolic = systolic_matmul(s, i)
    except MapError:
        if s.matmul_mode == "systolic":
            raise
        return simd_matmul(s, i)
    r = _relu_after(s, i)
    relu = lower_eltwise(s, r) if r is not None else []
    options = ([] if s.matmul_mode == "systolic" else [(simd_matmul(s, i), relu)]) + [(systolic, relu)]
    sending = _ring_sending_relu_after(s, i, r)
    if sending is not None:
        options.append((sending, []))
    best, best_cost = None, None
    for phases, after in options:  # the first of the cheapest (SIMD before systolic, as before)
        cost = _cost(s, phases)
        found = _producer_sending_relu(s, i, phases)
        if found:  # the ReLU from the producing ring (``_relu_from_producer``) where that is cheaper
            n, fused = found
            cost = min(cost, _cost(s, [fused] + phases[1:]) - s.cost(s.phases[n]))
        cost += _cost(s, after) if after else 0
        if best_cost is None or cost < best_cost:
            best, best_cost = phases, cost
    return best


def systolic_matmul(s: Lowering, i: int) -> list[Phase]:
    """The matmul in the systolic mode (phases/systolic.py). Its PCUs' stages are all multiply-adds and
    its input a lane broadcast, so a ReLU fused into its input runs before it as an elementwise phase."""
    mm = s.matmuls[i]
    m, k = s.shape(mm.x)
    n = s.shape(mm.w)[1]
    relu, x = _systolic_input(s, i)
    return relu + systolic_phases(s.cfg, f"mm{i}", mm.covered, x, mm.w, mm.bias, mm.y, (m, k, n), s.where(i),
                                  s.partial_sums, s.memory, s.pmus_kept)


def _systolic_input(s: Lowering, i: int) -> tuple[list[Phase], str]:
    """The phases before matmul *i* in the systolic mode, and the tensor it reads: its input's ReLU, fused
    into it, as an elementwise phase (its PCUs' stages are all multiply-adds), or none."""
    node, mm = s.graph.nodes[i], s.matmuls[i]
    if not mm.relu_in:
        return [], mm.x
    x, shape = f"{node.output}#relu", s.shape(mm.x)
    return eltwise_phases(s.cfg, f"mm{i}r", mm.covered, RELU, (mm.x,), x, (shape,), shape, s.where(i)), x


def simd_matmul(s: Lowering, i: int) -> list[Phase]:
    """The matmul in the SIMD mode: one phase, or K chunks with their adds and the bias."""
    cfg, node, mm = s.cfg, s.graph.nodes[i], s.matmuls[i]
    m, k = s.shape(mm.x)
    n = s.shape(mm.w)[1]
    chunks = k_chunks(cfg, k, mm.bias is not None)
    if len(chunks) == 1:
        return [MatmulPhase(cfg, f"mm{i}", mm.covered, mm.x, mm.w, mm.bias, mm.relu_in, mm.y, (m, k, n), where=s.where(i))]
    # The sum of the products in some order, then + b, as the graph says.
    phases: list[Phase] = []
    total = None
    for c, (k0, k1) in enumerate(chunks):
        part = f"{node.output}#k{c}"
        phases.append(MatmulPhase(cfg, f"mm{i}k{c}", mm.covered, mm.x, mm.w, None, mm.relu_in, part, (m, k1 - k0, n),
                                  where=s.where(i), k_range=(k0, k1)))
        if total is not None:
            last = c == len(chunks) - 1 and mm.bias is None
            out = mm.y if last else f"{node.output}#s{c}"
            phases += eltwise_phases(cfg, f"mm{i}s{c}", mm.covered, ADD, (total, part), out, ((m, n), (m, n)),
                                     (m, n), s.where(i))
            part = out
        total = part
    if mm.bias is not None:
        phases += eltwise_phases(cfg, f"mm{i}b", mm.covered, ADD, (total, mm.bias), mm.y, ((m, n), (n,)), (m, n),
                                 s.where(i))
    return phases


def lower_interaction(s: Lowering, i: int) -> list[Phase]:
    node = s.graph.nodes[i]
    samples, width = s.shape(node.inputs[0])
    gathered = s.gathered.get(i, {})
    return [InteractionPhase(s.cfg, f"dot{i}", (i, *(g.node for g in gathered.values())), node.inputs, node.output,
                             samples, width, s.where(i), s.memory, gathered=gathered)]


def lower_eltwise(s: Lowering, i: int) -> list[Phase]:
    node = s.graph.nodes[i]
    reads = node.inputs
    if node.op == "add" and s.shape(reads[0]) != s.shape(node.output):
        reads = reads[::-1]  # the [N] operand second: it is added to every row
    return eltwise_phases(s.cfg, f"{node.op}{i}", (i,), ELTWISE[node.op], reads, node.output,
                          tuple(s.shape(t) for t in reads), s.shape(node.output), s.where(i))


def packed_elsewhere(s: Lowering, i: int) -> list[Phase]:
    return []


LOWERINGS = {"matmul": lower_matmul, "dot_interaction": lower_interaction, "relu": lower_eltwise,
             "add": lower_eltwise, "sigmoid": lower_eltwise, "embedding_bag": packed_elsewhere,
             "concat": packed_elsewhere}


def emit_phases(s: Lowering) -> None:
    for i, node in enumerate(s.graph.nodes):
        if i not in s.absorbed:
            s.phases += LOWERINGS[node.op](s, i)
