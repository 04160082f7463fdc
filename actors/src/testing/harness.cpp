// mephisto::testing's harness: instances of an app as child processes (or in this
// process), and the faults a crash-recovery test injects, each noted on a timeline.

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "in_process_worker.hpp"
#include "mephisto/detail/http_get.hpp"
#include "mephisto/testing.hpp"

namespace fs = std::filesystem;

namespace mephisto::testing {

using namespace std::chrono_literals;

namespace {

bool has_flag(const std::vector<std::string>& args, const std::string& flag) {
  for (auto& a : args)
    if (a == flag || a.rfind(flag + "=", 0) == 0)
      return true;
  return false;
}

} // namespace

int free_loopback_port() {
  thread_local std::mt19937 pick{std::random_device{}()};
  std::uniform_int_distribution<int> below_ephemeral{20000, 32000};
  for (int attempt = 0; attempt < 200; ++attempt) {
    auto fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
      break;
    auto port = below_ephemeral(pick);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (free)
      return port;
  }
  throw std::runtime_error("no free loopback port");
}

/// One instance: a child process or an in-process worker (the last run's, null before the
/// first), and the ports it keeps across restarts.
struct harness::instance {
  std::unique_ptr<process> proc;
  std::unique_ptr<detail::in_process_worker> local;
  int web_port = 0;
  int cluster_port = 0;              ///< 0: the worker_args manage the cluster
  std::set<std::string> cut_links;   ///< peers' cluster addresses cut off from it
  std::vector<std::string> own_args; ///< its flags after `worker_args`
};

harness::harness(harness_options opts)
  : opts_(std::move(opts)), started_(std::chrono::steady_clock::now()), random_(opts_.seed) {
  if (opts_.broker.empty())
    throw std::invalid_argument("harness_options::broker is empty");
  if (opts_.dir.empty())
    throw std::invalid_argument("harness_options::dir is empty");
  fs::create_directories(opts_.dir);
  note("harness: seed " + std::to_string(opts_.seed) + ", broker " + opts_.broker);
}

harness::~harness() = default; // each process kills its child, each in-process worker stops

harness::instance& harness::at(int i) const {
  return *instances_.at(static_cast<size_t>(i));
}

bool harness::manages_cluster(int i) const {
  const std::vector<std::string>* flag_lists[] = {&opts_.worker_args, &at(i).own_args};
  for (auto* flags : flag_lists)
    if (has_flag(*flags, "--cluster_listen") || has_flag(*flags, "--cluster_seeds"))
      return false;
  return true;
}

process& harness::child(int i, const char* what) {
  auto& inst = at(i);
  if (!inst.proc)
    throw std::logic_error(std::string{what} + ": instance " + std::to_string(i)
                           + " runs in-process; that needs a process (harness_options::binary)");
  return *inst.proc;
}

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
  auto& inst = at(i);
  inst.web_port = free_loopback_port();
  std::vector<std::string> flags{"--broker", opts_.broker, "--web_listen", web_address(i)};
  if (opts_.rocksdb)
    flags.insert(flags.end(), {"--store", "rocksdb://" + opts_.dir + "/store-" + n});
  std::string plan;
  for (auto& f : faults)
    plan += (plan.empty() ? "" : ";") + f;
  auto noted = faults.empty() ? std::string{} : ", faults " + plan;
  if (manages_cluster(i)) {
    if (inst.cluster_port == 0)
      inst.cluster_port = free_loopback_port();
    std::string seeds;
    for (int j = 0; j < instances(); ++j)
      if (j != i && at(j).cluster_port != 0)
        seeds += (seeds.empty() ? "" : ",") + cluster_address(j);
    flags.insert(flags.end(), {"--cluster_listen", cluster_address(i)});
    if (!seeds.empty())
      flags.insert(flags.end(), {"--cluster_seeds", seeds});
    write_cut_links(i);
    plan += (plan.empty() ? "" : ";") + std::string{"cut-links@"} + opts_.dir + "/cut-links-" + n;
  }
  flags.insert(flags.end(), opts_.worker_args.begin(), opts_.worker_args.end());
  flags.insert(flags.end(), inst.own_args.begin(), inst.own_args.end());
  if (!plan.empty())
    flags.insert(flags.end(), {"--inject_faults", plan});
  inst.proc.reset(); // the previous run's (it has ended)
  inst.local.reset();
  if (opts_.in_process != nullptr) {
    inst.local = std::make_unique<detail::in_process_worker>(*opts_.in_process, flags);
    note("start instance " + n + " (in-process)" + noted);
    return;
  }
  auto exe = opts_.binary.empty() ? fs::read_symlink("/proc/self/exe").string() : opts_.binary;
  std::vector<std::string> args{exe, "worker"};
  args.insert(args.end(), flags.begin(), flags.end());
  std::vector<std::string> env;
  if (opts_.binary.empty())
    env.push_back("MEPHISTO_TESTING_WORKER=1");
  inst.proc = std::make_unique<process>(args, opts_.dir + "/instance-" + n + ".log", env);
  note("start instance " + n + " (pid " + std::to_string(inst.proc->pid()) + ")" + noted);
}

int harness::start(std::vector<std::string> faults, std::vector<std::string> args) {
  instances_.push_back(std::make_unique<instance>());
  instances_.back()->own_args = std::move(args);
  auto i = instances() - 1;
  launch(i, faults);
  return i;
}

void harness::restart(int i, std::vector<std::string> faults) {
  if (running(i))
    throw std::logic_error("instance " + std::to_string(i) + " still runs");
  launch(i, faults);
}

bool harness::running(int i) {
  auto& inst = at(i);
  return inst.proc ? inst.proc->running() : inst.local && inst.local->running();
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
  auto& p = child(i, "kill -9");
  p.signal(SIGKILL);
  auto rc = p.wait(30s);
  note("kill -9 instance " + std::to_string(i) + " (pid " + std::to_string(p.pid())
       + ", exit " + std::to_string(rc) + ")");
  return rc;
}

int harness::stop(int i, std::chrono::milliseconds timeout) {
  auto& inst = at(i);
  int rc = -1;
  if (inst.proc) {
    inst.proc->signal(SIGTERM);
    rc = inst.proc->wait(timeout);
  } else if (inst.local) {
    rc = inst.local->stop(timeout);
  }
  note("stop instance " + std::to_string(i) + " (exit " + std::to_string(rc) + ")");
  return rc;
}

void harness::pause(int i) {
  child(i, "pause").signal(SIGSTOP);
  note("pause instance " + std::to_string(i) + " (SIGSTOP)");
}

void harness::resume(int i) {
  child(i, "resume").signal(SIGCONT);
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

void harness::write_cut_links(int i) {
  auto path = opts_.dir + "/cut-links-" + std::to_string(i);
  {
    std::ofstream out{path + ".new"};
    for (auto& address : at(i).cut_links)
      out << address << '\n';
  }
  fs::rename(path + ".new", path); // whole: the worker never reads half a file
}

void harness::set_link(int i, int j, bool cut) {
  if (!manages_cluster(i) || !manages_cluster(j))
    throw std::logic_error("cut_link: the flags of instance " + std::to_string(i) + " or "
                           + std::to_string(j) + " manage the cluster");
  for (auto [from, to] : {std::pair{i, j}, std::pair{j, i}}) {
    auto& links = at(from).cut_links;
    if (cut)
      links.insert(cluster_address(to));
    else
      links.erase(cluster_address(to));
    write_cut_links(from);
  }
  note(std::string{cut ? "cut" : "restore"} + " the cluster link between instances "
       + std::to_string(i) + " and " + std::to_string(j));
}

void harness::cut_link(int i, int j) {
  set_link(i, j, true);
}

void harness::restore_link(int i, int j) {
  set_link(i, j, false);
}

std::string harness::log(int i) const {
  auto& inst = at(i);
  if (inst.local)
    return "in-process instance " + std::to_string(i) + ": " + inst.local->outcome() + "\n";
  return inst.proc ? inst.proc->log() : std::string{};
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
  return "127.0.0.1:" + std::to_string(at(i).web_port);
}

std::string harness::cluster_address(int i) const {
  auto port = at(i).cluster_port;
  return port == 0 ? std::string{} : "127.0.0.1:" + std::to_string(port);
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
