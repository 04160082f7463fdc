// mephisto::testing::process: a child process with its output in a log file.

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mephisto/testing.hpp"

namespace mephisto::testing {

using namespace std::chrono_literals;

process::process(std::vector<std::string> argv, std::string log_path,
                 std::vector<std::string> env)
  : log_path_(std::move(log_path)) {
  // Everything exec needs is made before the fork: the child only calls async-signal-safe
  // functions (the parent may have threads).
  std::vector<char*> args;
  for (auto& a : argv)
    args.push_back(a.data());
  args.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e)
    env_strings.emplace_back(*e);
  env_strings.insert(env_strings.end(), env.begin(), env.end());
  std::vector<char*> envp;
  for (auto& e : env_strings)
    envp.push_back(e.data());
  envp.push_back(nullptr);
  auto fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    throw std::runtime_error("cannot write " + log_path_);
  pid_ = fork();
  if (pid_ == 0) {
    dup2(fd, 1);
    dup2(fd, 2);
    execve(args[0], args.data(), envp.data());
    _exit(127);
  }
  ::close(fd);
  if (pid_ < 0)
    throw std::runtime_error("fork failed");
}

process::~process() {
  if (running()) {
    ::kill(pid_, SIGCONT); // a stopped child would not die before it runs again
    ::kill(pid_, SIGKILL);
    wait(10s);
  }
}

void process::signal(int sig) {
  if (!exited_)
    ::kill(pid_, sig);
}

int process::wait(std::chrono::milliseconds timeout) {
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

bool process::running() {
  if (exited_ || pid_ <= 0)
    return false;
  return wait(0ms) == -1;
}

std::string process::log() const {
  std::ifstream in{log_path_};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool process::wait_for_log(const std::string& needle, std::chrono::milliseconds timeout,
                           size_t times) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto text = log();
    size_t count = 0;
    for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1))
      ++count;
    if (count >= times)
      return true;
    if (!running() || std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(50ms);
  }
}

std::string temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path()
             / ("mephisto-test-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

} // namespace mephisto::testing
