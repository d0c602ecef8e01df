// actors/replication/replication_handler.cpp -- the `replication` listener
// resource: POST /_axon/replication/<wire_name>, sent by other instances'
// routing transports (transport/replication_client.cpp). Never meant to
// face the internet (DESIGN.md): it trusts the sender once the secret
// matches.
//
// Each request: check `worker_replication_secret` (constant time); answer a
// transaction id seen before from memory (a retried write happens once);
// catch up to the sender's positions; serve it with this instance's own
// roles; reply with our positions.
#include "actors/replication/replication_handler.hpp"

#include "actors/http/http_types.hpp"
#include "config/homeserver_config.hpp"
#include "matrix/crypto.hpp"
#include "transport/replication_dispatch.hpp"
#include "transport/transport.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <unordered_map>

namespace axon::replication {

using nlohmann::json;
using http::request;
using http::response;

namespace {

/// How long the receiver waits for the sender's positions before taking
/// them from the sender's word.
constexpr auto catch_up_wait = std::chrono::milliseconds(250);
/// Transaction ids remembered (a retry comes within seconds).
constexpr size_t remembered_txns = 4096;

} // namespace

/// Answers by transaction id; a repeat that arrives while the first is still
/// being served waits for it.
class txn_memory {
public:
  struct outcome {
    bool done = false;
    response res;
  };

  /// The outcome of `txn` if it was served or is being served (then waits);
  /// else nullptr and the caller serves it, then calls finish.
  std::shared_ptr<outcome> begin(const std::string& txn, bool& mine) {
    std::unique_lock<std::mutex> lock(mu_);
    auto i = map_.find(txn);
    if (i == map_.end()) {
      mine = true;
      auto o = std::make_shared<outcome>();
      map_.emplace(txn, o);
      order_.push_back(txn);
      if (order_.size() > remembered_txns) {
        map_.erase(order_.front());
        order_.pop_front();
      }
      return o;
    }
    mine = false;
    auto o = i->second;
    cv_.wait(lock, [&] { return o->done; });
    return o;
  }

  void finish(const std::shared_ptr<outcome>& o, response res) {
    std::lock_guard<std::mutex> lock(mu_);
    o->res = std::move(res);
    o->done = true;
    cv_.notify_all();
  }

private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<std::string, std::shared_ptr<outcome>> map_;
  std::deque<std::string> order_;
};

namespace {

/// This instance's memory (one per process when the context has none).
txn_memory& txns(const http::server_context& ctx) {
  if (ctx.replication_txns) return *ctx.replication_txns;
  static txn_memory m;
  return m;
}

response error(errc code, const std::string& text, const std::string& extra = "") {
  json body = {{"errcode", info(code).errcode},
               {"error", text},
               {"axon_errc", static_cast<int>(code)}};
  if (!extra.empty()) body["extra"] = json::parse(extra, nullptr, false);
  return {info(code).status, body};
}

response serve(request& req, const json& body) {
  auto& ctx = *req.ctx;
  auto name = req.params.at(0);
  try {
    if (auto p = body.find("positions"); p != body.end() && p->is_array())
      ctx.local_transport->catch_up(p->get<std::vector<int64_t>>(), catch_up_wait);
    auto reply = transport::serve_replication(*ctx.local_transport, name, body.at("request"));
    return {200, {{"positions", ctx.local_transport->positions()}, {"reply", std::move(reply)}}};
  } catch (const matrix_error& e) {
    return error(e.code(), e.what(), e.extra_json);
  } catch (const json::exception& e) {
    return error(errc::bad_json, std::string("malformed replication request: ") + e.what());
  }
}

response handle(request& req) {
  auto& secret = req.ctx->cfg->worker_replication_secret;
  if (!secret.empty()) {
    // Only the header counts (access_token in the query is a client thing).
    if (req.access_token.empty() || req.query_param("access_token"))
      return error(errc::missing_token, "Missing replication secret");
    if (!matrix::constant_time_equal(req.access_token, secret))
      return error(errc::forbidden, "Wrong replication secret");
  }
  auto body = json::parse(req.body, nullptr, false);
  if (body.is_discarded()) return error(errc::not_json, "Content not JSON");
  if (!body.is_object() || !body.contains("request") || !body.contains("txn") ||
      !body["txn"].is_string())
    return error(errc::bad_json, "A replication request needs txn and request");
  bool mine = false;
  auto& memory = txns(*req.ctx);
  auto o = memory.begin(body["txn"].get<std::string>(), mine);
  if (!mine) return o->res;
  auto res = serve(req, body);
  memory.finish(o, res);
  return res;
}

} // namespace

std::shared_ptr<txn_memory> make_txn_memory() { return std::make_shared<txn_memory>(); }

void add_replication_routes(std::vector<http::route>& out) {
  out.push_back({"POST", "/_axon/replication", "/{name}", false, "replication", handle});
}

} // namespace axon::replication
