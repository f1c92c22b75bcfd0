#pragma once
// A small persistent thread pool and parallel_for. Work is split into chunks whose boundaries
// depend only on the range and the grain, never on the number of threads, so any code that
// reduces per chunk and combines chunks in index order is deterministic whatever the thread count.
#include <cstdint>
#include <functional>

namespace kiln::cpu {

// Number of threads used by parallel_for (default: hardware concurrency, or KILN_NUM_THREADS).
int num_threads();
void set_num_threads(int n);
// True while the calling thread runs inside a parallel_for body (nested calls run serially).
bool in_parallel_region();

// Calls fn(chunk_begin, chunk_end) over [begin, end) in chunks of at least `grain` iterations.
// Runs serially when the range is small, when one thread is configured, or when nested.
void parallel_for(int64_t begin, int64_t end, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& fn);

// Fixed chunking for deterministic reductions: the range [0, n) is cut into chunks of
// `chunk` elements (the last may be shorter); fn(chunk_index, begin, end) runs for each.
int64_t num_chunks(int64_t n, int64_t chunk);
void parallel_chunks(int64_t n, int64_t chunk,
                     const std::function<void(int64_t, int64_t, int64_t)>& fn);

}  // namespace kiln::cpu
