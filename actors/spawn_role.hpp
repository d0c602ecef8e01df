// actors/spawn_role.hpp -- spawning an actor that blocks (on the database).
//
// Such an actor gets a thread of its own, so it never holds up a scheduler
// thread. Under CAF's deterministic test scheduler (unit tests, the
// placement simulation of tests/sim) every actor runs on the test
// coordinator instead, so a run is reproducible message by message.
// Include from actor .cpp files only (it pulls in caf/all.hpp).
#pragma once

#include <caf/all.hpp>

#include <utility>

namespace axon::actors {

template <class F, class... Ts>
auto spawn_role(caf::actor_system& sys, F fun, Ts&&... xs) -> decltype(sys.spawn(fun, std::forward<Ts>(xs)...)) {
  if (dynamic_cast<caf::scheduler::test_coordinator*>(&sys.scheduler()))
    return sys.spawn(fun, std::forward<Ts>(xs)...);
  return sys.spawn<caf::detached>(fun, std::forward<Ts>(xs)...);
}

} // namespace axon::actors
