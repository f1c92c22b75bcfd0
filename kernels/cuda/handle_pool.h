#pragma once
// Per-(thread, device) vendor library handles (cuBLAS, cuDNN), plain C++ (no CUDA headers).
//
// Note [Vendor handles]
// cuBLAS and cuDNN handles are not safe to use from two threads at once, and creating one is slow
// (milliseconds), so each thread holds one handle per device, created on first use. When a thread
// ends, its handles go back to a process-wide pool and the next thread that needs one takes it
// from there instead of creating a new one. The pool itself is never destroyed: destroying
// handles during static destruction, after the CUDA runtime may have shut down, can crash, and the
// process is ending anyway. Each call binds the handle to the stream it is given (cublasSetStream
// / cudnnSetStream), so a handle is not tied to a stream.
#include <map>
#include <mutex>
#include <vector>

namespace kiln::cuda {

template <class Handle>
class HandlePool {
 public:
  // `create` makes a handle on the current device (the caller has made `device` current).
  using Create = Handle (*)(int device);
  explicit HandlePool(Create create) : create_(create) {}

  Handle acquire(int device) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      std::vector<Handle>& f = free_[device];
      if (!f.empty()) {
        Handle h = f.back();
        f.pop_back();
        return h;
      }
    }
    return create_(device);
  }
  void release(int device, Handle h) {
    std::lock_guard<std::mutex> lock(mu_);
    free_[device].push_back(h);
  }

 private:
  std::mutex mu_;
  std::map<int, std::vector<Handle>> free_;
  Create create_;
};

// The handles one thread holds, one per device; returned to the pool when the thread ends. Use as
// a function-local `thread_local ThreadHandles<H> t(&pool);`.
template <class Handle>
class ThreadHandles {
 public:
  explicit ThreadHandles(HandlePool<Handle>* pool) : pool_(pool) {}
  ~ThreadHandles() {
    for (auto& [device, h] : held_) pool_->release(device, h);
  }
  ThreadHandles(const ThreadHandles&) = delete;
  ThreadHandles& operator=(const ThreadHandles&) = delete;

  Handle get(int device) {
    auto it = held_.find(device);
    if (it != held_.end()) return it->second;
    Handle h = pool_->acquire(device);
    held_.emplace(device, h);
    return h;
  }

 private:
  HandlePool<Handle>* pool_;
  std::map<int, Handle> held_;
};

}  // namespace kiln::cuda
