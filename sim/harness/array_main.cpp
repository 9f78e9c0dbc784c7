// Direct Verilator harness of the array top: no Python in the cycle loop.
//
// Reads a run description (sim/direct.py writes it: a file, or "-" for the standard input, segment by
// segment), and runs its segments one after the other on one array: each loads its configuration
// through the config port into the shadow context (or finds it loaded, streamed during the segment
// before: `next`), swaps it in, raises `run` (it stays high from then on), drives the host streams at
// full rate (every source valid while it has words,
// every sink ready), serves every AG's AXI4 port from a word-addressed memory (reads: one beat per
// cycle in burst order, the first `dram_latency` cycles after the request; writes: byte strobes; one
// outstanding response queue per channel; all AGs' beats within `dram_bandwidth` bytes per cycle:
// rtl/spec/memory.py), and writes the host outputs, the registers, the cycle counts and what the
// memory saw (`dram`: read latencies, bytes, busy cycles) as a JSON line per segment (to a file, or "-"
// for the standard output, flushed as each segment ends), with `trace`: a digest (64-bit FNV-1a)
// of every handshake of the run (host streams and AXI channels) with its cycle and payload, so two
// models of the same run can be compared cycle for cycle (sim/direct.py's specialised builds).
//
// The port accessors (PORTS) are generated per array by sim/direct.py from the top's signature.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "Vrdagen_array.h"
#include "verilated.h"
#ifdef RDAGEN_TRACE
#include "verilated_vcd_c.h"
#endif

typedef std::vector<uint32_t> Words;  // a port value as 32-bit words, least significant first

template <typename T> static void put(T& port, const Words& w) {
    uint64_t v = w.empty() ? 0 : w[0];
    if (sizeof(T) > 4 && w.size() > 1) v |= (uint64_t)w[1] << 32;
    port = (T)v;
}
template <std::size_t N> static void put(VlWide<N>& port, const Words& w) {
    for (std::size_t i = 0; i < N; i++) port[i] = i < w.size() ? w[i] : 0;
}
template <typename T> static Words get(const T& port) {
    uint64_t v = port;
    return sizeof(T) > 4 ? Words{(uint32_t)v, (uint32_t)(v >> 32)} : Words{(uint32_t)v};
}
template <std::size_t N> static Words get(const VlWide<N>& port) {
    Words w(N);
    for (std::size_t i = 0; i < N; i++) w[i] = port[i];
    return w;
}

struct Source {
    std::function<void(bool, const Words&)> drive;
    std::function<bool()> ready;
    std::vector<Words> items;
    std::size_t at = 0;
};

struct Sink {
    std::function<void(bool)> set_ready;
    std::function<bool()> valid;
    std::function<Words()> payload;
    std::vector<Words> got;
    long expect = 0;
    bool listed = false;  // only the sinks of the run take words (as in the cocotb bench)
};

struct Axi {  // accessors of one AG's AXI4 port
    std::function<bool()> arvalid, rready, awvalid, wvalid, wlast, bready;
    std::function<uint64_t()> araddr, awaddr;
    std::function<uint32_t()> arlen, arid, awlen, awid;
    std::function<Words()> wdata, wstrb;
    std::function<void(bool)> arready, awready, wready, rvalid, rlast, bvalid;
    std::function<void(uint32_t)> rid, bid;
    std::function<void(const Words&)> rdata;
    // the memory model
    std::unordered_map<uint64_t, uint32_t> mem;  // word address -> word
    struct Burst { uint64_t beat; uint32_t beats, id; long ready, asked; };  // ready: first cycle a beat may move
    std::deque<Burst> reads, writes;
    std::deque<uint32_t> responses;
};

#include "ports.inc"  // void bind(Vrdagen_array*, std::map<std::string, Source>&, std::map<std::string, Sink>&, std::vector<Axi>&)

struct Segment {
    long done_tokens = 0, budget = 0;
    std::vector<std::vector<Words>> loads;  // swapped in, one after the other, before the segment runs
    std::vector<Words> next;                // streamed while it runs: the next segment's configuration
    std::vector<std::pair<std::string, std::vector<Words>>> sources;
    std::vector<std::pair<std::string, long>> sinks;
    struct Region { long row; uint64_t base; long count; };
    std::vector<Region> readback;
};

static std::vector<Words> read_words(std::istream& in, long n, long words) {
    std::vector<Words> out;
    for (long i = 0; i < n; i++) {
        Words w(words);
        for (long j = 0; j < words; j++) in >> std::hex >> w[j] >> std::dec;
        out.push_back(w);
    }
    return out;
}

int main(int argc, char** argv) {
    if (argc != 3 && argc != 4) {
        std::fprintf(stderr, "usage: %s RUN_FILE|- RESULT_JSON|- [VCD]\n", argv[0]);
        return 2;
    }
    std::ifstream file;
    if (std::string(argv[1]) != "-") file.open(argv[1]);
    std::istream& in = std::string(argv[1]) == "-" ? std::cin : file;
    FILE* out = std::string(argv[2]) == "-" ? stdout : std::fopen(argv[2], "w");
    Verilated::commandArgs(1, argv);
    auto* top = new Vrdagen_array;
    uint64_t now = 0;  // picoseconds: a 10 ns clock, as in the cocotb bench
#ifdef RDAGEN_TRACE
    VerilatedVcdC* vcd = nullptr;
    if (argc == 4) {
        Verilated::traceEverOn(true);
        vcd = new VerilatedVcdC;
        top->trace(vcd, 99);
        vcd->open(argv[3]);
    }
    auto dump = [&]() { if (vcd) vcd->dump(now); now += 5000; };
#else
    if (argc == 4) { std::fprintf(stderr, "this harness was built without tracing\n"); return 2; }
    auto dump = [&]() { now += 5000; };
#endif
    std::map<std::string, Source> sources;
    std::map<std::string, Sink> sinks;
    std::vector<Axi> axi(ROWS);
    bind(top, sources, sinks, axi);

    long lanes = 0, drain = 64, beat_words = 1;
    long latency = 1, bandwidth = 0;  // DRAM: read latency (cycles); bytes per 1000 cycles (0: unlimited)
    std::deque<std::vector<Words>> pending;  // loads queued for the config port, each swapped in when sent
    std::size_t sent = 0;                    // beats of pending.front() already taken
    int64_t credit = 0, beat_cost = 0, budget_cap = 0;
    long rotate = 0;

    auto tick = [&]() { top->clk = 0; top->eval(); dump(); top->clk = 1; top->eval(); dump(); };
    top->run = 0;
    top->swap = 0;
    top->swap_on_done = 0;
    top->config___05Fvalid = 0;
    top->rst = 1;
    tick();
    top->rst = 0;

    // Drives the config port from the front pending load (a beat per cycle while it has beats).
    auto drive_config = [&]() {
        bool beat = !pending.empty() && sent < pending.front().size();
        top->config___05Fvalid = beat;
        if (beat) put(top->config___05Fpayload, pending.front()[sent]);
    };
    auto config_taken = [&]() { return (bool)top->config___05Fvalid && (bool)top->config___05Fready; };

    std::string key, name;
    bool first_segment = true;
    while (in >> key) {
        if (key == "lanes") { in >> lanes; continue; }
        if (key == "drain") { in >> drain; continue; }
        if (key == "dram_latency") { in >> latency; continue; }
        if (key == "dram_bandwidth") { in >> bandwidth; continue; }
        if (key == "beat_words") { in >> beat_words; continue; }
        if (key != "segment") { std::fprintf(stderr, "bad key %s\n", key.c_str()); return 2; }
        Segment seg;
        long n;
        while (in >> key && key != "go") {
            if (key == "done_tokens") in >> seg.done_tokens;
            else if (key == "budget") in >> seg.budget;
            else if (key == "load") { in >> n; seg.loads.push_back(read_words(in, n, beat_words)); }
            else if (key == "next") { in >> n; seg.next = read_words(in, n, beat_words); }
            else if (key == "source") {
                long words;
                in >> name >> n >> words;
                if (!sources.count(name)) { std::fprintf(stderr, "unknown source %s\n", name.c_str()); return 2; }
                seg.sources.push_back({name, read_words(in, n, words)});
            } else if (key == "sink") {
                in >> name >> n;
                if (!sinks.count(name)) { std::fprintf(stderr, "unknown sink %s\n", name.c_str()); return 2; }
                seg.sinks.push_back({name, n});
            } else if (key == "dram") {
                long row; uint64_t base;
                in >> row >> base >> n;
                for (long i = 0; i < n; i++) { uint32_t w; in >> std::hex >> w >> std::dec; axi[row].mem[base + i] = w; }
            } else if (key == "readback") {
                Segment::Region r;
                in >> r.row >> r.base >> r.count;
                seg.readback.push_back(r);
            } else { std::fprintf(stderr, "bad segment key %s\n", key.c_str()); return 2; }
        }
        if (first_segment) {
            const uint64_t beat_bytes = 4 * lanes;
            beat_cost = 1000 * (int64_t)beat_bytes;
            budget_cap = bandwidth + beat_cost;
            credit = budget_cap;
            first_segment = false;
        }
        const uint64_t beat_bytes = 4 * lanes;
        for (auto& s : sources) { s.second.items.clear(); s.second.at = 0; }
        for (auto& s : sinks) { s.second.got.clear(); s.second.expect = 0; s.second.listed = false; }
        for (auto& [n2, items] : seg.sources) sources[n2].items = items;
        for (auto& [n2, count] : seg.sinks) { sinks[n2].expect = count; sinks[n2].listed = true; }
        for (auto& load : seg.loads) pending.push_back(load);

        // Loading: the pending loads, each swapped in once sent (the units hold the old configuration,
        // idle, meanwhile). The last swap makes this segment's configuration active.
        long load_cycles = 0;
        uint32_t refused = 0, refused_lanes = 0;
        for (auto& s : sources) s.second.drive(false, Words{});
        for (auto& s : sinks) s.second.set_ready(false);
        while (!pending.empty()) {
            bool all_sent = sent >= pending.front().size();
            top->swap = all_sent;
            if (all_sent) top->config___05Fvalid = 0; else drive_config();
            top->clk = 0; top->eval(); dump();
            if (!all_sent && config_taken()) sent++;
            top->clk = 1; top->eval(); dump();
            if (all_sent) {
                top->swap = 0;
                if ((uint32_t)top->config_refused && !refused) {
                    refused = (uint32_t)top->config_refused;
                    refused_lanes = (uint32_t)top->config_refused_lanes;
                }
                pending.pop_front();
                sent = 0;
            }
            load_cycles++;
        }
        top->swap = 0;
        if (!seg.next.empty()) pending.push_back(seg.next);
        top->run = 1;
        top->done_tokens = seg.done_tokens;

        // The run ends after `drain` quiet cycles: every output complete, every source taken, no AXI
        // transfer in flight (a run may only write to DRAM), the done register high when done tokens are
        // counted, and the errors register unchanged (a unit still counting refused accesses is working).
        long cycles = 0, drained = 0, finish = -1;
        long quiet_beats = 0;  // configuration beats taken in the quiet cycles that end the run
        long first_beat = -1, last_beat = -1, min_latency = -1, max_latency = -1;
        uint64_t dram_bytes = 0;
        uint32_t errors_seen = 0;  // the units' counters restart with the swap
        uint64_t trace = 1469598103934665603ULL;
        auto mix = [&](uint64_t v) { for (int i = 0; i < 8; i++) { trace ^= (v >> (8 * i)) & 0xFF; trace *= 1099511628211ULL; } };
        auto event = [&](uint64_t channel, const Words& payload) {
            mix(cycles); mix(channel);
            for (uint32_t w : payload) mix(w);
        };
        while (drained < drain && cycles < seg.budget) {
            // clock low: drive this cycle's inputs
            for (auto& [_, s] : sources) s.drive(s.at < s.items.size(), s.at < s.items.size() ? s.items[s.at] : Words{});
            for (auto& [_, s] : sinks) s.set_ready(s.listed);
            drive_config();
            // Grant this cycle's beats within the bandwidth budget, round robin from `rotate`, reads and
            // writes first in turn. With a budget, only to an AG that takes the beat this cycle (its rready,
            // its wvalid, seen with no beat offered), so that no grant holds bytes another AG could use.
            std::vector<bool> taker_r(axi.size(), true), taker_w(axi.size(), true);
            if (bandwidth) {
                credit = std::min(budget_cap, credit + bandwidth);
                for (auto& a : axi) { a.rvalid(false); a.wready(false); a.bvalid(false); }
                top->clk = 0;
                top->eval();
                for (std::size_t k = 0; k < axi.size(); k++) { taker_r[k] = axi[k].rready(); taker_w[k] = axi[k].wvalid(); }
            }
            std::vector<bool> read_grant(axi.size()), write_grant(axi.size());
            for (int pass = 0; pass < 2; pass++)
                for (std::size_t k = 0; k < axi.size(); k++) {
                    std::size_t at = (k + rotate) % axi.size();
                    auto& a = axi[at];
                    bool reads = (pass + rotate) % 2 == 0;
                    bool want = reads ? !a.reads.empty() && a.reads.front().ready <= cycles && taker_r[at]
                                      : !a.writes.empty() && taker_w[at];
                    if (!want || (bandwidth && credit < beat_cost)) continue;
                    if (bandwidth) credit -= beat_cost;
                    (reads ? read_grant : write_grant)[at] = true;
                }
            rotate++;
            for (std::size_t k = 0; k < axi.size(); k++) {
                auto& a = axi[k];
                a.arready(true); a.awready(true); a.wready(write_grant[k]);
                bool r = read_grant[k];
                a.rvalid(r);
                if (r) {
                    auto& b = a.reads.front();
                    Words w(lanes);
                    for (long i = 0; i < lanes; i++) {
                        auto it = a.mem.find(b.beat * lanes + i);
                        w[i] = it == a.mem.end() ? 0 : it->second;
                    }
                    a.rdata(w); a.rid(b.id); a.rlast(b.beats == 1);
                }
                a.bvalid(!a.responses.empty());
                if (!a.responses.empty()) a.bid(a.responses.front());
            }
            top->clk = 0;
            top->eval();
            dump();
            // sample the handshakes of this cycle
            bool config_fire = config_taken();
            std::vector<Source*> taken;
            uint64_t channel = 0;
            for (auto& [_, s] : sources) {
                if (s.at < s.items.size() && s.ready()) { taken.push_back(&s); event(channel, s.items[s.at]); }
                channel++;
            }
            for (auto& [_, s] : sinks) {
                if (s.listed && s.valid()) { s.got.push_back(s.payload()); event(channel, s.got.back()); }
                channel++;
            }
            for (std::size_t k = 0; k < axi.size(); k++) {
                auto& a = axi[k];
                channel += 8;
                bool r_fire = read_grant[k] && a.rready();
                bool b_fire = !a.responses.empty() && a.bready();
                bool w_fire = write_grant[k] && a.wvalid();
                if (bandwidth) credit += (read_grant[k] && !r_fire ? beat_cost : 0) + (write_grant[k] && !w_fire ? beat_cost : 0);
                if (r_fire || w_fire) {
                    dram_bytes += beat_bytes * (r_fire + w_fire);
                    if (first_beat < 0) first_beat = cycles;
                    last_beat = cycles;
                }
                if (r_fire && a.reads.front().asked >= 0) {  // a burst's first beat
                    long seen = cycles - a.reads.front().asked;
                    min_latency = min_latency < 0 ? seen : std::min(min_latency, seen);
                    max_latency = std::max(max_latency, seen);
                    a.reads.front().asked = -1;
                }
                if (w_fire) {
                    auto& b = a.writes.front();
                    Words data = a.wdata(), strobe = a.wstrb();
                    event(channel + 1, data); event(channel + 2, strobe);
                    for (long i = 0; i < lanes; i++) {
                        uint32_t bits = (strobe[(4 * i) / 32] >> ((4 * i) % 32)) & 0xF;
                        if (!bits) continue;
                        uint32_t& word = a.mem[b.beat * lanes + i];
                        for (int byte = 0; byte < 4; byte++)
                            if (bits >> byte & 1) word = (word & ~(0xFFu << 8 * byte)) | (data[i] & (0xFFu << 8 * byte));
                    }
                    b.beat++;
                    if (--b.beats == 0) { a.responses.push_back(b.id); a.writes.pop_front(); }
                }
                if (a.arvalid()) {
                    a.reads.push_back({a.araddr() / beat_bytes, a.arlen() + 1, a.arid(), cycles + latency, cycles});
                    event(channel + 3, {(uint32_t)a.araddr(), (uint32_t)(a.araddr() >> 32), a.arlen(), a.arid()});
                }
                if (a.awvalid()) {
                    a.writes.push_back({a.awaddr() / beat_bytes, a.awlen() + 1, a.awid()});
                    event(channel + 4, {(uint32_t)a.awaddr(), (uint32_t)(a.awaddr() >> 32), a.awlen(), a.awid()});
                }
                if (r_fire) event(channel + 5, {});
                if (b_fire) event(channel + 6, {});
                if (r_fire) {
                    auto& b = a.reads.front();
                    b.beat++;
                    if (--b.beats == 0) a.reads.pop_front();
                }
                if (b_fire) a.responses.pop_front();
            }
            top->clk = 1;
            top->eval();
            dump();
            if (config_fire) sent++;
            for (auto* s : taken) s->at++;
            cycles++;
            bool complete = true;
            for (auto& [_, s] : sinks) complete &= (long)s.got.size() >= s.expect;
            bool idle = true;
            for (auto& [_, s] : sources) idle &= s.at >= s.items.size();
            for (auto& a : axi) idle &= a.reads.empty() && a.writes.empty() && a.responses.empty();
            idle &= seg.done_tokens == 0 || top->done;
            if (complete && finish < 0) finish = cycles;
            if (complete && idle) drained = (uint32_t)top->errors == errors_seen ? drained + 1 : 0;
            else drained = 0;
            quiet_beats = drained ? quiet_beats + config_fire : 0;
            errors_seen = (uint32_t)top->errors;
        }

        std::fprintf(out, "{\"cycles\": %ld, \"finish\": %ld, \"timed_out\": %s, \"trace\": \"%016llx\", "
                     "\"load_cycles\": %ld, \"quiet_beats\": %ld, \"refused\": %u, \"refused_lanes\": %u, \"outputs\": {",
                     cycles, finish, cycles >= seg.budget ? "true" : "false", (unsigned long long)trace, load_cycles,
                     quiet_beats, refused,
                     refused_lanes);
        bool first = true;
        for (auto& [n2, s] : sinks) {
            if (!s.listed) continue;
            std::fprintf(out, "%s\"%s\": [", first ? "" : ", ", n2.c_str());
            first = false;
            for (std::size_t i = 0; i < s.got.size(); i++) {
                std::fprintf(out, "%s\"", i ? ", " : "");
                for (std::size_t j = s.got[i].size(); j-- > 0;) std::fprintf(out, "%08x", s.got[i][j]);
                std::fprintf(out, "\"");
            }
            std::fprintf(out, "]");
        }
        std::fprintf(out, "}, \"readback\": [");
        for (std::size_t i = 0; i < seg.readback.size(); i++) {
            auto& r = seg.readback[i];
            std::fprintf(out, "%s[", i ? ", " : "");
            for (long j = 0; j < r.count; j++) {
                auto it = axi[r.row].mem.find(r.base + j);
                std::fprintf(out, "%s%u", j ? ", " : "", it == axi[r.row].mem.end() ? 0u : it->second);
            }
            std::fprintf(out, "]");
        }
        std::fprintf(out, "], \"registers\": {\"cycles\": %u, \"errors\": %u, \"done\": %u}", (unsigned)top->cycles,
                     (unsigned)top->errors, (unsigned)top->done);
        std::fprintf(out, ", \"dram\": {\"read_latency_min\": %ld, \"read_latency_max\": %ld, \"bytes\": %llu, "
                     "\"first_beat\": %ld, \"last_beat\": %ld}}\n", min_latency, max_latency,
                     (unsigned long long)dram_bytes, first_beat, last_beat);
        std::fflush(out);
    }
    if (out != stdout) std::fclose(out);
    top->final();
#ifdef RDAGEN_TRACE
    if (vcd) vcd->close();
#endif
    delete top;
    return 0;
}
