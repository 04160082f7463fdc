#include "in_process_worker.hpp"

#include <stdexcept>

#include <CLI/CLI.hpp>

#include "../client_properties_cli.hpp"
#include "../worker_options_cli.hpp"

namespace mephisto::testing::detail {

namespace {

/// The worker options of `flags`, read as `app::main` reads the `worker` command's.
worker_options parse_flags(const std::vector<std::string>& flags) {
  worker_options opts;
  CLI::App cli{"in-process worker"};
  add_worker_options(cli, opts);
  std::vector<std::string> args{"in-process-worker"};
  args.insert(args.end(), flags.begin(), flags.end());
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  client_properties from_flags;
  std::string bad_flag;
  auto rest = take_client_property_flags(static_cast<int>(argv.size()), argv.data(),
                                         from_flags, bad_flag);
  if (!bad_flag.empty())
    throw std::runtime_error("in-process instance: " + bad_flag);
  try {
    cli.parse(static_cast<int>(rest.size()), rest.data());
  } catch (const CLI::ParseError& e) {
    throw std::runtime_error(std::string{"in-process instance: bad flags: "} + e.what());
  }
  read_client_property_env(opts.client_properties);
  for (auto& [key, value] : from_flags)
    opts.client_properties[key] = value;
  return opts;
}

} // namespace

in_process_worker::in_process_worker(const app& a, const std::vector<std::string>& flags) {
  auto opts = parse_flags(flags);
  thread_ = std::thread{[this, &a, opts]() mutable { run(a, std::move(opts)); }};
  std::unique_lock lock{mutex_};
  changed_.wait(lock, [this] { return started_ || ended_; });
  if (!ended_)
    return;
  auto why = error_;
  lock.unlock();
  thread_.join();
  throw std::runtime_error("in-process instance did not start: " + why);
}

void in_process_worker::run(const app& a, worker_options opts) {
  std::string error;
  {
    worker w{a.resolve(opts), opts};
    auto err = w.start();
    if (err) {
      error = render(err);
    } else {
      {
        std::lock_guard lock{mutex_};
        worker_ = &w;
        started_ = true;
      }
      changed_.notify_all();
      err = w.wait();
      if (err)
        error = render(err);
    }
    std::lock_guard lock{mutex_}; // no `stop` reaches `w` from here on
    worker_ = nullptr;
  }
  {
    std::lock_guard lock{mutex_};
    ended_ = true;
    error_ = std::move(error);
  }
  changed_.notify_all();
}

in_process_worker::~in_process_worker() {
  if (running())
    stop(std::chrono::minutes(2));
  if (thread_.joinable())
    thread_.join();
}

bool in_process_worker::running() const {
  std::lock_guard lock{mutex_};
  return !ended_;
}

int in_process_worker::stop(std::chrono::milliseconds timeout) {
  std::unique_lock lock{mutex_};
  if (worker_ != nullptr)
    worker_->stop();
  if (!changed_.wait_for(lock, timeout, [this] { return ended_; }))
    return -1;
  int code = error_.empty() ? 0 : 1;
  lock.unlock();
  if (thread_.joinable())
    thread_.join();
  return code;
}

std::string in_process_worker::outcome() const {
  std::lock_guard lock{mutex_};
  if (!ended_)
    return "running";
  return error_.empty() ? "stopped" : error_;
}

} // namespace mephisto::testing::detail
