#include "kiln/kernels/cpu/parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace kiln::cpu {
namespace {

thread_local bool t_in_parallel = false;

// Why a hand-written pool: per-op overhead on tiny tensors is one of our goals, so the pool
// never allocates per call and the caller thread takes part in the work.
class Pool {
 public:
  explicit Pool(int n) { resize(n); }
  ~Pool() { stop(); }

  int size() const { return nthreads_; }

  void resize(int n) {
    stop();
    nthreads_ = std::max(1, n);
    shutdown_ = false;
    for (int i = 1; i < nthreads_; ++i) workers_.emplace_back([this] { worker(); });
  }

  // Runs task(i) for i in [0, ntasks), spread over the pool and the calling thread.
  void run(int64_t ntasks, const std::function<void(int64_t)>& task) {
    std::unique_lock<std::mutex> job_lock(job_mutex_);  // one job at a time
    {
      std::lock_guard<std::mutex> lk(m_);
      task_ = &task;
      ntasks_ = ntasks;
      next_.store(0);
      pending_ = ntasks;
      error_ = nullptr;
      ++generation_;
    }
    cv_.notify_all();
    work();
    std::unique_lock<std::mutex> lk(m_);
    // Wait for every task and for every worker that joined this job to leave it, so the next
    // job never shares a worker with this one.
    done_cv_.wait(lk, [this] { return pending_ == 0 && active_ == 0; });
    task_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void work() {
    bool was = t_in_parallel;
    t_in_parallel = true;
    int64_t finished = 0;
    for (;;) {
      int64_t i = next_.fetch_add(1);
      if (i >= ntasks_) break;
      try {
        (*task_)(i);
      } catch (...) {
        std::lock_guard<std::mutex> lk(m_);
        if (!error_) error_ = std::current_exception();
      }
      ++finished;
    }
    t_in_parallel = was;
    std::lock_guard<std::mutex> lk(m_);
    pending_ -= finished;
    if (pending_ == 0) done_cv_.notify_all();
  }

  void worker() {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lk(m_);
        cv_.wait(lk, [&] { return shutdown_ || (generation_ != seen && task_ != nullptr); });
        if (shutdown_) return;
        seen = generation_;
        ++active_;
      }
      work();
      std::lock_guard<std::mutex> lk(m_);
      --active_;
      if (active_ == 0) done_cv_.notify_all();
    }
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lk(m_);
      shutdown_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  int nthreads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex job_mutex_;
  std::mutex m_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(int64_t)>* task_ = nullptr;
  int64_t ntasks_ = 0;
  std::atomic<int64_t> next_{0};
  int64_t pending_ = 0;
  int active_ = 0;
  uint64_t generation_ = 0;
  bool shutdown_ = false;
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
