#pragma once
// The machine's ceilings, measured in the same run as the benchmarks that are reported against
// them (DESIGN.md section 7).
namespace kiln::bench {

// Main-memory copy bandwidth in bytes/s, counting bytes read + bytes written, with all threads
// of kiln's pool, over buffers much larger than the last-level cache. Best of several runs.
double copy_bandwidth();
// Bandwidth of an in-place update stream a[i] += b[i] over f32 buffers much larger than the last-level
// cache, counting 12 bytes per element (read a, read b, write a), all threads, best of several runs.
// The ceiling for in-place optimizer steps: unlike a copy's stores, stores to lines just read need
// no read-for-ownership, so such streams can move more bytes per second than copy_bandwidth().
double update_bandwidth();
// Peak f32 FMA throughput in FLOP/s (an FMA counts 2) with all threads of kiln's pool, using the
// widest vector ISA this CPU has (AVX-512 or AVX2+FMA, else SSE mul+add).
double fma_peak_f32();
// The same for one thread.
double fma_peak_f32_single_thread();
// A one-line description of the machine (CPU model, threads, ISA) for results tables.
const char* machine_description();

}  // namespace kiln::bench
