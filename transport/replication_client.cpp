// transport/replication_client.cpp
//
// Over the instance's outbound HTTP client: its pools keep connections to
// each instance alive, and a request thread blocks in `call` only for its own
// request (concurrent calls never share a connection).
#include "transport/replication_client.hpp"

#include "matrix/crypto.hpp"
#include "messages/errors.hpp"

namespace axon::transport {

using nlohmann::json;

namespace {

std::string new_txn() {
  return matrix::random_string(20);
}

} // namespace

std::string replication_url(const config::instance_location& loc, const std::string& wire_name) {
  std::string path = "/_axon/replication/" + wire_name;
  if (!loc.path.empty()) return "unix:" + loc.path + ":" + path;
  std::string host = loc.host.find(':') != std::string::npos ? "[" + loc.host + "]" : loc.host;
  return std::string(loc.tls ? "https://" : "http://") + host + ":" + std::to_string(loc.port) + path;
}

replication_client::replication_client(std::map<std::string, config::instance_location> instance_map,
                                       std::string secret, http_call http)
  : instances_(std::move(instance_map)), secret_(std::move(secret)), http_(std::move(http)) {}

replication_client::~replication_client() = default;

replication_reply replication_client::call(const std::string& instance, const std::string& wire_name,
                                           const json& request,
                                           const std::vector<int64_t>& positions) {
  auto i = instances_.find(instance);
  if (i == instances_.end())
    throw matrix_error(errc::unavailable, "instance " + instance + " is not in instance_map");
  msg::outbound_request req;
  req.method = "POST";
  req.url = replication_url(i->second, wire_name);
  req.headers = {{"Content-Type", "application/json"}};
  if (!secret_.empty()) req.headers.emplace_back("Authorization", "Bearer " + secret_);
  req.body = replication_body(new_txn(), request, positions);
  req.retry = true; // the transaction id makes a repeat harmless
  for (int attempt = 0;; ++attempt) {
    auto res = http_(req);
    if (res.timed_out)
      throw matrix_error(errc::timeout, "instance " + instance + " did not answer in time");
    if (!res.error.empty()) {
      // The instance is down or restarting, or the connection broke: once
      // more, same transaction id.
      if (attempt == 0) continue;
      throw matrix_error(errc::unavailable, "instance " + instance + " is not reachable: " + res.error);
    }
    return replication_answer(instance, res.status, json::parse(res.body, nullptr, false));
  }
}

std::string replication_body(const std::string& txn, const json& request,
                             const std::vector<int64_t>& positions) {
  return json{{"txn", txn}, {"positions", positions}, {"request", request}}.dump();
}

replication_reply replication_answer(const std::string& instance, int status, json j) {
  if (status == 200 && j.is_object() && j.contains("reply")) {
    replication_reply out;
    out.reply = std::move(j["reply"]);
    if (auto p = j.find("positions"); p != j.end() && p->is_array())
      out.positions = p->get<std::vector<int64_t>>();
    return out;
  }
  // The receiver's error, as it raised it.
  auto code = errc::unknown;
  std::string message = "replication to " + instance + " failed with status " + std::to_string(status);
  if (j.is_object()) {
    if (auto c = j.find("axon_errc"); c != j.end() && c->is_number_integer())
      code = static_cast<errc>(c->get<int>());
    else if (status == 401 || status == 403)
      code = errc::unavailable; // a secret mismatch is a configuration error
    if (auto e = j.find("error"); e != j.end() && e->is_string()) message = e->get<std::string>();
  }
  matrix_error err(code, message);
  if (j.is_object())
    if (auto x = j.find("extra"); x != j.end() && x->is_object()) err.extra_json = x->dump();
  throw err;
}

} // namespace axon::transport
