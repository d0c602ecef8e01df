// actors/federation/srv_lookup.hpp -- SRV records through libresolv
// (res_nquery, ns_initparse/ns_parserr, dn_expand: glibc's own DNS client,
// in every Debian system; nothing of DNS parsed by hand). Blocking: call it
// from request threads or the federation client's lookup threads.
#pragma once

#include "matrix/server_resolution.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace axon::federation {

struct srv_answer {
  std::vector<matrix::srv_record> records; ///< as the answer lists them (a lone "." target: no service)
  int64_t ttl_ms = -1;                     ///< the smallest TTL among them; -1 without records
};

/// The SRV records of a DNS answer message; nullopt when it is malformed.
/// Records of other types are skipped.
std::optional<srv_answer> parse_srv_answer(const unsigned char* message, size_t length);

enum class srv_outcome { found, none, failed };

/// Looks `name` up ("_matrix-fed._tcp.example.org"): found (in `out`), none
/// (no such name, or no SRV record), or failed (the resolver could not say).
srv_outcome lookup_srv(const std::string& name, srv_answer& out);

} // namespace axon::federation
