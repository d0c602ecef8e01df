// transport/replication_client.cpp
//
// One pool of keep-alive sessions per instance: a request thread takes an
// idle session (or opens one), uses it for one call and gives it back, so
// concurrent calls never share a socket.
#include "transport/replication_client.hpp"

#include "matrix/crypto.hpp"
#include "messages/errors.hpp"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/StreamCopier.h>
#include <Poco/Timespan.h>

#include <mutex>
#include <sstream>

namespace axon::transport {

using nlohmann::json;

namespace {

const Poco::Timespan connect_timeout(5, 0);
/// Long enough for a writer under load; the caller's request fails after.
const Poco::Timespan reply_timeout(60, 0);
constexpr size_t max_idle_sessions = 16;

std::string new_txn() {
  return matrix::random_string(20);
}

} // namespace

struct replication_client::impl {
  std::map<std::string, config::instance_location> instances;
  std::string secret;
  std::mutex mu;
  std::map<std::string, std::vector<std::unique_ptr<Poco::Net::HTTPClientSession>>> idle;

  std::unique_ptr<Poco::Net::HTTPClientSession> take(const std::string& instance) {
    {
      std::lock_guard<std::mutex> lock(mu);
      auto& v = idle[instance];
      if (!v.empty()) {
        auto s = std::move(v.back());
        v.pop_back();
        return s;
      }
    }
    auto i = instances.find(instance);
    if (i == instances.end())
      throw matrix_error(errc::unavailable, "instance " + instance + " is not in instance_map");
    auto& loc = i->second;
    std::unique_ptr<Poco::Net::HTTPClientSession> s;
    if (!loc.path.empty()) {
      s = std::make_unique<Poco::Net::HTTPClientSession>(
        Poco::Net::SocketAddress(Poco::Net::SocketAddress::UNIX_LOCAL, loc.path));
    } else if (loc.tls) {
      s = std::make_unique<Poco::Net::HTTPSClientSession>(loc.host, static_cast<uint16_t>(loc.port));
    } else {
      s = std::make_unique<Poco::Net::HTTPClientSession>(loc.host, static_cast<uint16_t>(loc.port));
    }
    s->setKeepAlive(true);
    s->setTimeout(connect_timeout, reply_timeout, reply_timeout);
    return s;
  }

  void give_back(const std::string& instance, std::unique_ptr<Poco::Net::HTTPClientSession> s) {
    std::lock_guard<std::mutex> lock(mu);
    auto& v = idle[instance];
    if (v.size() < max_idle_sessions) v.push_back(std::move(s));
  }
};

replication_client::replication_client(std::map<std::string, config::instance_location> instance_map,
                                       std::string secret)
  : impl_(std::make_unique<impl>()) {
  impl_->instances = std::move(instance_map);
  impl_->secret = std::move(secret);
}

replication_client::~replication_client() = default;

replication_reply replication_client::call(const std::string& instance, const std::string& wire_name,
                                           const json& request,
                                           const std::vector<int64_t>& positions) {
  std::string body = replication_body(new_txn(), request, positions);
  for (int attempt = 0;; ++attempt) {
    auto session = impl_->take(instance);
    int status = 0;
    std::string text;
    try {
      Poco::Net::HTTPRequest req(Poco::Net::HTTPRequest::HTTP_POST,
                                 "/_axon/replication/" + wire_name,
                                 Poco::Net::HTTPMessage::HTTP_1_1);
      req.setContentType("application/json");
      req.setContentLength(static_cast<std::streamsize>(body.size()));
      if (!impl_->secret.empty()) req.set("Authorization", "Bearer " + impl_->secret);
      session->sendRequest(req) << body;
      Poco::Net::HTTPResponse res;
      auto& in = session->receiveResponse(res);
      std::ostringstream out;
      Poco::StreamCopier::copyStream(in, out);
      status = static_cast<int>(res.getStatus());
      text = out.str();
    } catch (const Poco::TimeoutException&) {
      throw matrix_error(errc::timeout, "instance " + instance + " did not answer in time");
    } catch (const Poco::Exception& e) {
      // A kept-alive connection the other side closed, or the instance is
      // down: one retry on a fresh connection, same transaction id.
      if (attempt == 0) continue;
      throw matrix_error(errc::unavailable,
                         "instance " + instance + " is not reachable: " + e.displayText());
    }
    impl_->give_back(instance, std::move(session));
    return replication_answer(instance, status, json::parse(text, nullptr, false));
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
