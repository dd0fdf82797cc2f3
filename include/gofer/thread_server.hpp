// thread_server.hpp: long-lived, named OS threads that serve typed messages (ThreadButler).
//
//   struct Resize { int w, h; };
//   struct Sum { std::vector<int> xs; using reply_type = long; };   // request() returns Task<long>
//
//   gofer::ThreadServer<Resize, Sum> srv("backend");
//   srv.on<Resize>([](Resize r) { gofer::sleep_for(1ms); ... })    // each message: one task
//      .on<Sum>([](Sum s) { return std::accumulate(s.xs.begin(), s.xs.end(), 0L); })
//      .on_start([] { ... })                                       // on the server thread
//      .on_stop([] { ... });
//   srv.start();
//   srv.send(Resize{640, 480});                                    // fire and forget
//   long total = srv.request(Sum{{1, 2, 3}}).wait();               // 6
//   srv.stop();                                                    // or stop(stop_mode::drop)
//
// A ThreadServer<Msgs...> owns one OS thread (a gofer::Runtime with one scheduler thread),
// named after the server (the first 15 bytes, as Linux allows), and an unbounded inbox. Its
// dispatcher task receives messages in the order they arrived and runs each message's handler
// as its own task on that thread, so a handler may sleep, wait on channels or tasks, or
// request() from other servers without holding up the next message. Handlers are registered
// per type with on<M>(); Msgs... must be distinct types, and naming a type that is not one of
// them in on(), send() or request() does not compile.
//
// Replies. A message type M may declare `using reply_type = R;` (or specialize
// gofer::reply_of<M> for a type you cannot change): its handler must then return something
// convertible to R and request(m) returns a Task<R> that ends with the handler's value or
// exception. For M without a reply type, request(m) returns a Task<void> that ends when the
// handler does (an acknowledgement). To reply later or several times, put a Chan in the
// message (the reply-channel pattern).
//
// Errors. An exception thrown by a handler of a send() is reported and the server keeps
// serving: to the on_error hook if one is set (on the server thread, with the message type's
// name), otherwise to stderr as "gofer: ThreadServer '<name>': handler for <type> threw
// <exception type>: <what>". A request()'s exception goes to its Task instead (and, if nobody
// waits for it, is printed when the Task is dropped, like any task's). A message whose type
// has no handler is such an error too (std::logic_error).
//
// Invariants:
//   (1) Handlers start in the order their messages were sent by one sender (the inbox is FIFO
//       and the dispatcher launches one handler and lets it run until it first blocks before
//       taking the next message). Handlers that block may finish in any order. Messages from
//       different senders are interleaved in inbox order.
//   (2) on_start runs on the server thread before any handler; on_stop runs there after the
//       inbox is closed and every handler has returned. A message is either handled once or,
//       with stop_mode::drop, dropped once; never both, never lost silently (a dropped
//       request's Task ends with std::runtime_error).
//   (3) After start() returns and until stop() begins, send() and request() succeed.
//
// Lifecycle and stop modes. send() or request() before start() or after stop() began throws
// std::logic_error. stop(stop_mode::drain) (the default, and what the destructor does) stops
// accepting messages, handles everything already queued and waits for every handler, then
// runs on_stop. stop(stop_mode::drop) stops accepting messages, drops the queued ones whose
// handlers have not started, request_stop()s the handlers that are running (their blocking
// gofer calls throw gofer::cancelled, which is not reported as an error; a stopped request's
// Task ends with it), waits for them, then runs on_stop. Afterwards either mode waits for
// (drain) or stops (drop) the tasks that handlers spawned with go(), and joins the thread. A
// stopped server cannot be restarted. If on_start throws, start() rethrows the exception and
// the server is stopped.
//
// Thread-safety: send(), request(), running() and name() may be called from any thread or
// task, including handlers of this or other servers. on(), on_start(), on_stop() and
// on_error() must come before start() (std::logic_error after); start() and stop() belong
// to the owner (one thread at a time). stop() must not be called from the server's own thread
// (std::logic_error: it would wait for itself), nor may the server be destroyed there.
// Handlers and hooks run on the server thread only, so they need no locking among themselves.
//
// Blocking: send() never blocks (the inbox is unbounded). request() returns at once; waiting
// on its Task parks the calling task (or blocks a plain thread, whose loop keeps running).
// start() waits for on_start: it parks a calling task, a plain thread blocks. stop() parks
// while the server drains and then blocks the calling OS thread while it joins the server
// thread. Handler, on_start, on_stop and on_error functions must be copyable (std::function).
#pragma once

#include <atomic>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include <gofer/chan.hpp>
#include <gofer/errors.hpp>
#include <gofer/mutex.hpp>
#include <gofer/runtime.hpp>
#include <gofer/task.hpp>
#include <gofer/wait_group.hpp>

namespace gofer {

// stop_mode: what ThreadServer::stop does with messages that are queued or being handled.
enum class stop_mode { drain, drop };

// reply_of<M>: the reply type of message type M: M::reply_type if M declares one, else void.
// Specialize it for message types you cannot change.
template <class M, class = void>
struct reply_of {
  using type = void;
};
template <class M>
struct reply_of<M, std::void_t<typename M::reply_type>> {
  using type = typename M::reply_type;
};
template <class M>
using reply_of_t = typename reply_of<M>::type;

// ThreadServerErrorHook: ThreadServer::on_error's callback: the message type's name and the
// exception a send() handler threw.
using ThreadServerErrorHook =
    std::function<void(std::string_view message_type, std::exception_ptr error)>;

namespace detail {

// index_of: the position of T in Ts..., or sizeof...(Ts) if T is not among them.
template <class T, class... Ts>
constexpr std::size_t index_of() {
  std::size_t i = 0;
  const bool found = ((std::is_same_v<T, Ts> ? true : (++i, false)) || ...);
  return found ? i : sizeof...(Ts);
}

// all_distinct: no type appears twice in Ts (each one is found at its own position).
template <class... Ts>
constexpr bool all_distinct() {
  std::size_t i = 0;
  return ((index_of<Ts, Ts...>() == i++) && ...);
}

// ServerEnvelope: one message on its way to a server: the handler task, built by the sender
// and not launched yet. It owns one reference to the task state and releases it when it dies.
class ServerEnvelope {
 public:
  ServerEnvelope(TaskStateBase* st, std::size_t type, bool request) noexcept
      : st_(st), type_(type), request_(request) {}
  ServerEnvelope(ServerEnvelope&& o) noexcept
      : st_(std::exchange(o.st_, nullptr)), type_(o.type_), request_(o.request_) {}
  ServerEnvelope& operator=(ServerEnvelope&& o) noexcept {
    if (this != &o) {
      reset();
      st_ = std::exchange(o.st_, nullptr);
      type_ = o.type_;
      request_ = o.request_;
    }
    return *this;
  }
  ServerEnvelope(const ServerEnvelope&) = delete;
  ServerEnvelope& operator=(const ServerEnvelope&) = delete;
  ~ServerEnvelope() { reset(); }

  // state: the handler task (not launched yet). type: the message type's index in Msgs...
  // request: true for request() (its Task waits for an outcome), false for send().
  TaskStateBase* state() const noexcept { return st_; }
  std::size_t type() const noexcept { return type_; }
  bool request() const noexcept { return request_; }

 private:
  void reset() noexcept {
    if (st_ != nullptr) {
      st_->release();
      st_ = nullptr;
    }
  }

  TaskStateBase* st_;
  std::size_t type_;
  bool request_;
};

// ThreadServerCore: everything of a ThreadServer that does not depend on the message types:
// the thread, the inbox, the dispatcher, the hooks, start/stop and error reports.
class ThreadServerCore {
 public:
  // HandlerScope: marks a running handler (constructed first thing in the handler's task, on
  // the server thread) so that stop(stop_mode::drop) can stop it and stop() can wait for it.
  class HandlerScope {
   public:
    explicit HandlerScope(ThreadServerCore& core) noexcept;
    ~HandlerScope();
    HandlerScope(const HandlerScope&) = delete;
    HandlerScope& operator=(const HandlerScope&) = delete;

   private:
    friend class ThreadServerCore;
    ThreadServerCore& core_;
    TaskControl* task_;
    HandlerScope* prev_ = nullptr;
    HandlerScope* next_ = nullptr;
  };

  ThreadServerCore(std::string name, std::vector<std::string> type_names);
  ~ThreadServerCore();
  ThreadServerCore(const ThreadServerCore&) = delete;
  ThreadServerCore& operator=(const ThreadServerCore&) = delete;

  // name, running: as ThreadServer's.
  const std::string& name() const noexcept { return name_; }
  bool running() const noexcept { return state_.load() == running_state; }

  // check_configurable: std::logic_error naming `what` unless start() has not been called.
  void check_configurable(const char* what) const;
  // set_on_start / set_on_stop / set_on_error: the hooks; before start() only.
  void set_on_start(std::function<void()> f);
  void set_on_stop(std::function<void()> f);
  void set_on_error(ThreadServerErrorHook f);

  // start / stop: as ThreadServer's.
  void start();
  void stop(stop_mode mode);
  // stop_quietly: stop(drain) for destructors: an error is printed, not thrown.
  void stop_quietly() noexcept;

  // post: queues env for the dispatcher. Throws std::logic_error naming `what` ("send" or
  // "request") when the server is not running; env is then destroyed unhandled.
  void post(ServerEnvelope env, const char* what);
  // report: reports a send() handler's exception (see the header comment); on the server
  // thread. A gofer::cancelled of a stopped handler is not reported.
  void report(std::size_t type, std::exception_ptr error) noexcept;
  // throw_no_handler: the std::logic_error for a message type without a handler.
  [[noreturn]] void throw_no_handler(std::size_t type) const;

 private:
  static constexpr int idle_state = 0;
  static constexpr int starting_state = 1;
  static constexpr int running_state = 2;
  static constexpr int stopping_state = 3;
  static constexpr int stopped_state = 4;

  // serve: the server's main task: names the thread, runs on_start, dispatches the inbox
  // until it is closed and drained, waits for the handlers, runs on_stop.
  void serve(Chan<std::exception_ptr> started);
  // dispatch: launches env's handler task and yields until it has blocked or returned.
  void dispatch(ServerEnvelope& env);
  // drop: discards env unhandled; a request's Task ends with std::runtime_error.
  void drop(ServerEnvelope& env);
  // report_hook_error: prints an exception from on_stop or on_error to stderr.
  void report_hook_error(const char* hook, std::exception_ptr error) noexcept;

  const std::string name_;
  const std::vector<std::string> type_names_;
  std::vector<std::string> task_names_;  // "<server>/<type>", the handler tasks' names
  std::function<void()> on_start_;
  std::function<void()> on_stop_;
  ThreadServerErrorHook on_error_;
  std::atomic<int> state_{idle_state};
  std::atomic<bool> dropping_{false};  // set by stop(drop) before the inbox closes
  std::atomic<std::thread::id> server_thread_{};
  Mutex lifecycle_;  // serializes start() and stop() (parks: they wait for the server)
  Chan<ServerEnvelope> inbox_ = Chan<ServerEnvelope>::unbounded();
  WaitGroup active_;                  // handlers launched and not yet returned
  HandlerScope* running_ = nullptr;   // server thread only: the handlers that have started
  std::unique_ptr<Runtime> runtime_;  // the server thread, from start() on
  Task<void> main_;                   // serve()
};

}  // namespace detail

// ThreadServer<Msgs...>: a named OS thread that handles messages of the types Msgs...
template <class... Msgs>
class ThreadServer {
  static_assert(sizeof...(Msgs) > 0, "gofer::ThreadServer needs at least one message type");
  static_assert(detail::all_distinct<Msgs...>(),
                "gofer::ThreadServer: the message types Msgs... must be distinct");
  static_assert((!std::is_reference_v<Msgs> && ...) && (!std::is_const_v<Msgs> && ...),
                "gofer::ThreadServer: message types must be plain object types (no const or &)");

  template <class M>
  static constexpr bool accepts = detail::index_of<M, Msgs...>() < sizeof...(Msgs);

 public:
  // ThreadServer: a server named `name` (thread name, reports, task names); not started.
  explicit ThreadServer(std::string name)
      : core_(std::move(name), {detail::type_name(typeid(Msgs))...}) {}
  // ~ThreadServer: stop(stop_mode::drain) if the server is running (errors are printed).
  ~ThreadServer() { core_.stop_quietly(); }
  ThreadServer(const ThreadServer&) = delete;
  ThreadServer& operator=(const ThreadServer&) = delete;

  // name: the server's name.
  const std::string& name() const noexcept { return core_.name(); }
  // running: start() has returned and stop() has not begun.
  bool running() const noexcept { return core_.running(); }

  // on<M>: registers (or replaces) the handler of messages of type M, callable with an M
  // rvalue; if M has a reply type, it must return something convertible to it. Before
  // start() only (std::logic_error). Returns *this for chaining.
  template <class M, class F>
  ThreadServer& on(F&& handler) {
    static_assert(accepts<M>, "gofer::ThreadServer::on<M>: M is not one of the server's Msgs...");
    using R = reply_of_t<M>;
    static_assert(std::is_invocable_v<std::decay_t<F>&, M&&>,
                  "gofer::ThreadServer::on<M>: the handler must be callable with an M "
                  "(taking M, const M& or M&&)");
    if constexpr (!std::is_void_v<R>) {
      static_assert(std::is_convertible_v<std::invoke_result_t<std::decay_t<F>&, M&&>, R>,
                    "gofer::ThreadServer::on<M>: the handler must return M's reply type "
                    "(reply_of_t<M>)");
    }
    core_.check_configurable("on");
    std::get<handler_t<M>>(handlers_) = [f = std::forward<F>(handler)](M& m) mutable -> R {
      if constexpr (std::is_void_v<R>) {
        std::invoke(f, std::move(m));
      } else {
        return std::invoke(f, std::move(m));
      }
    };
    return *this;
  }
  // on_start / on_stop: hooks run on the server thread (see the header comment); before
  // start() only.
  ThreadServer& on_start(std::function<void()> f) {
    core_.set_on_start(std::move(f));
    return *this;
  }
  ThreadServer& on_stop(std::function<void()> f) {
    core_.set_on_stop(std::move(f));
    return *this;
  }
  // on_error: receives the exceptions of send() handlers instead of stderr, on the server
  // thread, with the message type's name (an exception from on_start goes to start(), one
  // from on_stop or on_error itself to stderr). Before start() only.
  ThreadServer& on_error(ThreadServerErrorHook f) {
    core_.set_on_error(std::move(f));
    return *this;
  }

  // start: starts the thread and runs on_start there; returns when on_start has returned
  // (rethrowing its exception). std::logic_error if called twice or after stop().
  void start() { core_.start(); }

  // stop: see the header comment. Idempotent; stop() on a server never started just marks it
  // stopped. std::logic_error when called from the server's own thread.
  void stop(stop_mode mode = stop_mode::drain) { core_.stop(mode); }

  // send: queues msg for its handler; never blocks. M (after removing const and references)
  // must be one of Msgs...; send<M>(args) converts args to M first. Throws std::logic_error
  // before start() or once stop() has begun.
  template <class M>
  void send(M&& msg) {
    using T = std::remove_cvref_t<M>;
    static_assert(accepts<T>, "gofer::ThreadServer::send: the message type is not one of Msgs...");
    constexpr std::size_t i = detail::index_of<T, Msgs...>();
    auto body = [this, m = T(std::forward<M>(msg))]() mutable {
      try {
        handle(m);
      } catch (...) {
        core_.report(i, std::current_exception());
      }
    };
    core_.post(detail::ServerEnvelope(detail::make_task_state(std::move(body)), i, false), "send");
  }

  // request: queues msg like send() and returns a Task with the handler's result (reply_of_t
  // of the message type; void: ends when the handler returns) or exception. If the message is
  // dropped by stop(stop_mode::drop), the Task ends with std::runtime_error. Throws
  // std::logic_error before start() or once stop() has begun.
  template <class M>
  Task<reply_of_t<std::remove_cvref_t<M>>> request(M&& msg) {
    using T = std::remove_cvref_t<M>;
    static_assert(accepts<T>,
                  "gofer::ThreadServer::request: the message type is not one of Msgs...");
    constexpr std::size_t i = detail::index_of<T, Msgs...>();
    auto body = [this, m = T(std::forward<M>(msg))]() mutable -> reply_of_t<T> {
      return handle(m);
    };
    auto* st = detail::make_task_state(std::move(body));
    auto task = detail::adopt_task(st);
    st->add_ref();  // the envelope's reference
    core_.post(detail::ServerEnvelope(st, i, true), "request");
    return task;
  }

 private:
  template <class M>
  using handler_t = std::function<reply_of_t<M>(M&)>;

  // handle: runs m's handler in the calling (handler) task, on the server thread.
  template <class M>
  reply_of_t<M> handle(M& m) {
    detail::ThreadServerCore::HandlerScope scope(core_);
    auto& h = std::get<handler_t<M>>(handlers_);
    if (!h) {
      core_.throw_no_handler(detail::index_of<M, Msgs...>());
    }
    return h(m);
  }

  detail::ThreadServerCore core_;
  std::tuple<handler_t<Msgs>...> handlers_;
};

}  // namespace gofer
