// History visibility (client-server API "Room history visibility"), with
// Synapse 1.67's semantics (synapse/visibility.py): the state after each
// event decides, a visibility change shows under the less restrictive of its
// old and new values, a user's own membership event under the most joined of
// its old and new memberships, and a leave after a join or invite is always
// shown to its user.
#include "matrix/visibility.hpp"

#include <doctest/doctest.h>

using namespace axon::matrix;
using nlohmann::json;

namespace {

const std::string bob = "@bob:hs";

json message() { return {{"type", "m.room.message"}, {"sender", "@alice:hs"}, {"content", {{"body", "hi"}}}}; }

json member(const std::string& user, const std::string& membership, const std::string& before = "") {
  json ev = {{"type", "m.room.member"}, {"state_key", user}, {"sender", user},
             {"content", {{"membership", membership}}}};
  if (!before.empty()) ev["unsigned"] = {{"prev_content", {{"membership", before}}}};
  return ev;
}

json visibility_event(const std::string& now, const std::string& before = "") {
  json ev = {{"type", "m.room.history_visibility"}, {"state_key", ""}, {"sender", "@alice:hs"},
             {"content", {{"history_visibility", now}}}};
  if (!before.empty()) ev["unsigned"] = {{"prev_content", {{"history_visibility", before}}}};
  return ev;
}

visibility_change vis(int64_t pos, history_visibility v) { return {pos, true, v, ""}; }
visibility_change mem(int64_t pos, const std::string& m) {
  return {pos, false, history_visibility::shared, m};
}

} // namespace

TEST_CASE("parse_history_visibility: the four values; missing or unknown is shared") {
  CHECK(parse_history_visibility({{"history_visibility", "world_readable"}}) ==
        history_visibility::world_readable);
  CHECK(parse_history_visibility({{"history_visibility", "shared"}}) == history_visibility::shared);
  CHECK(parse_history_visibility({{"history_visibility", "invited"}}) == history_visibility::invited);
  CHECK(parse_history_visibility({{"history_visibility", "joined"}}) == history_visibility::joined);
  CHECK(parse_history_visibility({{"history_visibility", "nonsense"}}) == history_visibility::shared);
  CHECK(parse_history_visibility({{"history_visibility", 3}}) == history_visibility::shared);
  CHECK(parse_history_visibility(json::object()) == history_visibility::shared);
  CHECK(parse_history_visibility(json()) == history_visibility::shared);
}

TEST_CASE("event_visible: a member at the event sees it under every visibility") {
  for (auto v : {history_visibility::world_readable, history_visibility::shared,
                 history_visibility::invited, history_visibility::joined}) {
    CHECK(event_visible(message(), bob, v, "join", false));
    CHECK(event_visible(message(), bob, v, "join", true));
  }
}

TEST_CASE("event_visible: a non-member at the event, per visibility") {
  for (auto m : {"", "leave", "ban", "knock"}) {
    CAPTURE(m);
    CHECK(event_visible(message(), bob, history_visibility::world_readable, m, false));
    CHECK(event_visible(message(), bob, history_visibility::world_readable, m, true));
    // shared: members of the room (not peeking) see what came before they joined
    CHECK(event_visible(message(), bob, history_visibility::shared, m, false));
    CHECK_FALSE(event_visible(message(), bob, history_visibility::shared, m, true));
    CHECK_FALSE(event_visible(message(), bob, history_visibility::invited, m, false));
    CHECK_FALSE(event_visible(message(), bob, history_visibility::joined, m, false));
  }
  // invited: an invitee sees from their invite on; joined: not even then
  CHECK(event_visible(message(), bob, history_visibility::invited, "invite", false));
  CHECK_FALSE(event_visible(message(), bob, history_visibility::joined, "invite", false));
}

TEST_CASE("event_visible: a visibility change shows under the less restrictive value") {
  // joined -> shared: the event itself is seen by a non-member under shared
  CHECK(event_visible(visibility_event("shared", "joined"), bob, history_visibility::shared, "", false));
  // shared -> joined: still seen under shared (the old value)
  CHECK(event_visible(visibility_event("joined", "shared"), bob, history_visibility::joined, "", false));
  // no prev_content: the old value is the default, shared
  CHECK(event_visible(visibility_event("joined"), bob, history_visibility::joined, "", false));
  // invited -> joined: neither lets a non-member see it
  CHECK_FALSE(event_visible(visibility_event("joined", "invited"), bob, history_visibility::joined,
                            "", false));
  // ... but an invitee sees it under invited
  CHECK(event_visible(visibility_event("joined", "invited"), bob, history_visibility::joined,
                      "invite", false));
}

TEST_CASE("event_visible: the user's own membership events") {
  auto j = history_visibility::joined;
  // Their own join: the state after it has them joined.
  CHECK(event_visible(member(bob, "join", "invite"), bob, j, "join", false));
  // Their leave after a join or an invite is always shown to them.
  CHECK(event_visible(member(bob, "leave", "join"), bob, j, "leave", false));
  CHECK(event_visible(member(bob, "leave", "invite"), bob, j, "leave", true));
  // A ban after a join: the most joined of the two is join.
  CHECK(event_visible(member(bob, "ban", "join"), bob, j, "ban", false));
  // Their invite under joined visibility: invite is not join.
  CHECK_FALSE(event_visible(member(bob, "invite"), bob, j, "invite", false));
  CHECK(event_visible(member(bob, "invite"), bob, history_visibility::invited, "invite", false));
  // A leave after a leave (e.g. a kick of a departed user) is not special.
  CHECK_FALSE(event_visible(member(bob, "leave", "leave"), bob, j, "leave", false));
  // Someone else's leave is judged by the user's own membership.
  CHECK_FALSE(event_visible(member("@carol:hs", "leave", "join"), bob, j, "", false));
  CHECK(event_visible(member("@carol:hs", "leave", "join"), bob, j, "join", false));
}

TEST_CASE("room_visibility: a later joiner under joined sees nothing before their join") {
  // 1 create (alice), 2 visibility joined, 3 message, 4 bob joins, 5 message, 6 bob leaves, 7 message
  room_visibility rv(bob, {vis(2, history_visibility::joined), mem(4, "join"), mem(6, "leave")}, false);
  CHECK(rv.visibility_at(1) == history_visibility::shared);
  CHECK(rv.visibility_at(3) == history_visibility::joined);
  CHECK(rv.membership_at(3) == "");
  CHECK(rv.membership_at(4) == "join");
  CHECK(rv.membership_at(9) == "leave");
  CHECK_FALSE(rv.allows(message(), 3));
  CHECK(rv.allows(member(bob, "join"), 4));
  CHECK(rv.allows(message(), 5));
  CHECK(rv.allows(member(bob, "leave", "join"), 6));
  CHECK_FALSE(rv.allows(message(), 7));
  // Before the visibility event the room was shared: bob, a member now, sees it.
  CHECK(rv.allows(message(), 1));
}

TEST_CASE("room_visibility: shared history for members, hidden from peekers") {
  room_visibility member_view(bob, {mem(10, "join")}, false);
  CHECK(member_view.allows(message(), 3));
  room_visibility peeker(bob, {}, true);
  CHECK_FALSE(peeker.allows(message(), 3));
  room_visibility readable(bob, {vis(2, history_visibility::world_readable)}, true);
  CHECK(readable.allows(message(), 3));
  CHECK_FALSE(readable.allows(message(), 1)); // before it became world_readable: shared
}

TEST_CASE("room_visibility: invited history from the invite on") {
  room_visibility rv(bob, {vis(1, history_visibility::invited), mem(5, "invite"), mem(8, "join")},
                     false);
  CHECK_FALSE(rv.allows(message(), 4));
  CHECK(rv.allows(member(bob, "invite"), 5));
  CHECK(rv.allows(message(), 6));
  CHECK(rv.allows(message(), 9));
}
