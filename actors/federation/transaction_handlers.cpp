// actors/federation/transaction_handlers.cpp -- transactions from other
// servers (server-server API "Transactions": PUT
// /_matrix/federation/v1/send/{txnId}). The whole body is checked before
// anything happens; an answered transaction id is answered the same again
// (received_transactions, a day); EDUs are handled apart from PDUs, so
// to-device messages never wait behind a room.
//
// EDUs handled: m.direct_to_device (to this server's users' devices, once
// per message_id: the to_device writer's transaction ids make a replay
// deliver nothing twice), m.typing and m.receipt (room_edus.hpp),
// m.device_list_update and m.signing_key_update (device_lists.hpp). PDUs:
// see pdu_results; other EDU types are ignored for now.
#include "actors/federation/routes.hpp"

#include "actors/client/to_device.hpp"
#include "actors/federation/device_lists.hpp"
#include "actors/federation/pdu_intake.hpp"
#include "actors/federation/room_edus.hpp"

#include "config/homeserver_config.hpp"
#include "matrix/event_hash.hpp"
#include "matrix/identifiers.hpp"
#include "matrix/room_version.hpp"
#include "storage/stores/federation_store.hpp"
#include "storage/stores/rooms_store.hpp"
#include "transport/transport.hpp"

#include <iostream>

namespace axon::federation {

namespace {

using http::request;
using http::response;
using nlohmann::json;

// ---- constants ---------------------------------------------------------------------------

/// The spec's limits on one transaction.
constexpr size_t max_pdus = 50;
constexpr size_t max_edus = 100;
/// A day: how long an answer is kept for a retried transaction (Synapse).
constexpr int64_t answer_lifetime_ms = 24LL * 3600 * 1000;
/// One cleanup of old answers per this many transactions.
constexpr int cleanup_every = 1000;

// ---- helpers -----------------------------------------------------------------------------

/// An m.direct_to_device EDU from `origin`: its messages for this server's
/// users' devices ("*": all of them), stored once per message_id.
void to_device_edu(request& req, const std::string& origin, const json& content) {
  auto sender = content.value("sender", json());
  auto type = content.value("type", json());
  auto message_id = content.value("message_id", json());
  auto messages = content.value("messages", json());
  if (!sender.is_string() || !type.is_string() || !message_id.is_string() || !messages.is_object()) return;
  auto sender_id = sender.get<std::string>();
  // A server speaks only for its own users.
  if (!matrix::parse_user_id(sender_id) || matrix::server_of(sender_id) != origin) return;
  msg::send_to_device out;
  out.sender = sender_id;
  out.sender_device = "";
  out.txn_id = "m.direct_to_device/" + message_id.get<std::string>();
  out.deliveries = client::local_deliveries(req, messages, sender_id, type.get<std::string>());
  req.ctx->transport->send_to_device(out);
}

/// The PDU results (the spec's map of event id to {} or {"error"}): each
/// room's PDUs checked (steps 1-3), refused when the room's ACL bans the
/// origin, and handed to the room's writer with what they need fetched
/// (pdu_intake). PDUs of rooms this server doesn't have are skipped, as
/// Synapse does.
json pdu_results(request& req, const std::string& origin, const json& pdus) {
  json results = json::object();
  std::map<std::string, std::vector<json>> by_room;
  std::map<std::string, const matrix::room_version*> versions;
  std::map<std::string, bool> acl; // per room: the origin may send
  for (auto& pdu : pdus) {
    if (!pdu.is_object() || !pdu.contains("room_id") || !pdu["room_id"].is_string()) continue;
    auto room_id = pdu["room_id"].get<std::string>();
    auto vi = versions.find(room_id);
    if (vi == versions.end()) vi = versions.emplace(room_id, room_version_of(*req.ctx, room_id)).first;
    auto* version = vi->second;
    if (!version) continue;
    // The id of a refused PDU, for its entry (a PDU without one has none).
    auto refuse = [&](std::string why) {
      auto id = matrix::compute_event_id(pdu, *version);
      if (!id.empty()) results[id] = {{"error", std::move(why)}};
    };
    auto ai = acl.find(room_id);
    if (ai == acl.end()) ai = acl.emplace(room_id, acl_allows(*req.ctx, room_id, origin)).first;
    if (!ai->second) {
      refuse("Server is banned from room");
      continue;
    }
    std::string why;
    auto ev = check_received_pdu(*req.ctx, pdu, *version, room_id, &why);
    if (!ev) {
      refuse(why);
      continue;
    }
    by_room[room_id].push_back(std::move(*ev));
  }
  for (auto& [room_id, list] : by_room)
    for (auto& [id, why] : take_pdus(req, origin, room_id, *versions[room_id], std::move(list)))
      results[id] = why.empty() ? json::object() : json{{"error", why}};
  return results;
}

// ---- handlers ----------------------------------------------------------------------------

response send_transaction(request& req) {
  auto& origin = req.origin;
  auto& txn_id = req.params[0];
  auto& body = req.json_body();
  auto pdus = body.find("pdus");
  if (pdus == body.end() || !pdus->is_array()) http::fail(errc::bad_json, "pdus must be an array");
  auto edus = body.find("edus");
  if (edus != body.end() && !edus->is_array()) http::fail(errc::bad_json, "edus must be an array");
  if (pdus->size() > max_pdus || (edus != body.end() && edus->size() > max_edus))
    http::fail(errc::bad_json, "Transaction has more than 50 PDUs or 100 EDUs");
  storage::federation_store store(*req.ctx->pool);
  if (auto done = store.answered(origin, txn_id)) {
    auto j = json::parse(done->response_json, nullptr, false);
    if (!j.is_discarded()) return {done->code, j};
  }
  // EDUs first: they never wait for a room.
  if (edus != body.end())
    for (auto& edu : *edus) {
      if (!edu.is_object() || !edu.contains("edu_type") || !edu["edu_type"].is_string()) continue;
      auto type = edu["edu_type"].get<std::string>();
      auto content = edu.value("content", json::object());
      if (!content.is_object()) continue;
      if (type == "m.direct_to_device") to_device_edu(req, origin, content);
      else if (type == "m.typing") receive_typing(req, origin, content);
      else if (type == "m.receipt") receive_receipts(req, origin, content);
      else if (type == "m.presence") receive_presence(req, origin, content);
      else if (type == "m.device_list_update" || type == "m.signing_key_update")
        receive_device_list_update(req, origin, content);
    }
  json answer = {{"pdus", pdu_results(req, origin, *pdus)}};
  auto now = req.ctx->env->now_ms();
  // Kept for a retry after the answer is on its way: a retry that comes
  // before it is handled again, which repeats nothing (see remember_answer).
  bool cleanup = req.ctx->env->uniform(cleanup_every) == 0;
  req.after.push_back([pool = req.ctx->pool, origin, txn_id, text = answer.dump(), now, cleanup] {
    storage::federation_store later(*pool);
    later.remember_answer(origin, txn_id, 200, text, now);
    if (cleanup) later.forget_answers_before(now - answer_lifetime_ms);
  });
  return {200, answer};
}

} // namespace

void add_transaction_routes(std::vector<http::route>& out) {
  out.push_back({"PUT", "/_matrix/federation/v1", "/send/{txnId}", true, "federation", send_transaction});
}

} // namespace axon::federation
