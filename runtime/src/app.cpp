#include "mephisto/app.hpp"

#include <algorithm>
#include <stdexcept>

namespace mephisto {

app::app(std::string name) : topo_(std::make_shared<topology>()) {
  topo_->app_id = std::move(name);
}

uint32_t app::add_topic(const std::string& name, const topic_options& opts) {
  for (auto& t : topo_->topics)
    if (t.name == name)
      throw std::invalid_argument("topic " + name + " declared twice");
  topology::topic_def def;
  def.name = name;
  def.partitions = opts.partitions;
  def.internal = opts.internal;
  def.kafka_name = opts.internal ? topo_->app_id + "-" + name : name;
  topo_->topics.push_back(std::move(def));
  return static_cast<uint32_t>(topo_->topics.size() - 1);
}

uint32_t app::add_table(const std::string& name, const table_options& opts,
                        std::function<std::shared_ptr<store_base>(const store_place&)> make_store,
                        topology::table_view view) {
  for (auto& t : topo_->tables)
    if (t.name == name)
      throw std::invalid_argument("table " + name + " declared twice");
  topology::table_def def;
  def.name = name;
  def.partitions = opts.partitions;
  def.changelog = topo_->app_id + "-" + name + "-changelog";
  def.make_store = std::move(make_store);
  def.view = std::move(view);
  topo_->tables.push_back(std::move(def));
  return static_cast<uint32_t>(topo_->tables.size() - 1);
}

void app::add_agent(std::string name, uint32_t topic, agent_options opts,
                    std::function<std::unique_ptr<agent_body>()> make_body) {
  for (auto& a : topo_->agents)
    if (a.name == name)
      throw std::invalid_argument("agent " + name + " declared twice");
  topology::agent_def def;
  def.name = std::move(name);
  def.topic = topic;
  for (auto& t : opts.tables)
    if (std::find(def.tables.begin(), def.tables.end(), t.index) == def.tables.end())
      def.tables.push_back(t.index);
  auto& source = topo_->topics[topic];
  for (auto t : def.tables) {
    auto& table = topo_->tables[t];
    if (!source.follows_tables || table.partitions == 0)
      continue;
    if (source.partitions == 0)
      source.partitions = table.partitions;
    else if (source.partitions != table.partitions)
      throw std::invalid_argument(
        "topic " + source.name + " (made by group_by) feeds table " + table.name + " ("
        + std::to_string(table.partitions) + " partitions) and a table of "
        + std::to_string(source.partitions) + " partitions: give group_by its partitions");
  }
  def.make_body = std::move(make_body);
  topo_->agents.push_back(std::move(def));
}

void app::follow_tables(uint32_t topic) {
  auto& def = topo_->topics[topic];
  def.follows_tables = def.partitions == 0;
}

std::shared_ptr<topology> app::resolve(const worker_options& opts) const {
  auto result = std::make_shared<topology>(*topo_);
  if (!opts.id.empty())
    result->rename(opts.id);
  return result;
}

} // namespace mephisto
