// storage/sqlite/sqlite_engine.hpp -- the embedded engine (single process).
#pragma once

#include "storage/database.hpp"

namespace axon::storage {

/// Opens a pool of SQLite connections to `opts.sqlite_path` (WAL mode,
/// foreign keys on, 10 s busy timeout). ":memory:" gives one in-memory
/// database shared by the pool's connections, private to this pool.
std::unique_ptr<pool> open_sqlite_pool(const database_options& opts);

/// Rewrites `$N` placeholders to SQLite's `?N`, leaving string literals,
/// quoted identifiers and comments untouched.
std::string rewrite_placeholders(std::string_view sql);

} // namespace axon::storage
