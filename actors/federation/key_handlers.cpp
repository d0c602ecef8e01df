// actors/federation/key_handlers.cpp -- this server's identity to other
// servers: its signing keys (GET /_matrix/key/v2/server, the `keys`
// resource, which every `federation` listener serves too, as in Synapse)
// its name and version (GET /_matrix/federation/v1/version), and other
// servers' keys as a notary (GET/POST /_matrix/key/v2/query, the `keys`
// resource too). Spec: server-server API, "Retrieving server keys" and
// "Server implementation".
#include "actors/federation/routes.hpp"

#include "actors/client/common.hpp"
#include "actors/federation/keyring.hpp"
#include "config/homeserver_config.hpp"
#include "matrix/identifiers.hpp"
#include "matrix/server_keys.hpp"

#include <limits>

#ifndef AXON_VERSION
#define AXON_VERSION "unknown"
#endif

namespace axon::federation {

namespace {

using http::request;
using http::response;

/// The current key, the old ones from `old_signing_keys`, valid for
/// `key_refresh_interval` from now (others cache it that long).
response server_keys(request& req) {
  auto& cfg = *req.ctx->cfg;
  std::vector<matrix::old_verify_key> old;
  for (auto& k : cfg.old_signing_keys) old.push_back({k.key_id, k.public_key, k.expired_ts});
  auto now = req.ctx->env->now_ms();
  return {200, matrix::own_server_keys(cfg.server_name, *req.ctx->key, old, now + cfg.key_refresh_interval_ms)};
}

/// Most servers one POST /_matrix/key/v2/query may ask about: each can
/// take a fetch.
constexpr size_t max_query_servers = 100;

keyring& notary(request& req) {
  if (!req.ctx->keyring) http::fail(errc::unrecognized, "Unrecognized request");
  return *req.ctx->keyring;
}

/// GET /_matrix/key/v2/query/{serverName}[/{keyId}]?minimum_valid_until_ts=
response query_one(request& req) {
  auto& server = req.params[0];
  std::vector<std::string> key_ids;
  if (req.params.size() > 1) key_ids.push_back(req.params[1]);
  int64_t min_valid = client::int_param(req, "minimum_valid_until_ts").value_or(0);
  nlohmann::json list = nlohmann::json::array();
  if (matrix::valid_server_name(server))
    for (auto& a : notary(req).notary_answers(server, key_ids, min_valid)) list.push_back(std::move(a));
  return {200, {{"server_keys", std::move(list)}}};
}

/// POST /_matrix/key/v2/query {"server_keys": {server: {keyId: {"minimum_valid_until_ts": n}}}}
response query_many(request& req) {
  auto& body = req.json_body();
  auto q = body.find("server_keys");
  if (q == body.end() || !q->is_object()) http::fail(errc::bad_json, "server_keys must be an object");
  if (q->size() > max_query_servers)
    http::fail(errc::invalid_param, "at most " + std::to_string(max_query_servers) + " servers per query");
  // Checked whole before anything is fetched.
  for (auto& [server, keys] : q->items()) {
    if (!keys.is_object()) http::fail(errc::bad_json, "server_keys." + server + " must be an object");
    for (auto& [id, criteria] : keys.items()) {
      if (!criteria.is_object()) http::fail(errc::bad_json, "the criteria for " + id + " must be an object");
      auto m = criteria.find("minimum_valid_until_ts");
      if (m != criteria.end() && !m->is_null() && !m->is_number_integer())
        http::fail(errc::bad_json, "minimum_valid_until_ts must be an integer");
    }
  }
  nlohmann::json list = nlohmann::json::array();
  auto& k = notary(req);
  for (auto& [server, keys] : q->items()) {
    if (!matrix::valid_server_name(server)) continue;
    std::vector<std::string> ids;
    int64_t min_valid = 0;
    for (auto& [id, criteria] : keys.items()) {
      ids.push_back(id);
      auto m = criteria.find("minimum_valid_until_ts");
      if (m != criteria.end() && m->is_number_integer()) min_valid = std::max(min_valid, m->get<int64_t>());
    }
    for (auto& a : k.notary_answers(server, ids, min_valid)) list.push_back(std::move(a));
  }
  return {200, {{"server_keys", std::move(list)}}};
}

response version(request&) {
  return {200, {{"server", {{"name", "Axon"}, {"version", AXON_VERSION}}}}};
}

} // namespace

void add_key_routes(std::vector<http::route>& out) {
  out.push_back({"GET", "/_matrix/key/v2", "/server", false, "keys", server_keys});
  // Deprecated (spec r0.1.x): the key id is ignored and every key returned,
  // as Synapse does.
  out.push_back({"GET", "/_matrix/key/v2", "/server/{keyId}", false, "keys", server_keys});
  out.push_back({"GET", "/_matrix/key/v2", "/query/{serverName}", false, "keys", query_one});
  out.push_back({"GET", "/_matrix/key/v2", "/query/{serverName}/{keyId}", false, "keys", query_one});
  out.push_back({"POST", "/_matrix/key/v2", "/query", false, "keys", query_many});
  out.push_back({"GET", "/_matrix/federation/v1", "/version", false, "federation", version});
}

} // namespace axon::federation
