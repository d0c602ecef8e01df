// actors/streams/account_data_writer.hpp -- the account_data stream's writer
// (`stream_writers.account_data`): global and room account data and tags.
#pragma once

#include "matrix/environment.hpp"
#include "messages/caf_types.hpp"
#include "storage/database.hpp"

namespace axon::actors {

struct stream_writer_deps {
  storage::pool* pool = nullptr;
  std::string instance_name; ///< this writer's instance (rows name it)
  caf::actor publisher;      ///< receives msg::stream_advanced (transport's stream bus)
  matrix::environment* env = &matrix::system_environment(); ///< the clock
};

/// Spawns the writer on its own thread (it blocks on the database). Returns
/// it with the stream position already persisted, for the notifier.
account_data_writer_actor spawn_account_data_writer(caf::actor_system& sys,
                                                    stream_writer_deps deps, int64_t start_pos);

} // namespace axon::actors
