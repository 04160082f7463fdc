#pragma once

// The colors app's declarations, shared by apps/colors/colors.cpp and the tests.

#include <cstdint>
#include <optional>
#include <string>

#include <mephisto/mephisto.hpp>

namespace colors {

/// Declares the seed's colors pipeline on `app`.
inline void declare(mephisto::app& app) {
  auto input = app.topic<std::string>("input");
  // The colors only, keyed by the color: the internal topic colors-colors_topic.
  auto colors = app.group_by(
    "colors_topic", input,
    [](const std::string& word) -> std::optional<std::string> {
      if (word == "red" || word == "green" || word == "blue")
        return word;
      return std::nullopt;
    },
    {.agent = "filter_colors"});
  auto output = app.topic<std::string, std::int64_t>("output");
  auto counts = app.table<std::string, std::int64_t>("colors-count");

  app.agent(
    "colors_count", colors,
    [=](const std::string& color, mephisto::context& ctx) {
      auto n = ++ctx[counts][color];
      ctx.send(output, color, n);
    },
    {.tables = {counts}});
}

} // namespace colors
