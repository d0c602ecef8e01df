#include "transport/local_transport.hpp"

#include "config/layout.hpp"

namespace axon::transport {

namespace {

constexpr auto request_timeout = std::chrono::seconds(30);

[[noreturn]] void raise(const caf::error& err) {
  auto [code, text] = from_caf_error(err);
  throw matrix_error(code, text);
}

class local_transport final : public transport {
public:
  local_transport(caf::actor_system& sys, local_roles roles) : sys_(sys), roles_(std::move(roles)) {}

  msg::send_events_reply send_events(const msg::send_events& req) override {
    auto& names = roles_.events_writer_names;
    auto owner = config::stream_writer_for(names, req.room_id);
    size_t i = 0;
    while (i < names.size() && names[i] != owner) ++i;
    if (i >= roles_.events_writers.size() || !roles_.events_writers[i])
      throw matrix_error(errc::unavailable, "events writer " + owner + " is not reachable");
    caf::scoped_actor self{sys_};
    msg::send_events_reply out;
    // A plain send answered by the writer's response promise, with the
    // deadline kept by this thread's own receive: a CAF request timeout would
    // go through the actor clock thread, two wake-ups per event.
    self->send(roles_.events_writers[i], req);
    bool timed_out = false;
    self->receive([&](msg::send_events_reply& r) { out = std::move(r); },
                  [&](caf::error& err) { raise(err); },
                  caf::after(request_timeout) >> [&] { timed_out = true; });
    if (timed_out) throw matrix_error(errc::timeout, "the events writer did not answer in time");
    // Read-your-writes: don't answer before this instance's readers can see
    // what was just written (DESIGN.md, "Streams and positions").
    if (roles_.events_position->load() < out.stream_pos)
      self->request(roles_.notifier, request_timeout, msg::await_position{out.stream_pos})
        .receive([](int64_t) {}, [&](caf::error& err) { raise(err); });
    return out;
  }

  int64_t wait_for_events(const msg::wait_for_events& req) override {
    caf::scoped_actor self{sys_};
    int64_t pos = 0;
    self->request(roles_.notifier, std::chrono::milliseconds(req.timeout_ms) + request_timeout, req)
      .receive([&](int64_t p) { pos = p; }, [&](caf::error& err) { raise(err); });
    return pos;
  }

  int64_t events_position() override { return roles_.events_position->load(); }

private:
  caf::actor_system& sys_;
  local_roles roles_;
};

caf::behavior stream_bus(caf::event_based_actor* self, std::vector<caf::actor> subscribers) {
  return {
    [=](const msg::events_advanced& adv) {
      for (auto& s : subscribers) self->send(s, adv);
    },
  };
}

} // namespace

std::unique_ptr<transport> make_local_transport(caf::actor_system& sys, local_roles roles) {
  return std::make_unique<local_transport>(sys, std::move(roles));
}

caf::actor spawn_stream_bus(caf::actor_system& sys, std::vector<caf::actor> subscribers) {
  return sys.spawn(stream_bus, std::move(subscribers));
}

} // namespace axon::transport
