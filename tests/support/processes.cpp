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

std::string strip_scheme(const std::string& url) {
  const std::string scheme = "kafka://";
  return url.rfind(scheme, 0) == 0 ? url.substr(scheme.size()) : url;
}

} // namespace testkit
