// mephisto::testing's real broker for tests: started with the kit's kafka.sh, attached to
// one a fixture started, or the app's embedded (mock) broker in a process of its own.

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include <signal.h>

#include "mephisto/testing.hpp"

namespace fs = std::filesystem;

namespace mephisto::testing {

using namespace std::chrono_literals;

namespace {

std::string read_line(const std::string& path) {
  std::ifstream in{path};
  std::string line;
  std::getline(in, line);
  return line;
}

} // namespace

std::string kafka_script() {
  if (auto env = std::getenv("MEPHISTO_TESTING_KAFKA_SCRIPT"); env != nullptr && *env != '\0')
    return env;
  for (const char* candidate : {MEPHISTO_KAFKA_SCRIPT_INSTALLED, MEPHISTO_KAFKA_SCRIPT_SOURCE})
    if (fs::exists(candidate))
      return candidate;
  throw std::runtime_error(std::string{"kafka.sh not found (neither "}
                           + MEPHISTO_KAFKA_SCRIPT_INSTALLED + " nor "
                           + MEPHISTO_KAFKA_SCRIPT_SOURCE + "); set MEPHISTO_TESTING_KAFKA_SCRIPT");
}

kafka_broker::kafka_broker(std::string dir, bool owned) : dir_(std::move(dir)), owned_(owned) {
  bootstrap_ = read_line(dir_ + "/bootstrap");
  auto pid = read_line(dir_ + "/pid");
  if (bootstrap_.empty() || pid.empty())
    throw std::runtime_error("no Kafka broker in " + dir_ + " (kafka.sh start " + dir_
                             + " writes bootstrap and pid there)");
  pid_ = static_cast<pid_t>(std::stol(pid));
}

std::unique_ptr<kafka_broker> kafka_broker::start(const std::string& dir) {
  fs::create_directories(dir);
  process p{{"/bin/bash", kafka_script(), "start", dir}, dir + "/kafka-start.log"};
  auto rc = p.wait(15min);
  if (rc != 0)
    throw std::runtime_error("kafka.sh start failed (exit " + std::to_string(rc) + "):\n"
                             + p.log());
  return std::unique_ptr<kafka_broker>(new kafka_broker(dir, true));
}

std::unique_ptr<kafka_broker> kafka_broker::attach(const std::string& dir) {
  return std::unique_ptr<kafka_broker>(new kafka_broker(dir, false));
}

std::unique_ptr<kafka_broker> kafka_broker::for_tests() {
  if (auto dir = std::getenv("MEPHISTO_TESTING_KAFKA_DIR"); dir != nullptr && *dir != '\0'
                                                      && fs::exists(std::string{dir} + "/bootstrap"))
    return attach(dir);
  return start(temp_dir("kafka"));
}

std::unique_ptr<kafka_broker> kafka_broker::embedded(const std::string& app_binary,
                                                    const std::string& dir,
                                                    std::vector<std::string> args) {
  fs::create_directories(dir);
  auto file = dir + "/bootstrap";
  fs::remove(file);
  std::vector<std::string> argv{app_binary, "broker", "--bootstrap_file", file};
  argv.insert(argv.end(), args.begin(), args.end());
  std::unique_ptr<kafka_broker> b{new kafka_broker()};
  b->process_ = std::make_unique<process>(argv, dir + "/broker.log");
  b->dir_ = dir;
  b->pid_ = b->process_->pid();
  auto deadline = std::chrono::steady_clock::now() + 60s;
  std::string url;
  while ((url = read_line(file)).empty()) {
    if (!b->process_->running() || std::chrono::steady_clock::now() >= deadline)
      throw std::runtime_error("the embedded broker did not start:\n" + b->process_->log());
    std::this_thread::sleep_for(50ms);
  }
  const std::string scheme = "kafka://";
  b->bootstrap_ = url.rfind(scheme, 0) == 0 ? url.substr(scheme.size()) : url;
  return b;
}

kafka_broker::~kafka_broker() {
  if (paused_)
    resume();
  if (owned_) {
    try {
      process p{{"/bin/bash", kafka_script(), "stop", dir_}, dir_ + "/kafka-stop.log"};
      p.wait(60s);
    } catch (...) {
    }
  }
}

void kafka_broker::pause() {
  ::kill(pid_, SIGSTOP);
  paused_ = true;
}

void kafka_broker::resume() {
  ::kill(pid_, SIGCONT);
  paused_ = false;
}

} // namespace mephisto::testing
