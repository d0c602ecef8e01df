// actors/notifier/writer_liveness.cpp
#include "actors/notifier/writer_liveness.hpp"
#include "actors/spawn_role.hpp"

#include "storage/stores/events_store.hpp"

#include <caf/all.hpp>

namespace axon::actors {

namespace {

writer_liveness_actor::behavior_type writer_liveness(writer_liveness_actor::pointer,
                                                     storage::pool* pool) {
  return {
    [=](const msg::check_events_writers& req) -> caf::result<msg::events_writers_status> {
      try {
        storage::events_store store(*pool);
        // A recorded position is a claim, whenever it is read: the writer
        // persisted its events up to it and takes later ones from the
        // sequence after it.
        auto running = store.running_instances(req.writers);
        auto recorded = store.writer_positions();
        msg::events_writers_status out;
        out.running.assign(running.begin(), running.end());
        for (auto& w : req.writers) {
          auto i = recorded.find(w);
          out.recorded.push_back(i == recorded.end() ? 0 : i->second);
        }
        return out;
      } catch (const std::exception& e) {
        return make_error(errc::unavailable, std::string("checking the events writers: ") + e.what());
      }
    },
  };
}

} // namespace

writer_liveness_actor spawn_writer_liveness(caf::actor_system& sys, storage::pool& pool) {
  return spawn_role(sys, writer_liveness, &pool);
}

} // namespace axon::actors
