#pragma once

/// Everything an app needs: `mephisto::app`, topics, tables, agents, codecs.
#include "mephisto/app.hpp"
#include "mephisto/codec.hpp"
#include "mephisto/context.hpp"
#include "mephisto/crontab.hpp"
#include "mephisto/table.hpp"
#include "mephisto/topic.hpp"
