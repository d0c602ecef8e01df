#include "transport/redis_link.hpp"

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

constexpr auto heartbeat_every = std::chrono::seconds(5);
constexpr auto reconnect_pause = std::chrono::milliseconds(500);

using tick_atom = caf::atom_constant<caf::atom("tick")>;
using cache_atom = caf::atom_constant<caf::atom("cache")>;

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

struct publisher_state {
  config::redis_config cfg;
  std::string channel, instance;
  redisContext* ctx = nullptr;
  std::chrono::steady_clock::time_point next_attempt{};
  /// What this instance last published per stream (-1: nothing yet): the
  /// `prev` of the next message, so subscribers see a gap.
  std::vector<int64_t> last = std::vector<int64_t>(stream_count, -1);
  static inline const char* name = "redis_publisher";
  ~publisher_state() {
    if (ctx) redisFree(ctx);
  }
};

void publish(publisher_state& st, const std::string& payload) {
  auto now = std::chrono::steady_clock::now();
  if (!st.ctx) {
    if (now < st.next_attempt) return; // down: dropped; subscribers see the gap
    st.ctx = connect(st.cfg);
    if (!st.ctx) {
      st.next_attempt = now + reconnect_pause;
      return;
    }
  }
  auto* r = static_cast<redisReply*>(redisCommand(st.ctx, "PUBLISH %b %b", st.channel.data(),
                                                  st.channel.size(), payload.data(), payload.size()));
  if (!r || r->type == REDIS_REPLY_ERROR) {
    redisFree(st.ctx);
    st.ctx = nullptr;
    st.next_attempt = now + reconnect_pause;
  }
  if (r) freeReplyObject(r);
}

caf::behavior redis_publisher(caf::stateful_actor<publisher_state>* self, config::redis_config cfg,
                              std::string channel, std::string instance) {
  self->state.cfg = std::move(cfg);
  self->state.channel = std::move(channel);
  self->state.instance = std::move(instance);
  self->delayed_send(self, heartbeat_every, tick_atom::value);
  return {
    [=](const msg::events_advanced& adv) {
      auto& st = self->state;
      if (adv.instance != st.instance) return; // another instance's, come from Redis
      auto s = index(stream_id::events);
      json m = {{"k", "events"}, {"i", st.instance}, {"prev", st.last[s]}, {"m", adv}};
      st.last[s] = std::max(st.last[s], adv.pos);
      publish(st, m.dump());
    },
    [=](const msg::stream_advanced& adv) {
      auto& st = self->state;
      if (adv.instance != st.instance || adv.stream >= stream_count) return;
      json m = {{"k", "stream"}, {"i", st.instance}, {"prev", st.last[adv.stream]}, {"m", adv}};
      st.last[adv.stream] = std::max(st.last[adv.stream], adv.pos);
      publish(st, m.dump());
    },
    [=](cache_atom, const std::string& cache, const std::vector<std::string>& keys) {
      auto& st = self->state;
      publish(st, json{{"k", "cache"}, {"i", st.instance}, {"name", cache}, {"keys", keys}}.dump());
    },
    [=](tick_atom) {
      auto& st = self->state;
      bool any = false;
      for (auto p : st.last) any |= p >= 0;
      if (any) publish(st, json{{"k", "pos"}, {"i", st.instance}, {"pos", st.last}}.dump());
      self->delayed_send(self, heartbeat_every, tick_atom::value);
    },
  };
}

} // namespace

// ---- subscriber -------------------------------------------------------------------

struct redis_link::impl {
  redis_link_deps deps;
  caf::actor publisher;
  std::atomic<bool> running{true};
  std::mutex mu;
  redisContext* sub = nullptr; ///< guarded by mu (for shutdown)
  std::thread thread;
  /// (instance, stream) -> last position seen from it since connecting.
  std::map<std::pair<std::string, size_t>, int64_t> seen;

  /// `instance`: the writer whose rows were lost (events may have several);
  /// empty: a position every writer has reached (from the database).
  void caught_up(size_t stream, int64_t pos, const std::string& instance = "") {
    caf::anon_send(deps.notifier,
                   msg::stream_caught_up{static_cast<uint8_t>(stream), pos, instance});
  }

  /// Rows of `instance` on `stream` up to `pos`, published after `prev`.
  void check_gap(const std::string& instance, size_t stream, int64_t prev, int64_t pos) {
    auto key = std::make_pair(instance, stream);
    auto i = seen.find(key);
    // Messages we never got lie between what we saw and `prev`: their rows
    // are in the database.
    if (i != seen.end() && prev > i->second) caught_up(stream, prev, instance);
    auto& s = seen[key];
    s = std::max(s, pos);
  }

  template <class Advanced>
  void deliver(const Advanced& adv) {
    for (auto& s : deps.subscribers)
      if (bus_wants(s, adv)) caf::anon_send(s.who, adv);
  }

  void handle(const std::string& payload) {
    auto j = json::parse(payload, nullptr, false);
    if (!j.is_object()) return;
    auto instance = j.value("i", "");
    if (instance == deps.instance) return; // ours arrived locally
    auto kind = j.value("k", "");
    try {
      if (kind == "events") {
        auto adv = j.at("m").get<msg::events_advanced>();
        check_gap(instance, index(stream_id::events), j.value("prev", int64_t{-1}), adv.pos);
        deliver(adv);
      } else if (kind == "stream") {
        auto adv = j.at("m").get<msg::stream_advanced>();
        if (adv.stream >= stream_count) return;
        check_gap(instance, adv.stream, j.value("prev", int64_t{-1}), adv.pos);
        deliver(adv);
      } else if (kind == "pos") {
        auto pos = j.at("pos").get<std::vector<int64_t>>();
        for (size_t s = 0; s < pos.size() && s < stream_count; ++s) {
          if (pos[s] < 0) continue;
          auto& last = seen[{instance, s}];
          if (pos[s] > last) caught_up(s, pos[s], instance); // its last message was lost
          last = std::max(last, pos[s]);
        }
      } else if (kind == "cache") {
        if (deps.invalidate)
          deps.invalidate(j.value("name", ""), j.value("keys", std::vector<std::string>{}));
      }
    } catch (const std::exception& e) {
      std::cerr << "axon: redis: ignoring a malformed message: " << e.what() << "\n";
    }
  }

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
        seen.clear();
        if (deps.invalidate) deps.invalidate("*", {});
        try {
          auto pos = deps.db_positions();
          for (size_t s = 0; s < pos.size() && s < stream_count; ++s) caught_up(s, pos[s]);
        } catch (const std::exception& e) {
          std::cerr << "axon: redis: catching up from the database failed: " << e.what() << "\n";
        }
        while (running) {
          void* out = nullptr;
          if (redisGetReply(c, &out) != REDIS_OK) break;
          auto* m = static_cast<redisReply*>(out);
          if (m && m->type == REDIS_REPLY_ARRAY && m->elements == 3 &&
              m->element[0]->type == REDIS_REPLY_STRING &&
              std::string(m->element[0]->str, m->element[0]->len) == "message")
            handle(std::string(m->element[2]->str, m->element[2]->len));
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
  impl_->publisher = sys.spawn<caf::detached>(redis_publisher, impl_->deps.redis,
                                              channel_of(impl_->deps.server_name),
                                              impl_->deps.instance);
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
  caf::anon_send(impl_->publisher, cache_atom::value, cache, keys);
}

} // namespace axon::transport
