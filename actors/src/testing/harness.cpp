// mephisto::testing's harness: instances of an app as child processes, a real broker for
// tests, and the faults a crash-recovery test injects, each noted on a timeline.

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mephisto/detail/http_get.hpp"
#include "mephisto/testing.hpp"

namespace fs = std::filesystem;

namespace mephisto::testing {

using namespace std::chrono_literals;

namespace {

/// A loopback port nobody listens on now (the worker binds it right after).
int free_port() {
  auto fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0
      || ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0)
      ::close(fd);
    throw std::runtime_error("no free loopback port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string read_line(const std::string& path) {
  std::ifstream in{path};
  std::string line;
  std::getline(in, line);
  return line;
}

} // namespace

// -- the broker -------------------------------------------------------------------------

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

// -- the harness ------------------------------------------------------------------------

harness::harness(harness_options opts)
  : opts_(std::move(opts)), started_(std::chrono::steady_clock::now()), random_(opts_.seed) {
  if (opts_.broker.empty())
    throw std::invalid_argument("harness_options::broker is empty");
  if (opts_.dir.empty())
    throw std::invalid_argument("harness_options::dir is empty");
  fs::create_directories(opts_.dir);
  note("harness: seed " + std::to_string(opts_.seed) + ", broker " + opts_.broker);
}

harness::~harness() = default; // each process kills its child

void harness::note(const std::string& what) {
  auto s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  char at[32];
  std::snprintf(at, sizeof at, "%8.3f s  ", s);
  timeline_.push_back(at + what);
}

std::string harness::timeline() const {
  std::string out = "timeline:\n";
  for (auto& line : timeline_)
    out += "  " + line + "\n";
  return out;
}

std::chrono::milliseconds harness::between(std::chrono::milliseconds lo,
                                           std::chrono::milliseconds hi) {
  std::uniform_int_distribution<int64_t> d{lo.count(), hi.count()};
  return std::chrono::milliseconds{d(random_)};
}

void harness::launch(int i, const std::vector<std::string>& faults) {
  auto n = std::to_string(i);
  ports_[static_cast<size_t>(i)] = free_port();
  auto exe = opts_.binary.empty() ? fs::read_symlink("/proc/self/exe").string() : opts_.binary;
  std::vector<std::string> args{exe, "worker", "--broker", opts_.broker, "--web_listen",
                                web_address(i)};
  if (opts_.rocksdb)
    args.insert(args.end(), {"--store", "rocksdb://" + opts_.dir + "/store-" + n});
  args.insert(args.end(), opts_.worker_args.begin(), opts_.worker_args.end());
  auto& own = args_[static_cast<size_t>(i)];
  args.insert(args.end(), own.begin(), own.end());
  std::string plan;
  for (auto& f : faults)
    plan += (plan.empty() ? "" : ";") + f;
  if (!plan.empty())
    args.insert(args.end(), {"--inject_faults", plan});
  std::vector<std::string> env;
  if (opts_.binary.empty())
    env.push_back("MEPHISTO_TESTING_WORKER=1");
  auto& slot = procs_[static_cast<size_t>(i)];
  slot.reset(); // the previous run's process object (it has exited)
  slot = std::make_unique<process>(args, opts_.dir + "/instance-" + n + ".log", env);
  note("start instance " + n + " (pid " + std::to_string(slot->pid()) + ")"
       + (plan.empty() ? "" : ", faults " + plan));
}

int harness::start(std::vector<std::string> faults, std::vector<std::string> args) {
  procs_.emplace_back();
  ports_.push_back(0);
  args_.push_back(std::move(args));
  auto i = static_cast<int>(procs_.size()) - 1;
  launch(i, faults);
  return i;
}

void harness::restart(int i, std::vector<std::string> faults) {
  if (running(i))
    throw std::logic_error("instance " + std::to_string(i) + " still runs");
  launch(i, faults);
}

bool harness::running(int i) {
  auto& p = procs_.at(static_cast<size_t>(i));
  return p && p->running();
}

bool harness::wait_ready(int i, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!running(i)) {
      note("instance " + std::to_string(i) + " exited before it was ready");
      return false;
    }
    if (detail::http_get(web_address(i), "/ready").status == 200) {
      note("instance " + std::to_string(i) + " ready");
      return true;
    }
    std::this_thread::sleep_for(100ms);
  }
  note("instance " + std::to_string(i) + " not ready within "
       + std::to_string(timeout.count()) + " ms");
  return false;
}

int harness::kill(int i) {
  auto& p = *procs_.at(static_cast<size_t>(i));
  p.signal(SIGKILL);
  auto rc = p.wait(30s);
  note("kill -9 instance " + std::to_string(i) + " (pid " + std::to_string(p.pid())
       + ", exit " + std::to_string(rc) + ")");
  return rc;
}

int harness::stop(int i, std::chrono::milliseconds timeout) {
  auto& p = *procs_.at(static_cast<size_t>(i));
  p.signal(SIGTERM);
  auto rc = p.wait(timeout);
  note("stop instance " + std::to_string(i) + " (exit " + std::to_string(rc) + ")");
  return rc;
}

void harness::pause(int i) {
  procs_.at(static_cast<size_t>(i))->signal(SIGSTOP);
  note("pause instance " + std::to_string(i) + " (SIGSTOP)");
}

void harness::resume(int i) {
  procs_.at(static_cast<size_t>(i))->signal(SIGCONT);
  note("resume instance " + std::to_string(i) + " (SIGCONT)");
}

void harness::delete_store(int i) {
  if (running(i))
    throw std::logic_error("delete_store: instance " + std::to_string(i) + " still runs");
  auto dir = opts_.dir + "/store-" + std::to_string(i);
  auto n = fs::remove_all(dir);
  note("delete store of instance " + std::to_string(i) + " (" + std::to_string(n) + " files)");
}

void harness::corrupt_store(int i) {
  if (running(i))
    throw std::logic_error("corrupt_store: instance " + std::to_string(i) + " still runs");
  auto dir = opts_.dir + "/store-" + std::to_string(i);
  size_t files = 0;
  if (fs::exists(dir))
    for (auto& e : fs::recursive_directory_iterator(dir)) {
      auto name = e.path().filename().string();
      bool table_file = e.path().extension() == ".sst" || name == "CURRENT"
                        || name.rfind("MANIFEST-", 0) == 0;
      if (!e.is_regular_file() || !table_file || e.file_size() == 0)
        continue;
      // Bytes from the middle on become garbage: checksums and the manifest no longer hold.
      std::fstream f{e.path(), std::ios::in | std::ios::out | std::ios::binary};
      auto size = e.file_size();
      f.seekp(static_cast<std::streamoff>(size / 2));
      for (size_t b = size / 2; b < size && b < size / 2 + 64; ++b)
        f.put(static_cast<char>(random_() & 0xff));
      ++files;
    }
  note("corrupt store of instance " + std::to_string(i) + " (" + std::to_string(files)
       + " files)");
}

void harness::pause_broker(kafka_broker& broker, std::chrono::milliseconds duration) {
  broker.pause();
  note("broker unreachable (SIGSTOP pid " + std::to_string(broker.pid()) + ") for "
       + std::to_string(duration.count()) + " ms");
  std::this_thread::sleep_for(duration);
  broker.resume();
  note("broker back (SIGCONT)");
}

std::string harness::log(int i) const {
  auto& p = procs_.at(static_cast<size_t>(i));
  return p ? p->log() : std::string{};
}

std::optional<double> harness::metric(int i, const std::string& name) const {
  auto page = detail::http_get(web_address(i), "/metrics");
  if (page.status != 200)
    return std::nullopt;
  std::istringstream in{page.body};
  std::string line;
  std::optional<double> sum;
  while (std::getline(in, line)) {
    if (line.rfind(name, 0) != 0 || line.size() <= name.size())
      continue;
    auto next = line[name.size()];
    if (next != ' ' && next != '{')
      continue;
    auto space = line.rfind(' ');
    sum = sum.value_or(0) + std::stod(line.substr(space + 1));
  }
  return sum;
}

std::string harness::web_address(int i) const {
  return "127.0.0.1:" + std::to_string(ports_.at(static_cast<size_t>(i)));
}

namespace faults {

namespace {

std::string target(const std::string& topic, int32_t partition, int64_t n) {
  return topic + "/" + std::to_string(partition) + "/" + std::to_string(n);
}

} // namespace

std::string fail_at(const std::string& topic, int32_t partition, int64_t offset) {
  return "fail@" + target(topic, partition, offset);
}

std::string crash_at(const std::string& topic, int32_t partition, int64_t offset) {
  return "crash@" + target(topic, partition, offset);
}

std::string slow(const std::string& topic, int32_t partition, std::chrono::milliseconds delay) {
  return "slow@" + target(topic, partition, delay.count());
}

std::string produce_failures(std::chrono::milliseconds from, std::chrono::milliseconds to) {
  return "produce-fail@" + std::to_string(from.count()) + "-" + std::to_string(to.count());
}

} // namespace faults

std::optional<int> worker_main_if_child(app& a, int argc, char** argv) {
  auto role = std::getenv("MEPHISTO_TESTING_WORKER");
  if (role == nullptr || *role == '\0')
    return std::nullopt;
  return a.main(argc, argv);
}

} // namespace mephisto::testing
