// A test app whose source topic nobody creates: on a real broker the worker must refuse
// to start with a clear error instead of creating it or waiting.

#include <mephisto/mephisto.hpp>

int main(int argc, char** argv) {
  mephisto::app app{"orphan"};
  auto source = app.topic<std::string>("orphan-source-that-does-not-exist");
  app.agent("noop", source, [](const std::string&, mephisto::context&) {});
  return app.main(argc, argv);
}
