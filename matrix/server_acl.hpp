// matrix/server_acl.hpp -- room server ACLs (client-server API
// "Server Access Control Lists", event m.room.server_acl; server-server API
// "Server Access Control Lists"): whether a room lets a server take part.
// Synapse's reading (federation_server.server_matches_acl_event): IP
// literals first (allow_ip_literals, default true), then the deny globs,
// then the allow globs (none: nobody); globs `*` and `?`, case-insensitive;
// malformed fields and entries are ignored as Synapse ignores them.
#pragma once

#include <nlohmann/json.hpp>

#include <string_view>

namespace axon::matrix {

/// Whether the ACL `content` (of an m.room.server_acl event) allows
/// `server_name` (its port, if any, is not part of the comparison).
bool server_acl_allows(const nlohmann::json& content, std::string_view server_name);

} // namespace axon::matrix
