// actors/federation/admin_handlers.cpp -- Synapse's federation admin API
// (docs/usage/administration/admin_api/federation.md): the destinations
// this server sends to, their retry state, and resetting a backoff (the
// answer to "a server came back and we still wait"), and the rooms a
// destination shares with this server. Server admins only.
#include "actors/federation/routes.hpp"

#include "actors/client/common.hpp"
#include "storage/stores/federation_store.hpp"
#include "transport/transport.hpp"

#include <algorithm>

namespace axon::federation {

namespace {

using http::request;
using http::response;
using nlohmann::json;

json entry(const storage::destination_row& d) {
  return {{"destination", d.destination},
          {"retry_last_ts", d.retry_last_ts},
          {"retry_interval", d.retry_interval},
          {"failure_ts", d.failure_ts ? json(*d.failure_ts) : json(nullptr)},
          {"last_successful_stream_ordering",
           d.last_successful_stream_ordering ? json(*d.last_successful_stream_ordering) : json(nullptr)}};
}

response list_destinations(request& req) {
  client::require_server_admin(req);
  auto from = client::int_param(req, "from").value_or(0);
  auto limit = client::int_param(req, "limit").value_or(100);
  auto order_by = req.query_param("order_by").value_or("destination");
  static const char* orders[] = {"destination", "retry_last_ts", "retry_interval", "failure_ts",
                                 "last_successful_stream_ordering"};
  if (std::none_of(std::begin(orders), std::end(orders), [&](const char* o) { return order_by == o; }))
    http::fail(errc::invalid_param, "Unknown value for order_by: " + order_by);
  auto dir = req.query_param("dir").value_or("f");
  if (dir != "f" && dir != "b") http::fail(errc::invalid_param, "Unknown direction: " + dir);
  auto [rows, total] = storage::federation_store(*req.ctx->pool)
                         .destinations(from, limit, req.query_param("destination").value_or(""), order_by, dir == "b");
  json list = json::array();
  for (auto& d : rows) list.push_back(entry(d));
  json out = {{"destinations", list}, {"total", total}};
  if (from + limit < total) out["next_token"] = std::to_string(from + static_cast<int64_t>(rows.size()));
  return {200, out};
}

response get_destination(request& req) {
  client::require_server_admin(req);
  auto d = storage::federation_store(*req.ctx->pool).destination(req.params[0]);
  if (!d) http::fail(errc::not_found, "Unknown destination");
  return {200, entry(*d)};
}

response destination_rooms(request& req) {
  client::require_server_admin(req);
  auto& dest = req.params[0];
  auto from = client::int_param(req, "from").value_or(0);
  auto limit = client::int_param(req, "limit").value_or(100);
  if (from < 0) http::fail(errc::invalid_param, "Query parameter from must be a string representing a positive integer.");
  if (limit < 0) http::fail(errc::invalid_param, "Query parameter limit must be a string representing a positive integer.");
  auto dir = req.query_param("dir").value_or("f");
  if (dir != "f" && dir != "b") http::fail(errc::invalid_param, "Unknown direction: " + dir);
  storage::federation_store store(*req.ctx->pool);
  if (!store.destination(dest)) http::fail(errc::not_found, "Unknown destination");
  auto [rows, total] = store.destination_rooms(dest, from, limit, dir == "b");
  json rooms = json::array();
  for (auto& [room, pos] : rows) rooms.push_back({{"room_id", room}, {"stream_ordering", pos}});
  json out = {{"rooms", rooms}, {"total", total}};
  if (from + static_cast<int64_t>(rows.size()) < total) out["next_token"] = std::to_string(from + static_cast<int64_t>(rows.size()));
  return {200, out};
}

response reset_connection(request& req) {
  client::require_server_admin(req);
  auto& dest = req.params[0];
  auto d = storage::federation_store(*req.ctx->pool).destination(dest);
  if (!d) http::fail(errc::not_found, "Unknown destination");
  if (d->retry_last_ts == 0)
    http::fail(errc::bad_request, "The retry timing does not need to be reset for this destination.");
  // The sender clears its backoff (memory and database) and sends the queue.
  storage::federation_store(*req.ctx->pool).clear_retry(dest);
  req.ctx->transport->wake_federation({{dest}, true});
  return {200, json::object()};
}

} // namespace

void add_admin_routes(std::vector<http::route>& out) {
  const char* a = "/_synapse/admin/v1";
  out.push_back({"GET", a, "/federation/destinations", true, "client", list_destinations});
  out.push_back({"GET", a, "/federation/destinations/{destination}", true, "client", get_destination});
  out.push_back({"GET", a, "/federation/destinations/{destination}/rooms", true, "client", destination_rooms});
  out.push_back({"POST", a, "/federation/destinations/{destination}/reset_connection", true, "client",
                 reset_connection});
}

} // namespace axon::federation
