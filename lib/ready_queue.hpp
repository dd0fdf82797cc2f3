// ready_queue.hpp: the scheduling policy of a gofer thread: which ready fiber runs next.
//
// A FIFO of ready Boost.Fiber contexts (tasks, the thread's own context and Boost's
// dispatcher). Boost re-queues its dispatcher each time it resumes a task, so with two busy
// tasks every other switch would go through it. While tasks are ready, the dispatcher runs
// once every dispatcher_period picks instead: it then drains remote wake-ups, due timers and
// finished fibers, which so wait at most that many switches (Go checks its global queue
// every 61).
//
// Thread-safety: the owning thread only (Boost calls these from its scheduler). Never blocks.
#pragma once

#include <boost/fiber/context.hpp>
#include <boost/fiber/scheduler.hpp>

namespace gofer::detail {

class ReadyQueue {
 public:
  void push(boost::fibers::context* ctx) noexcept { ctx->ready_link(ready_); }
  // pop: the next context to run, or nullptr when nothing is ready.
  boost::fibers::context* pop() noexcept {
    if (++picks_since_dispatcher_ >= dispatcher_period && dispatcher_ != nullptr &&
        dispatcher_->ready_is_linked()) {
      dispatcher_->ready_unlink();
      picks_since_dispatcher_ = 0;
      return dispatcher_;
    }
    if (ready_.empty()) {
      return nullptr;
    }
    boost::fibers::context* ctx = &ready_.front();
    ready_.pop_front();
    if (ctx->is_context(boost::fibers::type::dispatcher_context)) {
      dispatcher_ = ctx;
      if (ready_.empty() || picks_since_dispatcher_ >= dispatcher_period) {
        picks_since_dispatcher_ = 0;
        return ctx;
      }
      ctx->ready_link(ready_);
      ctx = &ready_.front();
      ready_.pop_front();
    }
    return ctx;
  }
  bool empty() const noexcept { return ready_.empty(); }

 private:
  static constexpr unsigned dispatcher_period = 16;

  boost::fibers::scheduler::ready_queue_type ready_;
  boost::fibers::context* dispatcher_ = nullptr;  // Boost's dispatcher fiber, once seen
  unsigned picks_since_dispatcher_ = 0;
};

}  // namespace gofer::detail
