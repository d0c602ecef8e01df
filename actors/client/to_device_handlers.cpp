// actors/client/to_device_handlers.cpp -- PUT /sendToDevice and the
// to_device part of /sync. Spec: client-server API "Send-to-Device
// messaging"; behaviour details from Synapse's devicemessage handler.
//
// Exactly-once delivery: a message stays in the device's inbox until the
// device syncs with a token whose to_device position is at or past it (it
// then has the response that carried it), so a response lost on the way is
// delivered again on a retry with the old token.
#include "actors/client/common.hpp"
#include "actors/client/routes.hpp"
#include "actors/client/sync_streams.hpp"
#include "actors/client/to_device.hpp"
#include "actors/federation/federation_client.hpp"
#include "matrix/environment.hpp"
#include "matrix/identifiers.hpp"
#include "storage/stores/to_device_store.hpp"
#include "transport/transport.hpp"

#include <algorithm>
#include <iostream>
#include <map>

namespace axon::client {

using http::fail;

namespace {

// ---- constants -------------------------------------------------------------------

/// Messages per /sync response (Synapse's limit); the rest follow on the next.
constexpr size_t max_to_device_per_sync = 100;
/// Largest message as delivered, {sender, type, content} (Synapse: MAX_EDU_SIZE).
constexpr size_t max_message_bytes = 65536;

// ---- helpers -------------------------------------------------------------------

/// Checks the whole body before anything is stored: `messages` is an object
/// of user ids to objects of device ids (or "*") to content objects.
void validate(const json& body, const std::string& sender, const std::string& type) {
  auto m = body.find("messages");
  if (m == body.end()) fail(errc::missing_param, "Missing parameter: messages");
  if (!m->is_object()) fail(errc::bad_json, "messages must be an object");
  for (auto& [user_id, devices] : m->items()) {
    if (!matrix::parse_user_id(user_id)) fail(errc::invalid_param, "Invalid user id: " + user_id);
    if (!devices.is_object())
      fail(errc::bad_json, "messages." + user_id + " must be an object of device ids");
    for (auto& [device_id, content] : devices.items()) {
      if (!content.is_object())
        fail(errc::bad_json, "messages." + user_id + "." + device_id + " must be an object");
      json delivered = {{"sender", sender}, {"type", type}, {"content", content}};
      if (delivered.dump().size() > max_message_bytes)
        fail(errc::too_large, "To-device message too large");
    }
  }
}

/// One m.direct_to_device EDU per other server, its users' messages as
/// sent (their server expands "*"); servers federation may not reach
/// (federation_domain_whitelist) are left out, as Synapse does.
std::vector<msg::remote_to_device> remote_messages(request& req, const json& messages, const std::string& type) {
  std::map<std::string, json> by_server;
  for (auto& [user_id, devices] : messages.items()) {
    auto server = matrix::server_of(user_id);
    if (server == server_name(req)) continue;
    if (!req.ctx->federation || !req.ctx->federation->allowed(server)) {
      std::cerr << "[" << req.request_id << "] to_device: not sending " << type << " to " << user_id
                << ": federation with " << server << " is not allowed\n";
      continue;
    }
    by_server[server][user_id] = devices;
  }
  std::vector<msg::remote_to_device> out;
  for (auto& [server, users] : by_server) {
    auto message_id = matrix::random_string(16, *req.ctx->env);
    json edu = {{"sender", req.auth().user_id}, {"type", type}, {"message_id", message_id}, {"messages", users}};
    out.push_back({server, message_id, edu.dump()});
  }
  return out;
}

// ---- handlers ----------------------------------------------------------------------

response send_to_device(request& req) {
  auto& type = req.params[0];
  auto& txn_id = req.params[1];
  auto& body = req.json_body();
  validate(body, req.auth().user_id, type);
  msg::send_to_device out{req.auth().user_id, req.auth().device_id, txn_id,
                          local_deliveries(req, body.at("messages"), req.auth().user_id, type),
                          remote_messages(req, body.at("messages"), type)};
  req.ctx->transport->send_to_device(out);
  if (!out.remote.empty()) {
    msg::wake_federation wake;
    for (auto& r : out.remote) wake.destinations.push_back(r.destination);
    req.ctx->transport->wake_federation(wake);
  }
  return {200, json::object()};
}

} // namespace

// ---- shared with the federation API ---------------------------------------------------

std::vector<msg::to_device_delivery> local_deliveries(request& req, const json& messages, const std::string& sender,
                                                      const std::string& type) {
  std::vector<msg::to_device_delivery> out;
  for (auto& [user_id, devices] : messages.items()) {
    // Other servers' users: remote_messages (or, from another server, not ours to deliver).
    if (!matrix::parse_user_id(user_id) || matrix::server_of(user_id) != server_name(req) || !devices.is_object())
      continue;
    auto existing = req.ctx->to_device->devices_of(user_id);
    std::map<std::string, const json*> by_device;
    if (auto all = devices.find("*"); all != devices.end() && all->is_object())
      for (auto& d : existing) by_device[d] = &*all;
    for (auto& [device_id, content] : devices.items()) {
      if (device_id == "*" || !content.is_object()) continue;
      // Unknown device ids are skipped silently, as Synapse does.
      if (std::binary_search(existing.begin(), existing.end(), device_id)) by_device[device_id] = &content;
    }
    for (auto& [device_id, content] : by_device) {
      json ev = {{"sender", sender}, {"type", type}, {"content", *content}};
      out.push_back({user_id, device_id, ev.dump()});
    }
  }
  return out;
}

// ---- /sync ---------------------------------------------------------------------------

bool add_to_device(const sync_context& c, json& out) {
  auto* store = c.req.ctx->to_device;
  auto& user = c.user_id();
  auto& device = c.req.auth().device_id;
  auto since = c.since_of(stream_id::to_device);
  auto pos = c.pos_of(stream_id::to_device);
  // The token proves the device received everything up to its position:
  // drop those messages (through the writer, which owns the inbox). Capped
  // at `pos` so a token from the future cannot drop undelivered messages.
  if (since > 0) {
    auto up_to = std::min(since, pos);
    if (store->has_messages_up_to(user, device, up_to))
      c.req.ctx->transport->ack_to_device({user, device, up_to});
  }
  json events = json::array();
  if (c.moved(stream_id::to_device)) {
    auto rows = store->messages_for_device(user, device, since, pos, max_to_device_per_sync + 1);
    if (rows.size() > max_to_device_per_sync) {
      // A device holds at most one message per position, so the next token
      // resumes exactly after the last one delivered.
      rows.resize(max_to_device_per_sync);
      c.hold_back(stream_id::to_device, rows.back().stream_id);
    }
    for (auto& r : rows) events.push_back(json::parse(r.message_json));
  }
  bool news = !events.empty();
  out["to_device"] = {{"events", std::move(events)}};
  return news;
}

void add_to_device_routes(std::vector<http::route>& out) {
  out.push_back({"PUT", "/_matrix/client/{v}", "/sendToDevice/{eventType}/{txnId}", true, "client",
                 send_to_device, "to_device"});
}

} // namespace axon::client
