#pragma once

#include <cstddef>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include <chrono>
#include <caf/error.hpp>
#include <caf/detail/implicit_conversions.hpp>
#include <caf/response_type.hpp>

namespace mephisto {

/// How a round of `ask_each` / `ask_all` ends.
template <class OnAnswer, class OnError, class OnDone>
struct ask_handlers {
  OnAnswer on_answer; ///< `(index, answer...)`: one target answered
  OnError on_error;   ///< `(index, error)`: one target failed (or timed out)
  OnDone on_done;     ///< `()`: every target answered or failed
};

template <class OnAnswer, class OnError, class OnDone>
ask_handlers<OnAnswer, OnError, OnDone> on_answers(OnAnswer a, OnError e, OnDone d) {
  return {std::move(a), std::move(e), std::move(d)};
}

namespace detail {

/// The answer handler of target `index`'s request, typed as its interface answers.
template <class AnswerTypes>
struct indexed_answer;

template <class... Rs>
struct indexed_answer<caf::detail::type_list<Rs...>> {
  template <class Handlers, class AfterOne>
  static auto make(std::shared_ptr<Handlers> handlers, AfterOne after_one, size_t index) {
    return [handlers, after_one, index](Rs&... xs) {
      handlers->on_answer(index, xs...);
      after_one();
    };
  }
};

} // namespace detail

/// Sends `request...` to each of `targets` (typed handles of one interface) and counts the
/// answers: `on_answer(i, answer...)` or `on_error(i, error)` per target, in arrival
/// order, then `on_done()` once all are in. No targets: `on_done()` at once. Each request
/// has `timeout`. The handlers run in `self`'s context.
template <class Self, class Handle, class OnAnswer, class OnError, class OnDone, class... Ts>
void ask_each(Self* self, const std::vector<Handle>& targets, std::chrono::milliseconds timeout,
              ask_handlers<OnAnswer, OnError, OnDone> handlers, const Ts&... request) {
  if (targets.empty()) {
    handlers.on_done();
    return;
  }
  using answer_types = caf::response_type_t<
    typename Handle::signatures,
    typename caf::detail::implicit_conversions<std::decay_t<Ts>>::type...>;
  auto shared = std::make_shared<ask_handlers<OnAnswer, OnError, OnDone>>(std::move(handlers));
  auto missing = std::make_shared<size_t>(targets.size());
  auto after_one = [shared, missing] {
    if (--*missing == 0)
      shared->on_done();
  };
  for (size_t i = 0; i < targets.size(); ++i)
    self->request(targets[i], timeout, request...)
      .then(detail::indexed_answer<answer_types>::make(shared, after_one, i),
            [shared, after_one, i](caf::error& err) {
              shared->on_error(i, err);
              after_one();
            });
}

/// Like `ask_each`, for rounds that need every answer: the first error ends the round with
/// `on_error(error)` (later answers are ignored); `on_done()` only if all succeeded.
template <class Self, class Handle, class OnAnswer, class OnError, class OnDone, class... Ts>
void ask_all(Self* self, const std::vector<Handle>& targets, std::chrono::milliseconds timeout,
             ask_handlers<OnAnswer, OnError, OnDone> handlers, const Ts&... request) {
  auto failed = std::make_shared<bool>(false);
  auto on_answer = std::move(handlers.on_answer);
  auto on_error = std::move(handlers.on_error);
  auto on_done = std::move(handlers.on_done);
  ask_each(
    self, targets, timeout,
    on_answers(
      [failed, on_answer](size_t i, auto&... xs) mutable {
        if (!*failed)
          on_answer(i, xs...);
      },
      [failed, on_error](size_t, caf::error& err) mutable {
        if (!*failed) {
          *failed = true;
          on_error(err);
        }
      },
      [failed, on_done]() mutable {
        if (!*failed)
          on_done();
      }),
    request...);
}

} // namespace mephisto
