// storage/postgres/pg_engine.hpp -- the shared engine (any multi-instance layout).
#pragma once

#include "storage/database.hpp"

namespace axon::storage {

/// Opens a pool of libpq connections to `opts.pg_conninfo`: `min_connections`
/// now, more on demand up to `max_connections`. Throws db_error when the
/// server cannot be reached.
std::unique_ptr<pool> open_pg_pool(const database_options& opts);

} // namespace axon::storage
