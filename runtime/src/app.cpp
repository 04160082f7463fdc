#include "mephisto/app.hpp"
#include "mephisto/crontab.hpp"

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
  for (auto& p : opts.punctuators)
    if (p.every.count() <= 0 || !p.fn)
      throw std::invalid_argument("agent " + def.name
                                  + ": a punctuator needs a positive interval and a function");
  def.punctuators = std::move(opts.punctuators);
  def.make_body = std::move(make_body);
  topo_->agents.push_back(std::move(def));
}

namespace {

/// The leader topic's agent has no events to process: only its punctuators run.
struct no_events_body final : agent_body {
  size_t process(std::span<const consumed_record> batch, context&, event_reporter&) override {
    return batch.size();
  }
};

} // namespace

void app::add_timer(std::chrono::milliseconds interval, std::function<void(context&)> fn,
                    const timer_options& opts) {
  if (interval.count() <= 0)
    throw std::invalid_argument("a timer needs a positive interval");
  punctuator timer{interval, punctuation_time::wall_clock, std::move(fn)};
  if (opts.on_leader)
    timers_agent().punctuators.push_back(std::move(timer));
  else
    topo_->instance_timers.push_back(std::move(timer));
}

void app::add_crontab(const std::string& expr, std::function<void(context&)> fn,
                      const crontab_options& opts) {
  auto schedule = std::make_shared<const cron_schedule>(expr, opts.timezone);
  punctuator timer{.every = std::chrono::seconds(1),
                   .time = punctuation_time::wall_clock,
                   .fn = std::move(fn),
                   .next_due = [schedule](int64_t now) { return schedule->next_after(now); }};
  if (opts.on_leader)
    timers_agent().punctuators.push_back(std::move(timer));
  else
    topo_->instance_timers.push_back(std::move(timer));
}

topology::agent_def& app::timers_agent() {
  auto it = std::find_if(topo_->agents.begin(), topo_->agents.end(),
                         [](auto& a) { return a.name == "timers"; });
  if (it == topo_->agents.end()) {
    auto leader = add_topic("leader", {.partitions = 1, .internal = true});
    add_agent("timers", leader, {}, [] { return std::make_unique<no_events_body>(); });
    it = topo_->agents.end() - 1;
  }
  return *it;
}

void app::follow_tables(uint32_t topic) {
  auto& def = topo_->topics[topic];
  def.follows_tables = def.partitions == 0;
}

void app::check_window_spec(const std::string& table, const window_spec& spec,
                            bool can_merge) {
  auto refuse = [&](const std::string& why) {
    throw std::invalid_argument("windowed table " + table + ": " + why);
  };
  if (spec.grace < 0 || spec.expires < 0)
    refuse("grace and expires cannot be negative");
  switch (spec.kind) {
    case window_kind::tumbling:
    case window_kind::hopping:
      if (spec.size <= 0)
        refuse("the window size must be positive");
      if (spec.step <= 0 || spec.step > spec.size)
        refuse("the hop must be positive and at most the window size");
      break;
    case window_kind::sliding:
      if (spec.size <= 0)
        refuse("the window size must be positive");
      break;
    case window_kind::session:
      if (spec.gap <= 0)
        refuse("the session gap must be positive");
      if (!can_merge)
        refuse("session windows need a merge function for this value type (the value type "
               "has no +=)");
      break;
  }
}

void app::mark_fed(uint32_t table, uint32_t topic) {
  topo_->tables[table].fed_by = topic;
}

uint32_t app::add_global(const std::string& name, uint32_t topic,
                         std::function<std::shared_ptr<global_store_base>()> make_store,
                         topology::table_view view) {
  for (auto& g : topo_->globals)
    if (g.name == name)
      throw std::invalid_argument("global table " + name + " declared twice");
  for (auto& t : topo_->tables)
    if (t.name == name)
      throw std::invalid_argument("global table " + name + " has the name of a table");
  topology::global_def def;
  def.name = name;
  def.topic = topic;
  def.make_store = std::move(make_store);
  def.view = std::move(view);
  topo_->globals.push_back(std::move(def));
  return static_cast<uint32_t>(topo_->globals.size() - 1);
}

void app::mark_windowed(uint32_t table, const window_spec& spec, std::shared_ptr<void> hooks) {
  auto& def = topo_->tables[table];
  def.windowed = true;
  def.close_on_wall_clock = spec.close_on_wall_clock;
  def.window_hooks = std::move(hooks);
}

const std::shared_ptr<void>& app::window_hooks_of(uint32_t table) const {
  auto& def = topo_->tables.at(table);
  if (!def.windowed)
    throw std::invalid_argument("table " + def.name + " is not a windowed table");
  return def.window_hooks;
}

std::shared_ptr<topology> app::resolve(const worker_options& opts) const {
  auto result = std::make_shared<topology>(*topo_);
  if (!opts.id.empty())
    result->rename(opts.id);
  return result;
}

} // namespace mephisto
