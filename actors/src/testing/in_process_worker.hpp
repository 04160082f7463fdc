#pragma once
// An instance of an app that mephisto::testing's harness runs inside the test's own
// process (`harness_options::in_process`).

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mephisto/app.hpp"
#include "mephisto/worker.hpp"

namespace mephisto::testing::detail {

/// One owning `worker` of an app (its own actor system) on a thread of its own, which
/// starts it, waits for its end and destroys it: the thread that makes a worker is the
/// one that starts and waits for it. Owned by the harness's test thread, which calls
/// `stop`, `running` and `outcome` while that thread runs; the state they share sits
/// behind one mutex.
class in_process_worker {
public:
  /// Reads `flags` as the `worker` command would (worker options, client properties; the
  /// MEPHISTO_* environment too), starts the worker and returns once it runs. Throws
  /// std::runtime_error with the reason when the flags are bad or the start fails.
  in_process_worker(const app& a, const std::vector<std::string>& flags);
  ~in_process_worker(); ///< a clean stop if it still runs
  in_process_worker(const in_process_worker&) = delete;
  in_process_worker& operator=(const in_process_worker&) = delete;

  bool running() const;
  /// Asks for a clean stop and waits up to `timeout`: 0 when it ended cleanly, 1 when it
  /// ended with an error (before or during the stop), -1 on timeout (as `process::wait`).
  int stop(std::chrono::milliseconds timeout);
  /// "running", "stopped" or the error that stopped it.
  std::string outcome() const;

private:
  void run(const app& a, worker_options opts);

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  worker* worker_ = nullptr; ///< the running worker (on `thread_`'s stack); null once ended
  bool started_ = false;
  bool ended_ = false;
  std::string error_;        ///< why it ended, empty after a clean stop
  std::thread thread_;
};

} // namespace mephisto::testing::detail
