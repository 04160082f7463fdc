#pragma once

// Child processes of a benchmark and their logs (Mephisto's log lines: a local-time
// timestamp with milliseconds, the level, the text).

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace bench {

/// A worker process: this program re-executed with `args`, stdout and stderr to `log`.
/// Killed (SIGKILL) when the object goes, and by the kernel when this process dies.
class worker_process {
public:
  worker_process(const std::vector<std::string>& args, std::string log) : log_(std::move(log)) {
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    auto parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0)
      throw std::runtime_error(std::string{"fork: "} + std::strerror(errno));
    if (pid_ == 0) { // only async-signal-safe calls until exec
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent)
        ::_exit(127);
      int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0 || ::dup2(fd, 1) < 0 || ::dup2(fd, 2) < 0)
        ::_exit(127);
      ::execv("/proc/self/exe", argv.data());
      ::_exit(127);
    }
  }
  worker_process(const worker_process&) = delete;
  worker_process& operator=(const worker_process&) = delete;
  ~worker_process() {
    if (running())
      kill_now();
  }

  const std::string& log() const { return log_; }
  pid_t pid() const { return pid_; }

  bool running() {
    if (pid_ > 0 && ::waitpid(pid_, &status_, WNOHANG) == pid_)
      pid_ = -1;
    return pid_ > 0;
  }

  void kill_now() {
    if (pid_ <= 0)
      return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status_, 0);
    pid_ = -1;
  }

  /// SIGTERM, then SIGKILL after `grace`. True when it exited by itself with status 0.
  bool stop(std::chrono::seconds grace) {
    if (!running())
      return exited_cleanly();
    ::kill(pid_, SIGTERM);
    for (auto until = std::chrono::steady_clock::now() + grace;
         std::chrono::steady_clock::now() < until;) {
      if (!running())
        return exited_cleanly();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill_now();
    return false;
  }

  std::string how_it_ended() const {
    if (WIFEXITED(status_))
      return "exit status " + std::to_string(WEXITSTATUS(status_));
    if (WIFSIGNALED(status_))
      return std::string{"signal "} + strsignal(WTERMSIG(status_));
    return "?";
  }

private:
  bool exited_cleanly() const { return WIFEXITED(status_) && WEXITSTATUS(status_) == 0; }

  std::string log_;
  pid_t pid_ = -1;
  int status_ = 0;
};

struct log_line {
  int64_t ms = -1; ///< the line's timestamp (local time, ms), -1 when it has none
  std::string text;
};

/// The lines of `path` from byte `from` on.
inline std::vector<log_line> read_log(const std::string& path, std::streamoff from = 0) {
  std::ifstream in{path};
  in.seekg(from);
  std::vector<log_line> out;
  for (std::string line; std::getline(in, line);) {
    std::tm tm{};
    int ms = 0;
    log_line l;
    if (std::sscanf(line.c_str(), "%d-%d-%d %d:%d:%d.%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                    &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms)
        == 7) {
      tm.tm_year -= 1900;
      tm.tm_mon -= 1;
      tm.tm_isdst = -1;
      l.ms = static_cast<int64_t>(std::mktime(&tm)) * 1000 + ms;
    }
    l.text = std::move(line);
    out.push_back(std::move(l));
  }
  return out;
}

inline std::streamoff log_size(const std::string& path) {
  std::error_code ec;
  auto n = std::filesystem::file_size(path, ec);
  return ec ? 0 : static_cast<std::streamoff>(n);
}

inline std::string log_tail(const std::string& path, size_t lines = 15) {
  auto all = read_log(path);
  std::string out;
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i)
    out += "\n    " + all[i].text;
  return out;
}

/// The number after `marker` in `text` (-1 when absent).
inline int64_t number_after(const std::string& text, const std::string& marker) {
  auto at = text.find(marker);
  if (at == std::string::npos)
    return -1;
  try {
    return std::stoll(text.substr(at + marker.size()));
  } catch (...) {
    return -1;
  }
}

} // namespace bench
