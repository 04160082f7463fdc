// The seed's demo in C++: count the colors in a stream of words.
//
// `filter_colors` reads words from `input` and forwards red, green and blue to the
// internal topic `colors_topic`, keyed by the color, so that every color lands on one
// partition. `colors_count` counts them in the table `colors-count` (which survives
// restarts through its changelog topic) and sends each running count to `output`.
// The declarations are in colors_app.hpp so that the tests run the very same app.
//
//   colors worker --broker embedded          # everything in one process
//   colors broker                             # or: an embedded broker for many workers
//   colors worker --broker kafka://host:port  # ... and workers that share the work
//   colors send input red --broker kafka://host:port

#include "colors_app.hpp"

int main(int argc, char** argv) {
  mephisto::app app{"colors"};
  colors::declare(app);
  return app.main(argc, argv);
}
