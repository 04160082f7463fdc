#include "client_properties_cli.hpp"

#include <cctype>
#include <cstring>

#include <CLI/CLI.hpp>

extern char** environ;

namespace mephisto {

namespace {

constexpr const char* prefixes[] = {"kafka.", "consumer.", "producer."};

bool has_client_prefix(const std::string& key) {
  for (auto* p : prefixes)
    if (key.rfind(p, 0) == 0 && key.size() > std::strlen(p))
      return true;
  return false;
}

/// `MEPHISTO_KAFKA_SASL_PASSWORD` -> `kafka.sasl.password` (`__` stands for `_`), or "".
std::string property_of_env_name(const std::string& name) {
  static const std::string lead = "MEPHISTO_";
  if (name.rfind(lead, 0) != 0)
    return {};
  std::string out;
  for (size_t i = lead.size(); i < name.size(); ++i) {
    if (name[i] == '_' && i + 1 < name.size() && name[i + 1] == '_') {
      out += '_';
      ++i;
    } else if (name[i] == '_') {
      out += '.';
    } else {
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(name[i])));
    }
  }
  return has_client_prefix(out) ? out : std::string{};
}

} // namespace

bool is_client_property_env(const std::string& name) {
  return !property_of_env_name(name).empty();
}

std::vector<char*> take_client_property_flags(int argc, char** argv, client_properties& out,
                                              std::string& error) {
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (i == 0 || arg.rfind("--", 0) != 0 || !has_client_prefix(arg.substr(2))) {
      rest.push_back(argv[i]);
      continue;
    }
    auto eq = arg.find('=');
    if (eq != std::string::npos) {
      out[arg.substr(2, eq - 2)] = arg.substr(eq + 1);
    } else if (i + 1 < argc) {
      out[arg.substr(2)] = argv[++i];
    } else {
      error = arg + " needs a value";
      return {};
    }
  }
  return rest;
}

void read_client_property_env(client_properties& out) {
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq == std::string::npos)
      continue;
    if (auto key = property_of_env_name(kv.substr(0, eq)); !key.empty())
      out[key] = kv.substr(eq + 1);
  }
}

bool read_client_property_file(const std::string& path, const std::set<std::string>& known,
                               client_properties& out, std::string& error) {
  std::vector<CLI::ConfigItem> items;
  try {
    items = CLI::ConfigTOML{}.from_file(path);
  } catch (const CLI::Error& e) {
    error = path + ": " + e.what();
    return false;
  }
  for (auto& item : items) {
    if (item.name == "++" || item.name == "--")
      continue; // CLI11's marks of a [section]'s start and end
    std::string key;
    for (auto& parent : item.parents)
      key += parent + '.';
    key += item.name;
    if (has_client_prefix(key)) {
      std::string value;
      for (auto& x : item.inputs)
        value += (value.empty() ? "" : ",") + x;
      out[key] = value;
    } else if (item.parents.empty() && known.count(item.name) == 0) {
      error = path + ": unknown key " + key;
      return false;
    }
  }
  return true;
}

} // namespace mephisto
