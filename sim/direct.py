"""The direct Verilator harness of the array (sim/harness/array_main.cpp): the whole run in C++, no
Python per cycle, for long runs and speed measurements. Same inputs and record as
``sim.array_run.run_array`` at full rate (no gaps, no stalls); with *waves*, a VCD of the whole array
or of one unit's scope (a separate build with tracing).

The harness is compiled per array with the port accessors generated here from the top's signature
(Verilator spells ``__`` in a port name as ``___05F``); builds are cached by the Verilog's digest and
the harness source.

Builds without tracing are hierarchical (``--hierarchical``, ``HIER_BLOCKS`` marked ``hier_block``):
each unit kind is verilated and compiled once instead of once per tile. Measured on ``small`` (2 cores,
idle, one 16k-cycle GEMM): flat, with a Verilog module per switch, 132 s (63 s verilating, 70 s C++)
and 5,750 cycles/s; with one module per network's switch (rtl/instance.py) and the units as hier
blocks, 62 s (25 s, 37 s) and 4,760 cycles/s; with the switches as hier blocks too, 53 s but 3,670
cycles/s (144 block calls per evaluation), so they are inlined. ``--threads 2`` gave 13 % more speed;
C++ at -O2 instead of -O1 3 %; C++ of the slow (initialisation) code at -O0 saves 2 s of 70.

Traced builds of the whole array are hierarchical too: Verilator traces the top (the switch networks,
the configuration registers and the wires to every unit's ports, named ``<unit>__<port>``) but not
inside a hierarchical block, so the VCD shows every unit's ports and handshakes. The inside of one unit
(or one network) is traced by a flat build limited to that scope (``scope``). Yosys's anonymous nets
(``$1``, ``$auto$...``: two thirds of the signals) are left out of every trace unless asked for
(``anonymous``): they have no name a user can relate to the Amaranth source, and tracing them doubles
the size of the trace code.

Where the generic model's time goes (``perf record`` of the harness on ``small``, the 16k-cycle GEMM,
4,540 cycles/s): the PCU blocks 39 %, the array top (the three switch networks and the configuration
registers, inlined) 42 %, the PMU blocks 12 %, the AGs 2 %, the harness and runtime 5 %; no function
above 15 %. The cost is spread over the whole datapath because Verilator evaluates every functional
unit of every lane and every route select each cycle, whatever the configuration selects (operand
isolation would not help: the work does not depend on the values). A 10x faster model of the same
RTL has to know the configuration, which is what the specialised model is.

*Specialised* builds (``specialised=True``, ``rdagen run --harness specialised``) are of the array
specialised to one bitstream (rtl/array.py: switch configurations are constants, each unit a
``ConfiguredUnit``), built so that Verilator folds the configuration into the logic: operand selects,
switch routes and the result selection of every functional unit become wires and the units no op
selects are removed. Up to ``FLAT_LANE_STAGES`` every module is inlined (``--flatten``); beyond, each
configured unit module is a hierarchical block. It is the same RTL; its configuration is built in, so
the harness skips the loading (idle cycles with the units held in reset: up to 5,040 on plasticine) and
runs are the same as the generic model's, cycle for cycle from ``run``; the tests compare every
handshake's cycle and payload (the harness's ``trace`` digest). Measured on
``small`` (the 16k-cycle GEMM, flat): built in 49 s (33 s verilating, 17 s C++), 121,900 cycles/s
against 4,760 for the generic model (with the configured units as blocks: 57 s, 49,200 cycles/s); the
price is a build per bitstream.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from rdagen.rtl.spec.array_layout import configuration_units, plan
from rdagen.rtl.spec.config_port import config_beats, config_port_layout, describe_refusal
from rdagen.rtl.spec.array_layout import unit_name
from rdagen.rtl.spec.bitstream import NETWORKS, Kind, decode
from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.memory import IDEAL, Memory

from .array_run import config_loads
from .build_progress import compile_count, heartbeat, planned_files
from .paths import BUILD, disk_note, new_run_dir
from .runner import VERILATOR_MAKE_VARS, SimulationFailed, locked, toolchain_env, verilator_bin
from .streams import DRAIN, cycle_budget
from .verilog import GeneratedVerilog, generate, generate_specialised

__all__ = ["build_direct", "run_direct", "run_segments", "Segment", "DirectSession", "inlined", "specialised_model", "check_scope", "trace_scopes"]

HARNESS = Path(__file__).with_name("harness") / "array_main.cpp"
HIER_BLOCKS = ("rdagen_pcu", "rdagen_pmu", "rdagen_ag")
# PCU lane-stages (PCUs x lanes x stages) up to which a specialised model is verilated with every module
# inlined. Verilator's peak memory grows with them: 1.3 GB on small (128), over 24 GB (killed) on
# plasticine (6,144).
FLAT_LANE_STAGES = 1000
_STREAMS_IN = ("ag_cmd", "ag_wcmd", "vsend", "ssend", "csend")
_STREAMS_OUT = ("vrecv", "srecv", "crecv")
_AXI_BOOL_OUT = ("arvalid", "rready", "awvalid", "wvalid", "wlast", "bready")
_AXI_BOOL_IN = ("arready", "awready", "wready", "rvalid", "rlast", "bvalid")


def _port(name: str) -> str:
    return "top->" + name.replace("__", "___05F")


def _ports_inc(cfg: ArrayConfig) -> str:
    lines = ["static const int ROWS = %d;" % cfg.rows,
             "static void bind(Vrdagen_array* top, std::map<std::string, Source>& sources, "
             "std::map<std::string, Sink>& sinks, std::vector<Axi>& axi) {"]
    for r in range(cfg.rows):
        for s in _STREAMS_IN:
            p = f"{s}__{r}__"
            lines.append(f'    sources["{s}__{r}"] = Source{{[=](bool v, const Words& w) {{ {_port(p + "valid")} = v; '
                         f'put({_port(p + "payload")}, w); }}, [=] {{ return (bool){_port(p + "ready")}; }}}};')
        for s in _STREAMS_OUT:
            p = f"{s}__{r}__"
            lines.append(f'    sinks["{s}__{r}"] = Sink{{[=](bool v) {{ {_port(p + "ready")} = v; }}, '
                         f'[=] {{ return (bool){_port(p + "valid")}; }}, [=] {{ return get({_port(p + "payload")}); }}}};')
        a = f"m_axi__{r}__"
        for sig in _AXI_BOOL_OUT:
            lines.append(f"    axi[{r}].{sig} = [=] {{ return (bool){_port(a + sig)}; }};")
        for sig in ("araddr", "awaddr"):
            lines.append(f"    axi[{r}].{sig} = [=] {{ return (uint64_t){_port(a + sig)}; }};")
        for sig in ("arlen", "arid", "awlen", "awid"):
            lines.append(f"    axi[{r}].{sig} = [=] {{ return (uint32_t){_port(a + sig)}; }};")
        for sig in ("wdata", "wstrb"):
            lines.append(f"    axi[{r}].{sig} = [=] {{ return get({_port(a + sig)}); }};")
        for sig in _AXI_BOOL_IN:
            lines.append(f"    axi[{r}].{sig} = [=](bool v) {{ {_port(a + sig)} = v; }};")
        for sig in ("rid", "bid"):
            lines.append(f"    axi[{r}].{sig} = [=](uint32_t v) {{ {_port(a + sig)} = v; }};")
        lines.append(f"    axi[{r}].rdata = [=](const Words& w) {{ put({_port(a + 'rdata')}, w); }};")
        lines.append(f"    {_port(a + 'rresp')} = 0; {_port(a + 'bresp')} = 0;")
    lines.append("}")
    return "\n".join(lines) + "\n"


def trace_scopes(cfg: ArrayConfig) -> list[str]:
    """The scopes a traced build can be limited to: each unit and each network's switch grid."""
    units = [unit_name(a) for a in configuration_units(cfg) if a.kind != Kind.SWITCH]
    return units + [f"{network}_network" for network in NETWORKS]


def check_scope(cfg: ArrayConfig, scope: str) -> None:
    """Refuses a trace scope that is not one of ``trace_scopes(cfg)`` (ValueError listing them)."""
    if scope and scope not in trace_scopes(cfg):
        raise ValueError(f"trace scope {scope!r} is not a unit of the {cfg.rows}x{cfg.cols} array of {cfg.name}: "
                         f"one of {', '.join(trace_scopes(cfg))}")


def build_direct(gen: GeneratedVerilog, cfg: ArrayConfig, waves: bool = False, scope: str = "",
                 anonymous: bool = False) -> tuple[Path, float]:
    """The compiled harness of the array Verilog *gen* (built once per Verilog, harness source, *waves*,
    *scope* and *anonymous*); returns (executable, seconds spent building, 0 when cached). With *waves*,
    the VCD holds the top's signals and every unit's ports, or with *scope* (one of ``trace_scopes``)
    that unit's signals and the wires to its ports alone; Yosys's anonymous nets only with *anonymous*.
    A specialised array (``gen.top == "array-spec"``) is built so that Verilator folds its constant
    configuration into the units (``_blocks``)."""
    toolchain_env()
    check_scope(cfg, scope)
    ports = _ports_inc(cfg)
    blocks = _blocks(gen, cfg, waves, scope)
    vlt = _trace_vlt(gen, scope, anonymous) if waves else ""
    key = hashlib.sha256((gen.digest + HARNESS.read_text() + ports + repr(VERILATOR_MAKE_VARS) + str(waves)
                          + repr(blocks) + vlt).encode()).hexdigest()[:16]
    kind = ("-spec" if gen.top == "array-spec" else "") + ("-trace" if waves else "") + (f"-{scope}" if waves and scope else "")
    out = BUILD / "direct" / f"array-{cfg.name}{kind}-{key}"
    exe = out / "obj" / "harness"
    with locked(out.with_name(out.name + ".lock")):  # parallel test workers build it once
        if exe.exists():
            return exe, 0.0
        return exe, _build(gen, out, waves, ports, blocks, vlt, scope if waves else "")


def _trace_vlt(gen: GeneratedVerilog, scope: str, anonymous: bool) -> str:
    """Verilator configuration of a traced build: with *scope*, that unit alone (everything inside it,
    and the top's wires to its ports, named <unit>__<port>); without *anonymous*, no net named by Yosys
    (``$...``: Verilator matches the pattern against each signal's full name; ``.$`` so that the signals
    inside an anonymous submodule, ``U$0``, stay)."""
    lines = ["`verilator_config"]
    if scope:
        lines += ['tracing_off -scope "*"', f'tracing_on -scope "{gen.module}.{scope}.*"',
                  f'tracing_on -scope "{gen.module}.{scope}__*"']
    if not anonymous:
        lines.append('tracing_off -scope "*.$*"')
    return "\n".join(lines) + "\n"


def inlined(cfg: ArrayConfig) -> bool:
    """Whether a specialised model of *cfg* is built with every module inlined (``FLAT_LANE_STAGES``), and
    whether its array is linted whole (beyond, module by module: sim/lint.py)."""
    pcus = sum((r + c) % 2 == 0 for r in range(cfg.rows) for c in range(cfg.cols))
    return pcus * cfg.lanes * cfg.stages <= FLAT_LANE_STAGES


def specialised_model(cfg: ArrayConfig, bitstream: bytes) -> GeneratedVerilog:
    """The Verilog of the array specialised to *bitstream*. Inlined, every unit is specialised to its
    word (numbers taken from a port would not fold: half the speed on ``small``); as blocks, units of
    a kind with many distinct words share modules by structure (rtl/array.py ``WORDS_PER_KIND``)."""
    return generate_specialised(cfg, decode(plan(cfg), bitstream), share=not inlined(cfg))


def _blocks(gen: GeneratedVerilog, cfg: ArrayConfig, waves: bool, scope: str) -> tuple[str, ...] | None:
    """The modules verilated as hierarchical blocks, or None to inline every module (``--flatten``).
    The generic model: the unit kinds (none when one *scope* is traced: Verilator does not trace inside
    a hierarchical block). A specialised model: none up to ``FLAT_LANE_STAGES`` (the fastest model);
    beyond, Verilator's memory forbids inlining and each configured unit module is a block, verilated on
    its own with its configuration folded in (but the block of a traced *scope*); traced whole, always
    inlined."""
    if gen.top != "array-spec":
        return () if waves and scope else HIER_BLOCKS
    if (waves and not scope) or inlined(cfg):
        return None
    return tuple(module for module, units in gen.blocks if not (waves and scope in units))


def _build(gen: GeneratedVerilog, out: Path, waves: bool, ports: str, blocks: tuple[str, ...] | None,
           trace_vlt: str, scope: str) -> float:
    if out.exists():
        shutil.rmtree(out)
    (out / "obj").mkdir(parents=True)
    (out / "obj" / "ports.inc").write_text(ports)
    started = time.perf_counter()
    log = out / "build.log"
    shape = f"hierarchical: {', '.join(blocks)}" if blocks else "flat, every module inlined" if blocks is None else "flat"
    hierarchy = ["--flatten"] if blocks is None else []
    if blocks:
        vlt = out / "hier.vlt"
        vlt.write_text("`verilator_config\n" + "".join(f'hier_block -module "{m}"\n' for m in blocks))
        hierarchy = ["--hierarchical", str(vlt)]
    if waves:
        vlt = out / "trace.vlt"
        vlt.write_text(trace_vlt)
        hierarchy = [*hierarchy, str(vlt)]
        shape += f", tracing {scope or 'the top and every unit port'}"
    verilate = [verilator_bin(), "--cc", "--exe", "-O3", "-j", str(os.cpu_count() or 2), "-Wno-fatal", "-Wno-lint",
                "-Wno-style", "--x-assign", "fast", "--x-initial", "fast", "--top-module", gen.module, "-Mdir", str(out / "obj"), "-o", "harness",
                "-CFLAGS", "-std=c++17" + (" -DRDAGEN_TRACE" if waves else ""), *(["--trace"] if waves else []),
                *hierarchy, str(HARNESS), str(gen.path)]
    make = ["make", "-j", str(os.cpu_count() or 2), "-C", str(out / "obj"), "-f", f"V{gen.module}.mk",
            *(f"{k}={v}" for k, v in VERILATOR_MAKE_VARS.items())]
    steps = {}
    with open(log, "w") as handle:
        for step, cmd in (("verilate", verilate), ("compile", make)):
            label = f"[direct] {cfg_name(out)}: {step}"
            print(f"{label} ({shape}; log {log}) ...", file=sys.stderr, flush=True)
            begun = time.perf_counter()
            handle.flush()
            detail = None if step == "verilate" else compile_count(
                log, lambda: planned_files(out / "obj", f"V{gen.module}.mk", VERILATOR_MAKE_VARS), log.stat().st_size)
            with heartbeat(label, detail):
                failed = subprocess.run(cmd, stdout=handle, stderr=subprocess.STDOUT).returncode
            if failed:
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
                raise SimulationFailed(f"direct harness build failed ({cmd[0]}){disk_note(out, log)}; log {log}:\n{tail}")
            steps[f"{step}_seconds"] = round(time.perf_counter() - begun, 1)
            print(f"{label}: done in {steps[f'{step}_seconds']:.0f} s", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - started
    _keep_only(out / "obj", "harness")
    # The peak resident memory of the largest process the build ran (verilator or a compiler), in MB.
    steps["peak_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
    (out / "build_seconds").write_text(f"{seconds:.2f}\n")
    (out / "build_steps.json").write_text(json.dumps(steps) + "\n")
    return seconds


def _keep_only(obj: Path, exe: str) -> None:
    """Removes the build's intermediate files (C++ sources, objects, libraries: about 450 MB on small)
    once the executable is linked: a model is rebuilt from scratch or not at all (cached by hash)."""
    for path in obj.iterdir():
        if path.name != exe:
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()


def cfg_name(out: Path) -> str:
    return out.name.rsplit("-", 1)[0]


@dataclasses.dataclass
class Segment:
    """One segment of a direct-harness run: the loads swapped in before it (each a list of
    configuration-port beats, rtl/spec/config_port.py; none: the one streamed during the segment before
    as its ``next``), its host streams, DRAM images, regions read back and done tokens, *work* (cycles
    it should take at full speed, for the hang budget) and *next*, the beats streamed into the shadow
    context while it runs."""
    sources: dict
    sinks: dict
    dram: dict | None = None
    readback: tuple = ()
    done_tokens: int = 0
    work: int = 0
    loads: list = dataclasses.field(default_factory=list)
    next: list = dataclasses.field(default_factory=list)


def _words(value: int, count: int) -> str:
    return " ".join(f"{(int(value) >> (32 * j)) & 0xFFFFFFFF:x}" for j in range(count))


def _header(cfg: ArrayConfig, memory: Memory) -> list[str]:
    return [f"lanes {cfg.lanes}", f"drain {DRAIN}", f"dram_latency {memory.read_latency}",
            f"dram_bandwidth {0 if memory.bytes_per_cycle is None else max(1, round(1000 * memory.bytes_per_cycle))}",
            f"beat_words {-(-config_port_layout(cfg).size // 32)}"]


def _segment_lines(cfg: ArrayConfig, seg: Segment) -> list[str]:
    beat_words = -(-config_port_layout(cfg).size // 32)
    lines = ["segment", f"done_tokens {seg.done_tokens}",
             f"budget {cycle_budget(4 * sum(seg.sinks.values()) + DRAIN + seg.work, 0, 0, 256)}"]
    for beats in seg.loads:
        lines += [f"load {len(beats)}", *(_words(b, beat_words) for b in beats)]
    if seg.next:
        lines += [f"next {len(seg.next)}", *(_words(b, beat_words) for b in seg.next)]
    widths = _payload_words(cfg)
    for name, values in seg.sources.items():
        words = widths[name.partition("__")[0]]
        lines.append(f"source {name} {len(values)} {words}")
        lines += [_words(v, words) for v in values]
    lines += [f"sink {name} {n}" for name, n in seg.sinks.items()]
    for row, regions in (seg.dram or {}).items():
        for base, values in regions.items():
            values = np.asarray(values, np.uint32).ravel()
            lines.append(f"dram {row} {int(base)} {len(values)}")
            lines += [" ".join(f"{w:x}" for w in values[i:i + 16]) for i in range(0, len(values), 16)]
    lines += [f"readback {int(row)} {int(base)} {int(count)}" for row, base, count in seg.readback]
    return lines + ["go"]


def _record(line: str) -> dict:
    record = json.loads(line)
    record["outputs"] = {n: [int(v, 16) for v in values] for n, values in record["outputs"].items()}
    record["readback"] = [np.asarray(words, np.uint32) for words in record["readback"]]
    return record


def run_direct(cfg: ArrayConfig, bitstream: bytes, *, sources: dict, sinks: dict, dram: dict | None = None,
               work: int = 0, done_tokens: int = 0, tag: str = "direct", waves: bool = False, scope: str = "",
               anonymous: bool = False, readback=(), specialised: bool = False, previous: bytes | None = None,
               memory: Memory = IDEAL) -> dict:
    """Runs the array in the direct harness (on the model specialised to *bitstream* with
    *specialised*), configured with *bitstream* after *previous* (``array_run.config_loads``); the
    record of ``sim.array_run.run_array`` (with ``readback``: one uint32 array per
    (AG row, word address, words) region) plus ``trace`` (the digest of every handshake), ``seconds``
    (the harness process alone), ``build_seconds`` and, with *waves*, ``vcd`` (of *scope* alone if
    given: ``build_direct``), ``load_cycles`` (loading and swaps before the run) and ``dram``: what the
    *memory* (rtl/spec/memory.py) saw: the fewest and most cycles from a read request to its first
    beat, the bytes moved, the cycles of the first and the last beat."""
    loads = config_loads(cfg, bitstream, previous)  # validated either way
    if specialised:  # its configuration is built in: loading it (with the units held in reset) is idle time
        loads = [[]]
    segment = Segment(sources, sinks, dram, tuple(readback), done_tokens, work, [config_beats(cfg, w) for w in loads])
    gen = specialised_model(cfg, bitstream) if specialised else generate("array", cfg)
    (record,) = run_segments(cfg, [segment], gen=gen, tag=tag, waves=waves, scope=scope, anonymous=anonymous,
                             memory=memory)
    if record["refused"]:
        raise SimulationFailed(f"the configuration port refused the load: "
                               f"{describe_refusal(record['refused'], record['refused_lanes'])}")
    return record


def run_segments(cfg: ArrayConfig, segments: list[Segment], *, gen: GeneratedVerilog | None = None,
                 tag: str = "direct", waves: bool = False, scope: str = "", anonymous: bool = False,
                 memory: Memory = IDEAL) -> list[dict]:
    """Runs *segments* one after the other on one array in the direct harness (the generic model, or
    *gen*): a record per segment (``run_direct``'s, with ``refused``/``refused_lanes``: the port's
    registers after a refused swap, and ``quiet_beats``: configuration beats taken in the quiet cycles
    that end it). *seconds* and *build_seconds* are of the whole run."""
    check_scope(cfg, scope)
    gen = gen or generate("array", cfg)
    exe, build_seconds = build_direct(gen, cfg, waves, scope, anonymous)
    lines = _header(cfg, memory)
    for seg in segments:
        lines += _segment_lines(cfg, seg)
    run_dir = new_run_dir(tag)
    (run_dir / "run.txt").write_text("\n".join(lines) + "\n")
    started = time.perf_counter()
    vcd = run_dir / "dump.vcd"
    proc = subprocess.run([str(exe), str(run_dir / "run.txt"), str(run_dir / "result.json"),
                           *([str(vcd)] if waves else [])], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode:
        raise SimulationFailed(f"direct harness failed (status {proc.returncode}): {proc.stderr.strip()}")
    records = [_record(line) for line in (run_dir / "result.json").read_text().splitlines()]
    for record in records:
        record.update(seconds=seconds, build_seconds=build_seconds, **({"vcd": str(vcd)} if waves else {}))
    return records


class DirectSession:
    """One direct-harness process of the generic array model that runs segments as they are given
    (``run``): the host between segments (a program's runner laying the next phase's tensors into
    DRAM) sees each segment's results before it gives the next, while the array keeps its state (DRAM,
    PMU contents, the shadow context streaming the next configuration). Use as a context manager."""

    def __init__(self, cfg: ArrayConfig, *, memory: Memory = IDEAL, tag: str = "session", waves: bool = False,
                 scope: str = "", anonymous: bool = False):
        check_scope(cfg, scope)
        self.cfg = cfg
        exe, self.build_seconds = build_direct(generate("array", cfg), cfg, waves, scope, anonymous)
        self.run_dir = new_run_dir(tag)
        self.vcd = str(self.run_dir / "dump.vcd") if waves else None
        self.log = open(self.run_dir / "stderr.txt", "w")
        self.proc = subprocess.Popen([str(exe), "-", "-", *([self.vcd] if waves else [])], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.proc.stdin.write("\n".join(_header(cfg, memory)) + "\n")
        self.seconds = 0.0

    def run(self, segment: Segment) -> dict:
        started = time.perf_counter()
        self.proc.stdin.write("\n".join(_segment_lines(self.cfg, segment)) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        self.seconds += time.perf_counter() - started
        if not line:
            self.proc.wait()
            self.log.flush()
            raise SimulationFailed(f"direct harness failed (status {self.proc.returncode}): "
                                   f"{(self.run_dir / 'stderr.txt').read_text().strip()}")
        record = _record(line)
        record.update(seconds=time.perf_counter() - started, build_seconds=self.build_seconds,
                      **({"vcd": self.vcd} if self.vcd else {}))
        return record

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait()
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _payload_words(cfg: ArrayConfig) -> dict[str, int]:
    """32-bit words of each host input stream's payload."""
    return {"ag_cmd": 2, "ag_wcmd": 2, "vsend": cfg.lanes, "ssend": 1, "csend": 1}
