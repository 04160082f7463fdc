#include "testkit.hpp"

// The test kit's child processes (workers, brokers as users run them) and files.

#include <filesystem>
#include <fstream>
#include <thread>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace testkit {

using namespace std::chrono_literals;

child::child(std::vector<std::string> argv, std::string log_path)
  : log_path_(std::move(log_path)) {
  pid_ = fork();
  if (pid_ == 0) {
    auto fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> args;
    for (auto& a : argv)
      args.push_back(a.data());
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
}

child::~child() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    wait(10s);
  }
}

void child::signal(int sig) {
  if (!exited_)
    ::kill(pid_, sig);
}

int child::wait(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!exited_) {
    auto r = waitpid(pid_, &status_, WNOHANG);
    if (r == pid_) {
      exited_ = true;
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline)
      return -1;
    std::this_thread::sleep_for(20ms);
  }
  if (WIFEXITED(status_))
    return WEXITSTATUS(status_);
  return 128 + WTERMSIG(status_);
}

bool child::running() {
  if (exited_ || pid_ <= 0)
    return false;
  return wait(0ms) == -1;
}

std::string child::log() const {
  std::ifstream in{log_path_};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool child::wait_for_log(const std::string& needle, std::chrono::milliseconds timeout,
                         size_t times) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto text = log();
    size_t count = 0;
    for (auto pos = text.find(needle); pos != std::string::npos;
         pos = text.find(needle, pos + 1))
      ++count;
    if (count >= times)
      return true;
    if (!running() || std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(50ms);
  }
}

std::string wait_for_line(const std::string& path, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in{path};
    std::string line;
    if (in && std::getline(in, line) && !line.empty())
      return line;
    std::this_thread::sleep_for(50ms);
  }
  return {};
}

int run_to_exit(std::vector<std::string> argv, const std::string& log_path,
                std::chrono::milliseconds timeout, std::string& log) {
  child c{std::move(argv), log_path};
  auto rc = c.wait(timeout);
  log = c.log();
  return rc;
}

std::string temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path()
             / ("mephisto-test-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

std::string strip_scheme(const std::string& url) {
  const std::string scheme = "kafka://";
  return url.rfind(scheme, 0) == 0 ? url.substr(scheme.size()) : url;
}

} // namespace testkit
