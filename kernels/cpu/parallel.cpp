#include "kiln/kernels/cpu/parallel.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace kiln::cpu {
namespace {

thread_local bool t_in_parallel = false;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

double now_us() {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Why a hand-written pool: per-op overhead on small tensors is one of our goals, so the pool
// never allocates per call, the caller thread takes part in the work, and idle workers spin for
// a short while before they sleep, so a burst of ops (a training step) does not pay a
// condition-variable wake-up (tens of microseconds) per op.
//
// Protocol: run() publishes the job (task, ntasks, pending, next) and then bumps generation_ to G.
// A worker that sees a new generation G registers in active_ and then checks that job G is not
// closed yet (closed_ < G); only then does it take task indices from next_. run() waits until every
// task is done (pending_ == 0), closes the job (closed_ = G) and then waits until no worker is
// registered (active_ == 0). The close and the registration are a store-then-load pair on each side
// (sequentially consistent), so either the worker sees the job closed and leaves without touching
// it, or run() sees the worker registered and waits for it. Without the close, a worker that woke
// late could register after run() had returned and claim an index of the next job while run() was
// still publishing it (the task then ran twice, or its pending count never reached zero: a hang).
class Pool {
 public:
  static constexpr double kSpinMicros = 300;

  explicit Pool(int n) { resize(n); }
  ~Pool() { stop(); }

  int size() const { return nthreads_; }

  void resize(int n) {
    std::lock_guard<std::mutex> job_lock(job_mutex_);
    stop();
    nthreads_ = std::max(1, n);
    shutdown_.store(false);
    for (int i = 1; i < nthreads_; ++i) workers_.emplace_back([this] { worker(); });
  }

  // Runs task(i) for i in [0, ntasks), spread over the pool and the calling thread.
  void run(int64_t ntasks, const std::function<void(int64_t)>& task) {
    std::lock_guard<std::mutex> job_lock(job_mutex_);  // one job at a time
    error_ = nullptr;
    task_.store(&task);
    ntasks_.store(ntasks);
    pending_.store(ntasks);
    next_.store(0);
    const uint64_t gen = generation_.fetch_add(1) + 1;
    if (sleepers_.load() > 0) {
      std::lock_guard<std::mutex> lk(m_);
      cv_.notify_all();
    }
    work();
    wait_until([&] { return pending_.load() == 0; });
    closed_.store(gen);
    wait_until([&] { return active_.load() == 0; });
    if (error_) std::rethrow_exception(error_);
  }

 private:
  template <class Done>
  static void wait_until(Done done) {
    for (int spins = 0; !done(); ++spins) {
      if (spins < 4096) cpu_relax();
      else std::this_thread::yield();
    }
  }

  void work() {
    bool was = t_in_parallel;
    t_in_parallel = true;
    for (;;) {
      int64_t i = next_.fetch_add(1);
      if (i >= ntasks_.load()) break;
      try {
        (*task_.load())(i);
      } catch (...) {
        std::lock_guard<std::mutex> lk(m_);
        if (!error_) error_ = std::current_exception();
      }
      pending_.fetch_sub(1);
    }
    t_in_parallel = was;
  }

  void worker() {
    uint64_t seen = generation_.load();
    for (;;) {
      // Spin briefly for the next job, then sleep.
      double t0 = now_us();
      for (int k = 0; generation_.load() == seen && !shutdown_.load(); ++k) {
        cpu_relax();
        if ((k & 255) == 255 && now_us() - t0 > kSpinMicros) {
          std::unique_lock<std::mutex> lk(m_);
          sleepers_.fetch_add(1);
          cv_.wait(lk, [&] { return shutdown_.load() || generation_.load() != seen; });
          sleepers_.fetch_sub(1);
          break;
        }
      }
      if (shutdown_.load()) return;
      active_.fetch_add(1);
      seen = generation_.load();
      if (closed_.load() < seen) work();  // else the job finished without this worker
      active_.fetch_sub(1);
    }
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lk(m_);
      shutdown_.store(true);
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  int nthreads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex job_mutex_;
  std::mutex m_;
  std::condition_variable cv_;
  std::atomic<const std::function<void(int64_t)>*> task_{nullptr};
  std::atomic<int64_t> ntasks_{0};
  std::atomic<int64_t> next_{0};
  std::atomic<int64_t> pending_{0};
  std::atomic<int> active_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<uint64_t> closed_{0};  // the last generation whose run() stopped taking workers
  std::atomic<bool> shutdown_{false};
  std::exception_ptr error_;
};

int default_threads() {
  if (const char* env = std::getenv("KILN_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
  unsigned hc = std::thread::hardware_concurrency();
  return hc ? int(hc) : 1;
}

Pool& pool() {
  static Pool p(default_threads());
  return p;
}

}  // namespace

int num_threads() { return pool().size(); }
void set_num_threads(int n) { pool().resize(n); }
bool in_parallel_region() { return t_in_parallel; }

void parallel_for(int64_t begin, int64_t end, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& fn) {
  if (end <= begin) return;
  grain = std::max<int64_t>(grain, 1);
  int64_t n = end - begin;
  int nt = t_in_parallel ? 1 : pool().size();
  if (nt <= 1 || n <= grain) {
    fn(begin, end);
    return;
  }
  // A few chunks per thread for balance, each at least `grain` long.
  int64_t nchunks = std::min<int64_t>((n + grain - 1) / grain, int64_t(nt) * 4);
  int64_t chunk = (n + nchunks - 1) / nchunks;
  nchunks = (n + chunk - 1) / chunk;
  pool().run(nchunks, [&](int64_t c) {
    int64_t b = begin + c * chunk;
    fn(b, std::min(end, b + chunk));
  });
}

int64_t num_chunks(int64_t n, int64_t chunk) { return n <= 0 ? 0 : (n + chunk - 1) / chunk; }

void parallel_chunks(int64_t n, int64_t chunk,
                     const std::function<void(int64_t, int64_t, int64_t)>& fn) {
  int64_t nc = num_chunks(n, chunk);
  if (nc == 0) return;
  auto body = [&](int64_t c) { fn(c, c * chunk, std::min(n, (c + 1) * chunk)); };
  if (nc == 1 || t_in_parallel || pool().size() <= 1) {
    for (int64_t c = 0; c < nc; ++c) body(c);
    return;
  }
  pool().run(nc, body);
}

}  // namespace kiln::cpu
