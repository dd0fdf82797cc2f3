// gofer.hpp: the whole public API of gofer (Go-style tasks and channels for C++).
#pragma once

#include <gofer/blocking.hpp>
#include <gofer/chan.hpp>
#include <gofer/cond_var.hpp>
#include <gofer/deadline.hpp>
#include <gofer/debug.hpp>
#include <gofer/errors.hpp>
#include <gofer/event_loop.hpp>
#include <gofer/file.hpp>
#include <gofer/mutex.hpp>
#include <gofer/net.hpp>
#include <gofer/process.hpp>
#include <gofer/runtime.hpp>
#include <gofer/select.hpp>
#include <gofer/semaphore.hpp>
#include <gofer/signal.hpp>
#include <gofer/stack.hpp>
#include <gofer/task.hpp>
#include <gofer/task_group.hpp>
#include <gofer/this_task.hpp>
#include <gofer/thread_server.hpp>
#include <gofer/time.hpp>
#include <gofer/timer.hpp>
#include <gofer/version.hpp>
#include <gofer/wait_group.hpp>
