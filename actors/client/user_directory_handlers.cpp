// actors/client/user_directory_handlers.cpp -- POST /user_directory/search.
// Spec: client-server API "User Directory". The directory is kept by the
// user directory updater (actors/user_directory), so results follow the
// events stream a moment behind.
#include "actors/client/common.hpp"
#include "actors/client/routes.hpp"
#include "config/homeserver_config.hpp"
#include "storage/stores/user_directory_store.hpp"

namespace axon::client {

using http::fail;

namespace {

constexpr int64_t default_limit = 10;
constexpr int64_t max_limit = 50;

response search(request& req) {
  const auto& dir = req.ctx->cfg->user_directory;
  // Synapse answers before reading the body when the directory is disabled.
  if (!dir.enabled) return {200, {{"results", json::array()}, {"limited", false}}};
  auto& body = req.json_body();
  auto term = require_string(body, "search_term");
  int64_t limit = default_limit;
  if (auto l = body.find("limit"); l != body.end() && !l->is_null()) {
    if (!l->is_number_integer() || l->get<int64_t>() < 0) fail(errc::bad_json, "limit must be a non-negative integer");
    limit = std::min(l->get<int64_t>(), max_limit);
  }
  storage::directory_search_options opts;
  opts.search_all_users = dir.search_all_users;
  if (dir.prefer_local_users) opts.prefer_server = req.ctx->cfg->server_name;
  auto found = req.ctx->user_directory->search(req.auth().user_id, term, limit, opts);
  bool limited = static_cast<int64_t>(found.size()) > limit;
  if (limited) found.resize(static_cast<size_t>(limit));
  json results = json::array();
  for (auto& u : found) {
    json r = {{"user_id", u.user_id}};
    if (u.display_name) r["display_name"] = *u.display_name;
    if (u.avatar_url) r["avatar_url"] = *u.avatar_url;
    results.push_back(std::move(r));
  }
  return {200, {{"results", results}, {"limited", limited}}};
}

} // namespace

void add_user_directory_routes(std::vector<http::route>& out) {
  out.push_back({"POST", "/_matrix/client/{v}", "/user_directory/search", true, "client", search});
}

} // namespace axon::client
