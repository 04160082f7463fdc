#pragma once

// The colors app's declarations, shared by apps/colors/colors.cpp and the tests.

#include <cstdint>
#include <string>

#include <mephisto/mephisto.hpp>

namespace colors {

/// Declares the seed's colors pipeline on `app`.
inline void declare(mephisto::app& app) {
  auto input = app.topic<std::string>("input");
  auto colors = app.topic<std::string>("colors_topic", {.internal = true});
  auto output = app.topic<std::string, std::int64_t>("output");
  auto counts = app.table<std::string, std::int64_t>("colors-count");

  app.agent("filter_colors", input, [=](const std::string& word, mephisto::context& ctx) {
    if (word == "red" || word == "green" || word == "blue")
      ctx.send(colors, word, word);
  });

  app.agent(
    "colors_count", colors,
    [=](const std::string& color, mephisto::context& ctx) {
      auto n = ++ctx[counts][color];
      ctx.send(output, color, n);
    },
    {.tables = {counts}});
}

} // namespace colors
