#include "transport/redis_link.hpp"

#include "transport/pubsub.hpp"

#include <caf/all.hpp>
#include <hiredis/hiredis.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <iostream>
#include <map>
#include <mutex>
#include <sys/socket.h>
#include <thread>

namespace axon::transport {

using nlohmann::json;

namespace {

constexpr auto reconnect_pause = std::chrono::milliseconds(500);

std::string channel_of(const std::string& server_name) { return "axon/" + server_name; }

/// A connected, authenticated context, or null (reason on stderr once).
redisContext* connect(const config::redis_config& cfg) {
  timeval tv{2, 0};
  redisContext* c = cfg.path.empty() ? redisConnectWithTimeout(cfg.host.c_str(), cfg.port, tv)
                                     : redisConnectUnixWithTimeout(cfg.path.c_str(), tv);
  if (!c) return nullptr;
  if (c->err) {
    redisFree(c);
    return nullptr;
  }
  if (!cfg.password.empty()) {
    auto* r = static_cast<redisReply*>(redisCommand(c, "AUTH %s", cfg.password.c_str()));
    bool ok = r && r->type != REDIS_REPLY_ERROR;
    if (r) freeReplyObject(r);
    if (!ok) {
      std::cerr << "axon: redis: AUTH failed\n";
      redisFree(c);
      return nullptr;
    }
  }
  return c;
}

// ---- publisher ------------------------------------------------------------------

/// The publisher's Redis connection; used from the publisher actor only.
struct redis_publish {
  config::redis_config cfg;
  std::string channel;
  redisContext* ctx = nullptr;
  std::chrono::steady_clock::time_point next_attempt{};
  ~redis_publish() {
    if (ctx) redisFree(ctx);
  }

  void operator()(const std::string& payload) {
    auto now = std::chrono::steady_clock::now();
    if (!ctx) {
      if (now < next_attempt) return; // down: dropped; subscribers see the gap
      ctx = connect(cfg);
      if (!ctx) {
        next_attempt = now + reconnect_pause;
        return;
      }
    }
    auto* r = static_cast<redisReply*>(redisCommand(ctx, "PUBLISH %b %b", channel.data(),
                                                    channel.size(), payload.data(), payload.size()));
    if (!r || r->type == REDIS_REPLY_ERROR) {
      redisFree(ctx);
      ctx = nullptr;
      next_attempt = now + reconnect_pause;
    }
    if (r) freeReplyObject(r);
  }
};

} // namespace

// ---- subscriber -------------------------------------------------------------------

struct redis_link::impl {
  redis_link_deps deps;
  caf::actor publisher;
  std::atomic<bool> running{true};
  std::mutex mu;
  redisContext* sub = nullptr; ///< guarded by mu (for shutdown)
  std::thread thread;
  std::unique_ptr<pubsub_receiver> receiver;

  void run() {
    auto channel = channel_of(deps.server_name);
    bool warned = false;
    while (running) {
      redisContext* c = connect(deps.redis);
      if (!c) {
        if (!warned)
          std::cerr << "axon: redis: cannot connect to " << deps.redis.host << ":" << deps.redis.port
                    << "; retrying\n";
        warned = true;
        std::this_thread::sleep_for(reconnect_pause);
        continue;
      }
      {
        std::lock_guard<std::mutex> lock(mu);
        sub = c;
      }
      auto* r = static_cast<redisReply*>(
        redisCommand(c, "SUBSCRIBE %b", channel.data(), channel.size()));
      bool ok = r && r->type != REDIS_REPLY_ERROR;
      if (r) freeReplyObject(r);
      if (ok) {
        if (warned) std::cerr << "axon: redis: connected\n";
        warned = false;
        // Subscribed first, then the database: a row is either below what
        // the database says now or in a message still to come.
        receiver->connected();
        while (running) {
          void* out = nullptr;
          if (redisGetReply(c, &out) != REDIS_OK) break;
          auto* m = static_cast<redisReply*>(out);
          if (m && m->type == REDIS_REPLY_ARRAY && m->elements == 3 &&
              m->element[0]->type == REDIS_REPLY_STRING &&
              std::string(m->element[0]->str, m->element[0]->len) == "message")
            receiver->message(std::string(m->element[2]->str, m->element[2]->len));
          if (m) freeReplyObject(m);
        }
      }
      {
        std::lock_guard<std::mutex> lock(mu);
        sub = nullptr;
      }
      redisFree(c);
      if (running) {
        std::cerr << "axon: redis: connection lost; reconnecting\n";
        warned = true;
        std::this_thread::sleep_for(reconnect_pause);
      }
    }
  }
};

redis_link::redis_link(caf::actor_system& sys, redis_link_deps deps) : impl_(std::make_unique<impl>()) {
  impl_->deps = std::move(deps);
  auto wire = std::make_shared<redis_publish>();
  wire->cfg = impl_->deps.redis;
  wire->channel = channel_of(impl_->deps.server_name);
  impl_->publisher = spawn_pubsub_publisher(
    sys, impl_->deps.receiver.instance, [wire](const std::string& payload) { (*wire)(payload); });
  impl_->receiver = std::make_unique<pubsub_receiver>(impl_->deps.receiver);
  impl_->thread = std::thread([this] { impl_->run(); });
}

redis_link::~redis_link() {
  impl_->running = false;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->sub) ::shutdown(impl_->sub->fd, SHUT_RDWR);
  }
  if (impl_->thread.joinable()) impl_->thread.join();
  caf::anon_send_exit(impl_->publisher, caf::exit_reason::user_shutdown);
}

caf::actor redis_link::publisher() const { return impl_->publisher; }

void redis_link::invalidate(const std::string& cache, const std::vector<std::string>& keys) {
  publish_invalidation(impl_->publisher, cache, keys);
}

} // namespace axon::transport
