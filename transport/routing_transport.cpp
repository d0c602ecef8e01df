#include "transport/routing_transport.hpp"

#include "config/layout.hpp"

#include <algorithm>
#include <map>

namespace axon::transport {

using nlohmann::json;

namespace {

/// How long a forwarded write waits for its rows to arrive over Redis before
/// taking the owner's positions at their word.
constexpr auto catch_up_wait = std::chrono::milliseconds(250);

class routing_transport final : public transport {
public:
  routing_transport(const config::homeserver_config& cfg, std::string instance,
                    std::unique_ptr<transport> local, std::shared_ptr<remote_calls> client,
                    invalidator invalidate, barrier_reader db_positions)
    : cfg_(cfg), me_(std::move(instance)), local_(std::move(local)), client_(std::move(client)),
      invalidate_(std::move(invalidate)), db_positions_(std::move(db_positions)) {}

  msg::send_events_reply send_events(const msg::send_events& req) override {
    auto owner = config::stream_writer_for(cfg_.stream_writers.events, req.room_id);
    if (owner == me_) return local_->send_events(req);
    return forward(owner, req).get<msg::send_events_reply>();
  }

  int64_t events_writer_position(const std::string& writer) override {
    if (writer == me_) return local_->events_writer_position(writer);
    // A read for catching up: no waiting on the answer's positions.
    return client_
      ->call(writer, msg::get_events_position::wire_name, json(msg::get_events_position{writer}),
             local_->positions())
      .reply.get<int64_t>();
  }

  int64_t put_account_data(const msg::put_account_data& req) override {
    return single(cfg_.stream_writers.account_data, req, &transport::put_account_data);
  }
  int64_t update_room_tag(const msg::update_room_tag& req) override {
    return single(cfg_.stream_writers.account_data, req, &transport::update_room_tag);
  }
  int64_t change_push_rule(const msg::change_push_rule& req) override {
    return single(cfg_.stream_writers.push_rules, req, &transport::change_push_rule);
  }
  int64_t set_presence(const msg::set_presence& req) override {
    if (!cfg_.presence_enabled) return local_->set_presence(req);
    return single(cfg_.stream_writers.presence, req, &transport::set_presence);
  }
  void user_syncing(const msg::user_syncing& req, bool wait) override {
    if (!cfg_.presence_enabled || owner_of(cfg_.stream_writers.presence) == me_)
      return local_->user_syncing(req, wait);
    try {
      forward(owner_of(cfg_.stream_writers.presence), req, wait);
    } catch (const matrix_error&) {
      // Best effort: a presence failure never fails the /sync.
    }
  }
  int64_t upload_keys(const msg::upload_keys& req) override {
    return single(cfg_.stream_writers.device_lists, req, &transport::upload_keys);
  }
  msg::claim_keys_reply claim_keys(const msg::claim_keys& req) override {
    auto owner = owner_of(cfg_.stream_writers.device_lists);
    if (owner == me_) return local_->claim_keys(req);
    return forward(owner, req).get<msg::claim_keys_reply>();
  }
  int64_t device_list_changed(const msg::device_list_changed& req) override {
    return single(cfg_.stream_writers.device_lists, req, &transport::device_list_changed);
  }
  int64_t upload_cross_signing_keys(const msg::upload_cross_signing_keys& req) override {
    return single(cfg_.stream_writers.device_lists, req, &transport::upload_cross_signing_keys);
  }
  int64_t upload_signatures(const msg::upload_signatures& req) override {
    return single(cfg_.stream_writers.device_lists, req, &transport::upload_signatures);
  }
  int64_t send_to_device(const msg::send_to_device& req) override {
    return single(cfg_.stream_writers.to_device, req, &transport::send_to_device);
  }
  int64_t ack_to_device(const msg::ack_to_device& req) override {
    return single(cfg_.stream_writers.to_device, req, &transport::ack_to_device);
  }
  void wake_federation(const msg::wake_federation& req) override {
    auto& senders = cfg_.federation_sender_instances;
    if (senders.empty()) return;
    std::map<std::string, msg::wake_federation> by_sender;
    for (auto& dest : req.destinations) {
      auto& part = by_sender[config::stream_writer_for(senders, dest)];
      part.server_up = req.server_up;
      part.edus = req.edus;
      part.destinations.push_back(dest);
    }
    for (auto& [owner, part] : by_sender) {
      if (owner == me_) {
        local_->wake_federation(part);
        continue;
      }
      try {
        forward(owner, part, false);
      } catch (const std::exception&) {
        // Best effort: the sender's periodic scan finds the queue.
      }
    }
  }
  msg::federation_reply send_federation_request(const msg::federation_request& req) override {
    auto& allowed = cfg_.outbound_federation_restricted_to;
    if (allowed.empty() || std::find(allowed.begin(), allowed.end(), me_) != allowed.end())
      return local_->send_federation_request(req);
    // No read-your-writes wait: another server's answer moves no stream here.
    return forward(config::stream_writer_for(allowed, req.destination), req, false).get<msg::federation_reply>();
  }
  int64_t set_typing(const msg::set_typing& req) override {
    return single(cfg_.stream_writers.typing, req, &transport::set_typing);
  }
  msg::typing_snapshot get_typing(const msg::get_typing& req) override {
    auto owner = owner_of(cfg_.stream_writers.typing);
    if (owner == me_) return local_->get_typing(req);
    // A read: nothing to wait for.
    return client_->call(owner, msg::get_typing::wire_name, json(req), local_->positions())
      .reply.get<msg::typing_snapshot>();
  }
  int64_t put_receipt(const msg::put_receipt& req) override {
    return single(cfg_.stream_writers.receipts, req, &transport::put_receipt);
  }

  std::vector<int64_t> wait_for_updates(const msg::wait_for_updates& req) override {
    return local_->wait_for_updates(req);
  }
  uint64_t wait_for_updates_async(const msg::wait_for_updates& req,
                                  std::function<void(std::vector<int64_t>)> done) override {
    return local_->wait_for_updates_async(req, std::move(done));
  }
  void cancel_wait(uint64_t id) override { local_->cancel_wait(id); }
  void catch_up(const std::vector<int64_t>& target, std::chrono::milliseconds wait) override {
    local_->catch_up(target, wait);
  }
  void await_positions(const std::vector<int64_t>& target, std::chrono::milliseconds wait) override {
    local_->await_positions(target, wait);
  }
  void read_barrier() override {
    if (!db_positions_) return;
    // Each events writer records its position with its events, so its entry
    // covers every event it stored: nothing more to wait for.
    local_->catch_up(db_positions_(), catch_up_wait);
  }
  void invalidate_cache(const std::string& cache, const std::vector<std::string>& keys) override {
    if (invalidate_) invalidate_(cache, keys);
  }
  int64_t position(stream_id s) override { return local_->position(s); }
  std::vector<int64_t> positions() override { return local_->positions(); }

private:
  /// The instance writing a single-writer stream (receipts and device_lists
  /// accept several in config; their first one writes until they shard).
  static std::string owner_of(const std::vector<std::string>& writers) {
    return writers.empty() ? "main" : writers.front();
  }

  template <class Request>
  int64_t single(const std::vector<std::string>& writers, const Request& req,
                 int64_t (transport::*call)(const Request&)) {
    auto owner = owner_of(writers);
    if (owner == me_) return ((*local_).*call)(req);
    return forward(owner, req).template get<int64_t>();
  }

  /// Sends a request to its owner with our positions; then waits until our
  /// readers see at least the owner's positions (read-your-writes).
  template <class Request>
  json forward(const std::string& owner, const Request& req, bool wait = true) {
    auto answer = client_->call(owner, Request::wire_name, json(req), local_->positions());
    if (wait) local_->catch_up(answer.positions, catch_up_wait);
    return std::move(answer.reply);
  }

  const config::homeserver_config& cfg_;
  std::string me_;
  std::unique_ptr<transport> local_;
  std::shared_ptr<remote_calls> client_;
  invalidator invalidate_;
  barrier_reader db_positions_;
};

} // namespace

std::unique_ptr<transport> make_routing_transport(const config::homeserver_config& cfg,
                                                  std::string instance,
                                                  std::unique_ptr<transport> local,
                                                  std::shared_ptr<remote_calls> client,
                                                  invalidator invalidate,
                                                  barrier_reader db_positions) {
  return std::make_unique<routing_transport>(cfg, std::move(instance), std::move(local),
                                             std::move(client), std::move(invalidate),
                                             std::move(db_positions));
}

} // namespace axon::transport
