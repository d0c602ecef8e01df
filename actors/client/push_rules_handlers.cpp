// actors/client/push_rules_handlers.cpp -- the push rules API and the
// m.push_rules account data in /sync. Spec: client-server API "Push
// Notifications" > "Push Rules: API" (data/api/client-server/pushrules.yaml).
// Only the "global" scope exists: other scopes are unknown endpoints. Every
// change goes through the push_rules writer, which validates it with
// matrix/push_rules.hpp; reads merge the stored rules onto the defaults.
#include "actors/client/common.hpp"
#include "actors/client/routes.hpp"
#include "actors/client/sync_streams.hpp"
#include "matrix/push_rules.hpp"
#include "storage/stores/push_rules_store.hpp"
#include "transport/transport.hpp"

namespace axon::client {

using http::fail;

namespace {

// ---- helpers -------------------------------------------------------------------

json merged_rules(request& req) {
  auto& user = req.auth().user_id;
  return matrix::merge_push_rules(user, req.ctx->push_rules->get(user));
}

/// The {kind} path segment, checked: 400 M_INVALID_PARAM for an unknown kind.
const std::string& require_kind(const std::string& kind) {
  if (!matrix::parse_push_rule_kind(kind))
    fail(errc::invalid_param, "Unknown push rule kind " + kind);
  return kind;
}

/// The rule {kind}/{ruleId} of the user's merged ruleset; 404 when absent.
json find_rule(request& req) {
  auto& kind = require_kind(req.params[0]);
  auto& rule_id = req.params[1];
  auto rules = merged_rules(req);
  for (auto& r : rules["global"][kind])
    if (r.value("rule_id", "") == rule_id) return r;
  fail(errc::not_found, "Unknown push rule " + kind + "/" + rule_id);
}

response change(request& req, msg::change_push_rule change) {
  change.user_id = req.auth().user_id;
  change.kind = require_kind(req.params[0]);
  change.rule_id = req.params[1];
  req.ctx->transport->change_push_rule(change);
  return {200, json::object()};
}

// ---- handlers ----------------------------------------------------------------------

response get_all(request& req) { return {200, merged_rules(req)}; }

response get_global(request& req) { return {200, merged_rules(req)["global"]}; }

response get_rule(request& req) { return {200, find_rule(req)}; }

response put_rule(request& req) {
  msg::change_push_rule c;
  c.op = msg::change_push_rule::put;
  c.body = req.json_body().dump();
  c.before = req.query_param("before").value_or("");
  c.after = req.query_param("after").value_or("");
  return change(req, std::move(c));
}

response delete_rule(request& req) {
  msg::change_push_rule c;
  c.op = msg::change_push_rule::remove;
  return change(req, std::move(c));
}

response get_enabled(request& req) {
  auto r = find_rule(req);
  return {200, {{"enabled", r.value("enabled", true)}}};
}

response put_enabled(request& req) {
  auto& body = req.json_body();
  auto e = body.find("enabled");
  if (e == body.end()) fail(errc::missing_param, "Missing 'enabled'");
  if (!e->is_boolean()) fail(errc::bad_json, "'enabled' must be a boolean");
  msg::change_push_rule c;
  c.op = msg::change_push_rule::set_enabled;
  c.enabled = e->get<bool>();
  return change(req, std::move(c));
}

response get_actions(request& req) {
  auto r = find_rule(req);
  return {200, {{"actions", r.contains("actions") ? r["actions"] : json::array()}}};
}

response put_actions(request& req) {
  auto& body = req.json_body();
  auto a = body.find("actions");
  if (a == body.end()) fail(errc::missing_param, "Missing 'actions'");
  msg::change_push_rule c;
  c.op = msg::change_push_rule::set_actions;
  c.body = a->dump();
  return change(req, std::move(c));
}

} // namespace

// ---- /sync ---------------------------------------------------------------------------

bool add_push_rules(const sync_context& c, json& out) {
  if (c.since) {
    if (!c.moved(stream_id::push_rules)) return false;
    auto at = c.req.ctx->push_rules->stream_id_of(c.user_id());
    if (!at || *at <= c.since_of(stream_id::push_rules) || *at > c.pos_of(stream_id::push_rules))
      return false;
  }
  json ev = {{"type", "m.push_rules"}, {"content", merged_rules(c.req)}};
  if (!c.filter.account_data.match(ev)) return false;
  auto& section = out["account_data"];
  if (!section.is_object()) section = json::object();
  if (!section.contains("events") || !section["events"].is_array())
    section["events"] = json::array();
  section["events"].push_back(std::move(ev));
  return true;
}

void add_push_rules_routes(std::vector<http::route>& out) {
  const char* c = "/_matrix/client/{v}";
  out.push_back({"GET", c, "/pushrules", true, "client", get_all, "push_rules"});
  out.push_back({"GET", c, "/pushrules/global", true, "client", get_global, "push_rules"});
  out.push_back({"GET", c, "/pushrules/global/{kind}/{ruleId}", true, "client", get_rule, "push_rules"});
  out.push_back({"PUT", c, "/pushrules/global/{kind}/{ruleId}", true, "client", put_rule, "push_rules"});
  out.push_back({"DELETE", c, "/pushrules/global/{kind}/{ruleId}", true, "client", delete_rule, "push_rules"});
  out.push_back(
    {"GET", c, "/pushrules/global/{kind}/{ruleId}/enabled", true, "client", get_enabled, "push_rules"});
  out.push_back(
    {"PUT", c, "/pushrules/global/{kind}/{ruleId}/enabled", true, "client", put_enabled, "push_rules"});
  out.push_back(
    {"GET", c, "/pushrules/global/{kind}/{ruleId}/actions", true, "client", get_actions, "push_rules"});
  out.push_back(
    {"PUT", c, "/pushrules/global/{kind}/{ruleId}/actions", true, "client", put_actions, "push_rules"});
}

} // namespace axon::client
