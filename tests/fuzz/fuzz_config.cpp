// libFuzzer target: the configuration parsers, on the path `app::main` takes: the command
// line (client property flags taken out, then CLI11 with every worker option, their
// MEPHISTO_* environment variables and the TOML config file), the config file's client
// properties, then what checks the values: `check_client_properties`, `parse_broker_url`,
// `parse_host_port` (cluster_listen, web_listen) and `parse_host_port_list`
// (cluster_seeds). Only what `app::main` catches may be thrown (CLI::ParseError from
// CLI11's parse); anything else escaping is a crash.
//
// Input: `argv pieces, NUL-separated` [NUL NUL `config file text`]. A piece of the form
// MEPHISTO_NAME=value is put in the environment instead (removed after the input). With
// a config file, `--config FILE` is added. The whole input is also given to
// `parse_host_port` and `parse_broker_url` as one string.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include "client_properties_cli.hpp"
#include "fuzz_types.hpp"
#include "mephisto/host_port.hpp"
#include "mephisto/kafka/config.hpp"
#include "mephisto/options.hpp"
#include "worker_options_cli.hpp"

namespace {

/// The config file of the inputs that have one, in /dev/shm when there is one: made at the
/// first input, rewritten by the next ones (not created and removed each time), removed
/// at exit.
const std::string& config_path() {
  static const std::string path = [] {
    auto dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    return std::string{dir} + "/mephisto-fuzz-" + std::to_string(getpid()) + ".toml";
  }();
  // Registered once `path` is made, so that it runs before `path` is destroyed.
  static const bool removed_at_exit = std::atexit([] { unlink(path.c_str()); }) == 0;
  (void) removed_at_exit;
  return path;
}

/// Replaces the config file's contents with `text`.
void write_config(std::string_view text) {
  int fd = open(config_path().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    fuzz::fail("cannot write the config file", config_path());
  for (size_t done = 0; done < text.size();) {
    auto n = write(fd, text.data() + done, text.size() - done);
    if (n <= 0)
      fuzz::fail("cannot write the config file", config_path());
    done += static_cast<size_t>(n);
  }
  close(fd);
}

void check_host_port(std::string_view text, bool any_port) {
  auto hp = mephisto::parse_host_port(text, "fuzz", any_port);
  if (!hp)
    return;
  if (hp->host.empty() || (hp->port == 0 && !any_port))
    fuzz::fail("parse_host_port accepted an empty host or port 0", text);
  auto again = mephisto::parse_host_port(hp->to_string(), "fuzz", any_port);
  if (!again || again->host != hp->host || again->port != hp->port)
    fuzz::fail("parse_host_port does not read its own output", text);
}

void check_values(const mephisto::worker_options& o) {
  if (auto bs = mephisto::kafka::parse_broker_url(o.broker)) {
    // Every entry of the bootstrap list is host:port.
    if (!mephisto::parse_host_port_list(*bs, "fuzz"))
      fuzz::fail("parse_broker_url made a bad bootstrap list", o.broker);
  }
  check_host_port(o.cluster_listen, true);
  check_host_port(o.web_listen, true);
  if (auto seeds = mephisto::parse_host_port_list(o.cluster_seeds, "fuzz")) {
    for (auto& hp : *seeds)
      if (hp.host.empty() || hp.port == 0)
        fuzz::fail("parse_host_port_list accepted a bad entry", o.cluster_seeds);
  }
  (void) mephisto::kafka::check_client_properties(o.client_properties);
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // The parsers report on stderr and stdout (unknown variables, --help): not wanted here.
  std::cerr.rdbuf(nullptr);
  std::cout.rdbuf(nullptr);
  // The fuzzer's own MEPHISTO_* environment would count as input, and the rest of it is
  // scanned on every input (`check_environment`, `read_client_property_env`, CLI11's
  // getenv per option): only PATH and HOME stay (two fixed variables that are not
  // MEPHISTO_*), and what the sanitizers' reports use (*_OPTIONS, *SYMBOLIZER_PATH).
  std::vector<std::string> names;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view kv{*e};
    auto name = kv.substr(0, kv.find('='));
    bool keep = !name.starts_with("MEPHISTO_")
                && (name == "PATH" || name == "HOME" || name.ends_with("_OPTIONS")
                    || name.ends_with("SYMBOLIZER_PATH"));
    if (!keep)
      names.emplace_back(name);
  }
  for (auto& n : names)
    unsetenv(n.c_str());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view all{reinterpret_cast<const char*>(data), size};
  check_host_port(all, false);
  check_host_port(all, true);
  if (auto bs = mephisto::kafka::parse_broker_url(std::string{all});
      bs && !mephisto::parse_host_port_list(*bs, "fuzz"))
    fuzz::fail("parse_broker_url made a bad bootstrap list", all);
  (void) mephisto::parse_host_port_list(all, "fuzz");

  auto sep = all.find(std::string_view{"\0\0", 2});
  auto args_text = all.substr(0, sep);
  std::optional<std::string_view> file;
  if (sep != std::string_view::npos)
    file = all.substr(sep + 2);
  std::vector<std::string> pieces{"app"};
  // With putenv, the environment points into these strings until the input is done;
  // glibc's setenv would keep every NAME=value it was ever given (RSS without bound).
  std::vector<std::string> env;
  std::vector<std::unique_ptr<char[]>> env_text;
  for (size_t pos = 0; pos <= args_text.size();) {
    auto end = std::min(args_text.find('\0', pos), args_text.size());
    auto piece = args_text.substr(pos, end - pos);
    auto eq = piece.find('=');
    if (piece.rfind("MEPHISTO_", 0) == 0 && eq != std::string_view::npos) {
      auto& text = env_text.emplace_back(new char[piece.size() + 1]);
      piece.copy(text.get(), piece.size());
      text[piece.size()] = '\0';
      if (putenv(text.get()) == 0)
        env.emplace_back(piece.substr(0, eq));
    } else if (!args_text.empty()) {
      pieces.emplace_back(piece);
    }
    pos = end + 1;
  }
  if (file) {
    write_config(*file);
    pieces.push_back("--config");
    pieces.push_back(config_path());
  }
  std::vector<char*> argv;
  for (auto& p : pieces)
    argv.push_back(p.data());
  argv.push_back(nullptr);

  // As app::main does (with one subcommand standing for all). Made once: CLI11 clears
  // its results before each parse, and the options start from their defaults again.
  static mephisto::worker_options opts;
  static CLI::App cli{"fuzz", "app"};
  static auto config = cli.set_config("--config", "", "config file");
  static auto known = [] {
    cli.allow_config_extras(true);
    auto k = mephisto::add_worker_options(cli, opts);
    cli.add_subcommand("worker", "run a worker")->fallthrough();
    return k;
  }();
  opts = mephisto::worker_options{};
  cli.clear();
  mephisto::client_properties from_flags;
  std::string bad_flag;
  auto args = mephisto::take_client_property_flags(static_cast<int>(argv.size() - 1),
                                                   argv.data(), from_flags, bad_flag);
  bool parsed = bad_flag.empty();
  if (parsed) {
    try {
      cli.parse(static_cast<int>(args.size()), args.data());
    } catch (const CLI::ParseError&) {
      parsed = false;
    }
  }
  if (parsed) {
    (void) mephisto::check_environment(known.env_names);
    std::string error;
    if (config->count() > 0)
      parsed = mephisto::read_client_property_file(config->as<std::string>(), known.keys,
                                                    opts.client_properties, error);
  }
  if (parsed) {
    mephisto::read_client_property_env(opts.client_properties);
    for (auto& [key, value] : from_flags)
      opts.client_properties[key] = value;
    check_values(opts);
  }
  for (auto& name : env)
    unsetenv(name.c_str());
  return 0;
}
