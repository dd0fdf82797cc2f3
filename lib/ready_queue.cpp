// ready_queue.cpp: FIFO pick with a bounded dispatcher period (see ready_queue.hpp).
#include "ready_queue.hpp"

namespace gofer::detail {

boost::fibers::context* ReadyQueue::pop() noexcept {
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

}  // namespace gofer::detail
