// The page-views demo: windowed counts, sessions and a stream-table join (see
// pageviews_app.hpp and apps/pageviews/demo.sh).

#include "pageviews_app.hpp"

int main(int argc, char** argv) {
  mephisto::app app{"pageviews"};
  pageviews::declare(app);
  return app.main(argc, argv);
}
