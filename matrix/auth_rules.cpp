#include "matrix/auth_rules.hpp"

#include "matrix/base64.hpp"
#include "matrix/event_hash.hpp"
#include "matrix/signing.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>
#include <string_view>

namespace axon::matrix {

namespace {

using json = nlohmann::json;
using verdict = std::optional<std::string>;

constexpr const char* create_type = "m.room.create";
constexpr const char* member_type = "m.room.member";
constexpr const char* join_rules_type = "m.room.join_rules";
constexpr const char* power_levels_type = "m.room.power_levels";
constexpr const char* third_party_invite_type = "m.room.third_party_invite";
constexpr const char* aliases_type = "m.room.aliases";
constexpr const char* redaction_type = "m.room.redaction";
constexpr const char* authorising_user_key = "join_authorised_via_users_server";

/// The named levels of m.room.power_levels that rule 9 checks, in spec order.
constexpr const char* named_levels[] = {"users_default", "events_default", "state_default",
                                        "ban", "redact", "kick", "invite"};

// ---------------------------------------------------------------- JSON access

/// `obj[key]`, or nullptr when `obj` is not an object or lacks `key`.
const json* field(const json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

/// `obj[key]` when it is a string, else nullptr.
const std::string* string_field(const json& obj, const char* key) {
  const json* v = field(obj, key);
  return v && v->is_string() ? v->get_ptr<const std::string*>() : nullptr;
}

/// `ev.content` when it is an object, else an empty object.
const json& content_of(const json& ev) {
  static const json empty = json::object();
  const json* c = field(ev, "content");
  return c && c->is_object() ? *c : empty;
}

const json* state_entry(const auth_state& state, const std::string& type,
                        const std::string& state_key) {
  auto it = state.find({type, state_key});
  return it == state.end() ? nullptr : &it->second;
}

/// The user's current membership, or "" when they have none.
std::string membership_of(const auth_state& state, const std::string& user_id) {
  const json* ev = state_entry(state, member_type, user_id);
  const std::string* m = ev ? string_field(content_of(*ev), "membership") : nullptr;
  return m ? *m : std::string();
}

/// The server name of a user or room ID: everything after the first ':'.
std::optional<std::string> domain_of(const std::string& id) {
  auto colon = id.find(':');
  if (colon == std::string::npos) return std::nullopt;
  return id.substr(colon + 1);
}

/// Grammar Synapse's `UserID.from_string` accepts: '@', then a ':'.
bool is_user_id(const std::string& s) {
  return s.size() <= 255 && s.size() >= 2 && s[0] == '@' && s.find(':', 1) != std::string::npos;
}

// --------------------------------------------------------------- power levels

/// Which encodings of a power level a check accepts besides JSON integers.
struct level_syntax {
  /// Strings holding an integer (rooms/fragments/v1-stringy-power-levels,
  /// before v10).
  bool strings = true;
  /// Floats, truncated (rooms/fragments/v1-floaty-power-levels, before v6,
  /// where canonical JSON is not enforced).
  bool floats = true;
};

/// Reading state already accepted: anything some version allows.
constexpr level_syntax lenient{true, true};

/// The syntax rule 9 (10 in v1-v5) accepts in version `v`.
level_syntax syntax_of(const room_version& v) {
  return {!v.integer_power_levels, !v.strict_canonical_json};
}

/// A stringy power level: base 10 digits, optionally with leading zeroes, one
/// leading `+` or `-`, and surrounding whitespace (v1-stringy-power-levels).
std::optional<int64_t> string_level(const std::string& s) {
  const char* first = s.data();
  const char* last = s.data() + s.size();
  auto space = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
  while (first != last && space(*first)) ++first;
  while (first != last && space(last[-1])) --last;
  bool negative = false;
  if (first != last && (*first == '+' || *first == '-')) negative = *first++ == '-';
  if (first == last || *first < '0' || *first > '9') return std::nullopt;
  uint64_t magnitude = 0;
  auto [end, ec] = std::from_chars(first, last, magnitude);
  if (ec != std::errc() || end != last) return std::nullopt;
  constexpr auto max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (magnitude > max + (negative ? 1 : 0)) return std::nullopt;
  return negative ? static_cast<int64_t>(0 - magnitude) : static_cast<int64_t>(magnitude);
}

/// A power level value: a JSON integer in int64 range, or a string or float
/// when `syntax` allows them. nullopt otherwise (booleans, objects, floats
/// outside int64 range or not finite, ...).
std::optional<int64_t> level_value(const json& v, level_syntax syntax) {
  if (v.is_number_unsigned()) {
    auto u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  if (v.is_number_integer()) return v.get<int64_t>();
  if (syntax.floats && v.is_number_float()) {
    double d = std::trunc(v.get<double>());
    // 2^63 is exact as a double; the int64 range is [-2^63, 2^63).
    if (!std::isfinite(d) || d < -9223372036854775808.0 || d >= 9223372036854775808.0)
      return std::nullopt;
    return static_cast<int64_t>(d);
  }
  if (syntax.strings && v.is_string()) return string_level(v.get_ref<const std::string&>());
  return std::nullopt;
}

/// `obj[key]` as a level (lenient), or nullopt when absent or unusable.
std::optional<int64_t> level_field(const json& obj, const char* key) {
  const json* v = field(obj, key);
  return v ? level_value(*v, lenient) : std::nullopt;
}

/// Content of the room's m.room.power_levels, or nullptr when there is none.
const json* power_levels_content(const auth_state& state) {
  const json* ev = state_entry(state, power_levels_type, "");
  return ev ? &content_of(*ev) : nullptr;
}

int64_t default_named_level(const std::string& name) {
  if (name == "kick" || name == "ban" || name == "redact" || name == "state_default") return 50;
  return 0; // invite, events_default, users_default and anything unknown
}

/// The room creator: the create event's sender when `implicit_creator`
/// (v11), else its `content.creator`.
std::optional<std::string> room_creator(const auth_state& state, bool implicit_creator) {
  const json* create = state_entry(state, create_type, "");
  if (!create) return std::nullopt;
  const std::string* c = implicit_creator ? string_field(*create, "sender")
                                          : string_field(content_of(*create), "creator");
  return c ? std::optional<std::string>(*c) : std::nullopt;
}

/// Whether the room's create event makes its sender the creator (v11+),
/// judged from `content.room_version` (absent means "1").
bool create_has_implicit_creator(const auth_state& state) {
  const json* create = state_entry(state, create_type, "");
  if (!create) return false;
  const std::string* id = string_field(content_of(*create), "room_version");
  if (const room_version* rv = find_room_version(id ? *id : "1")) return rv->v11_rules;
  // A version Axon does not run: versions before 11 always carry `creator`.
  return string_field(content_of(*create), "creator") == nullptr;
}

// client-server API, m.room.power_levels: `users`, else `users_default`,
// else 0; with no power levels event the creator has 100.
int64_t user_level(const auth_state& state, const std::string& user_id, bool implicit_creator) {
  if (const json* pl = power_levels_content(state)) {
    if (const json* users = field(*pl, "users"))
      if (auto l = level_field(*users, user_id.c_str())) return *l;
    return level_field(*pl, "users_default").value_or(0);
  }
  auto creator = room_creator(state, implicit_creator);
  return creator && *creator == user_id ? 100 : 0;
}

// ------------------------------------------------------------ rule 1: create

verdict check_create(const json& event, const std::string& sender, const std::string& room_id,
                     const room_version& v) {
  // 1.1 any prev_events: reject.
  if (const json* prev = field(event, "prev_events"))
    if (!prev->is_array() || !prev->empty()) return "m.room.create must have no prev_events";
  // 1.2 room_id domain must match sender domain.
  auto room_domain = domain_of(room_id);
  auto sender_domain = domain_of(sender);
  if (!room_domain || !sender_domain || *room_domain != *sender_domain)
    return "m.room.create room_id domain does not match the sender's domain";
  const json& content = content_of(event);
  // 1.3 content.room_version, when present, must be a version we recognise.
  if (const json* rv = field(content, "room_version")) {
    if (!rv->is_string() || !find_room_version(rv->get_ref<const std::string&>()))
      return "m.room.create names an unsupported room version";
  }
  // 1.4 (v10 only; removed in v11 by MSC2175) content must have `creator`.
  if (!v.v11_rules && !field(content, "creator")) return "m.room.create has no creator";
  return std::nullopt;
}

// ----------------------------------------------- rule 4.4.1: third-party invite

/// Rule 4.4.1.7: any signature in `signed` verifies under any public key of
/// the m.room.third_party_invite (`public_key`, `public_keys[].public_key`).
bool third_party_signature_matches(const json& signed_obj, const json& invite_content) {
  std::vector<std::string> keys;
  if (const std::string* k = string_field(invite_content, "public_key")) keys.push_back(*k);
  if (const json* list = field(invite_content, "public_keys"); list && list->is_array())
    for (const auto& entry : *list)
      if (const std::string* k = string_field(entry, "public_key")) keys.push_back(*k);
  const json* signatures = field(signed_obj, "signatures");
  if (!signatures || !signatures->is_object()) return false;
  for (const auto& key_b64 : keys) {
    // The spec only says "base64"; identity servers have used both alphabets.
    auto raw = base64_decode(key_b64);
    if (!raw) raw = base64_url_decode(key_b64);
    if (!raw || raw->size() != 32) continue;
    for (const auto& [server, block] : signatures->items()) {
      if (!block.is_object()) continue;
      for (const auto& [key_id, sig] : block.items())
        if (key_id.rfind("ed25519:", 0) == 0 && verify_json(signed_obj, server, key_id, *raw))
          return true;
    }
  }
  return false;
}

verdict check_third_party_invite(const json& event, const std::string& sender,
                                 const std::string& target, const auth_state& state) {
  // 4.4.1.1 target banned.
  if (membership_of(state, target) == "ban") return target + " is banned from the room";
  // 4.4.1.2 / 4.4.1.3 `signed` with `mxid` and `token`.
  const json* tpi = field(content_of(event), "third_party_invite");
  const json* signed_obj = tpi ? field(*tpi, "signed") : nullptr;
  if (!signed_obj || !signed_obj->is_object()) return "third_party_invite has no signed object";
  const std::string* mxid = string_field(*signed_obj, "mxid");
  const std::string* token = string_field(*signed_obj, "token");
  if (!mxid || !token) return "third_party_invite.signed lacks mxid or token";
  // 4.4.1.4 mxid must be the target.
  if (*mxid != target) return "third_party_invite.signed.mxid does not match state_key";
  // 4.4.1.5 a matching m.room.third_party_invite must be in state.
  const json* invite = state_entry(state, third_party_invite_type, *token);
  if (!invite) return "no m.room.third_party_invite for the token";
  // 4.4.1.6 same sender as the m.room.third_party_invite.
  const std::string* invite_sender = string_field(*invite, "sender");
  if (!invite_sender || *invite_sender != sender)
    return "sender does not match the m.room.third_party_invite sender";
  // 4.4.1.7 / 4.4.1.8
  if (third_party_signature_matches(*signed_obj, content_of(*invite))) return std::nullopt;
  return "third_party_invite signature does not match any public key";
}

// ------------------------------------------------------------ rule 4: member

struct member_context {
  const json& event;
  const auth_state& state;
  const room_version& v;
  const std::string& sender;
  const std::string& target;
  std::string sender_membership;
  std::string target_membership;
  int64_t sender_level;
  int64_t target_level;
};

/// The room's join rule; "invite" when unset (as Synapse does), "" when the
/// value is not a string (matches no rule, so joins are rejected).
std::string join_rule_of(const auth_state& state) {
  const json* ev = state_entry(state, join_rules_type, "");
  if (!ev) return "invite";
  const json* rule = field(content_of(*ev), "join_rule");
  if (!rule) return "invite";
  return rule->is_string() ? rule->get<std::string>() : std::string();
}

/// Rule 4.3.1: the creator's own join straight after m.room.create.
bool is_creator_first_join(const member_context& m) {
  const json* prev = field(m.event, "prev_events");
  if (!prev || !prev->is_array() || prev->size() != 1) return false;
  // Plain ids from v3, [id, hashes] pairs in v1/v2.
  auto prev_ids = referenced_event_ids(*prev);
  if (prev_ids.size() != 1) return false;
  const json* create = state_entry(m.state, create_type, "");
  auto creator = room_creator(m.state, m.v.v11_rules);
  if (!create || !creator || *creator != m.target) return false;
  // Full events carry `event_id`; without it, the only previous event is the
  // create event exactly when the state holds nothing else.
  if (const std::string* id = string_field(*create, "event_id")) return prev_ids[0] == *id;
  return m.state.size() == 1;
}

verdict check_join(const member_context& m) {
  if (is_creator_first_join(m)) return std::nullopt;                          // 4.3.1
  if (m.sender != m.target) return "cannot join on behalf of another user";  // 4.3.2
  if (m.sender_membership == "ban") return m.sender + " is banned from the room";  // 4.3.3
  const std::string rule = join_rule_of(m.state);
  const bool invited_or_joined = m.sender_membership == "invite" || m.sender_membership == "join";
  if (rule == "invite" || (m.v.knock && rule == "knock")) {  // 4.3.4
    if (invited_or_joined) return std::nullopt;
    return "join rule '" + rule + "' requires an invite";
  }
  if ((m.v.restricted && rule == "restricted") ||
      (m.v.knock_restricted && rule == "knock_restricted")) {  // 4.3.5
    if (invited_or_joined) return std::nullopt;
    const std::string* via = string_field(content_of(m.event), authorising_user_key);
    if (!via) return "restricted join lacks join_authorised_via_users_server";
    if (membership_of(m.state, *via) != "join")
      return "join_authorised_via_users_server " + *via + " is not joined to the room";
    if (user_level(m.state, *via, m.v.v11_rules) < named_power_level(m.state, "invite"))
      return "join_authorised_via_users_server " + *via + " cannot invite";
    return std::nullopt;
  }
  if (rule == "public") return std::nullopt;  // 4.3.6
  return "join rule '" + rule + "' does not allow joining";  // 4.3.7
}

verdict check_invite(const member_context& m) {
  if (field(content_of(m.event), "third_party_invite"))  // 4.4.1
    return check_third_party_invite(m.event, m.sender, m.target, m.state);
  if (m.sender_membership != "join") return m.sender + " is not joined to the room";  // 4.4.2
  if (m.target_membership == "join") return m.target + " is already joined";         // 4.4.3
  if (m.target_membership == "ban") return m.target + " is banned from the room";
  if (m.sender_level >= named_power_level(m.state, "invite")) return std::nullopt;    // 4.4.4
  return "sender's power level is below the invite level";                            // 4.4.5
}

verdict check_leave(const member_context& m) {
  if (m.sender == m.target) {  // 4.5.1
    const auto& ms = m.sender_membership;
    if (ms == "invite" || ms == "join" || (m.v.knock && ms == "knock")) return std::nullopt;
    return m.sender + " cannot leave: membership is '" + ms + "'";
  }
  if (m.sender_membership != "join") return m.sender + " is not joined to the room";  // 4.5.2
  if (m.target_membership == "ban" && m.sender_level < named_power_level(m.state, "ban"))
    return "sender's power level is below the ban level, cannot unban";  // 4.5.3
  if (m.sender_level >= named_power_level(m.state, "kick") && m.target_level < m.sender_level)
    return std::nullopt;  // 4.5.4
  return "sender cannot kick " + m.target;  // 4.5.5
}

verdict check_ban(const member_context& m) {
  if (m.sender_membership != "join") return m.sender + " is not joined to the room";  // 4.6.1
  if (m.sender_level >= named_power_level(m.state, "ban") && m.target_level < m.sender_level)
    return std::nullopt;  // 4.6.2
  return "sender cannot ban " + m.target;  // 4.6.3
}

verdict check_knock(const member_context& m) {
  const std::string rule = join_rule_of(m.state);
  if (rule != "knock" && !(m.v.knock_restricted && rule == "knock_restricted"))
    return "join rule '" + rule + "' does not allow knocking";  // 4.7.1
  if (m.sender != m.target) return "cannot knock on behalf of another user";  // 4.7.2
  const auto& ms = m.sender_membership;
  if (ms != "ban" && ms != "invite" && ms != "join") return std::nullopt;  // 4.7.3
  return m.sender + " cannot knock: membership is '" + ms + "'";  // 4.7.4
}

verdict check_member(const json& event, const std::string& sender, const auth_state& state,
                     const room_version& v) {
  // 4.1 state_key and content.membership must be present.
  const std::string* target = string_field(event, "state_key");
  const json& content = content_of(event);
  const std::string* membership = string_field(content, "membership");
  if (!target) return "m.room.member has no state_key";
  if (!membership) return "m.room.member has no membership";
  // 4.2 (v8+, MSC3083) join_authorised_via_users_server: the authorising
  // server must have signed. Signatures are verified on receipt; here we
  // require presence. Earlier versions give the key no meaning.
  if (const json* via = v.restricted ? field(content, authorising_user_key) : nullptr) {
    if (!via->is_string()) return "join_authorised_via_users_server is not a user ID";
    auto domain = domain_of(via->get_ref<const std::string&>());
    if (!domain) return "join_authorised_via_users_server is not a user ID";
    if (const json* sigs = field(event, "signatures"); sigs && !field(*sigs, domain->c_str()))
      return "event is not signed by the server of join_authorised_via_users_server";
  }
  const bool implicit = v.v11_rules;
  member_context m{event, state, v, sender, *target, membership_of(state, sender),
                   membership_of(state, *target), user_level(state, sender, implicit),
                   user_level(state, *target, implicit)};
  if (*membership == "join") return check_join(m);                // 4.3
  if (*membership == "invite") return check_invite(m);            // 4.4
  if (*membership == "leave") return check_leave(m);              // 4.5
  if (*membership == "ban") return check_ban(m);                  // 4.6
  if (v.knock && *membership == "knock") return check_knock(m);   // 4.7
  return "unknown membership '" + *membership + "'";              // 4.8
}

// ------------------------------------------------------ rule 9: power levels

/// Rules 9.1-9.3 (v10 numbering): shape of the new content. Before v10 only
/// `users` is checked (rule 10.1 in v1-v5, 9.1 in v6-v9), and its values may
/// also be strings holding integers (or, before v6, floats).
verdict validate_power_levels(const json& content, const room_version& v) {
  const level_syntax syntax = syntax_of(v);
  if (v.integer_power_levels) {
    for (const char* key : named_levels)
      if (const json* val = field(content, key); val && !level_value(*val, syntax))
        return std::string("power_levels ") + key + " is not an integer";
    for (const char* key : {"events", "notifications"}) {
      const json* map = field(content, key);
      if (!map) continue;
      if (!map->is_object()) return std::string("power_levels ") + key + " is not an object";
      for (const auto& [name, val] : map->items())
        if (!level_value(val, syntax))
          return std::string("power_levels ") + key + "." + name + " is not an integer";
    }
  }
  if (const json* users = field(content, "users")) {
    if (!users->is_object()) return "power_levels users is not an object";
    for (const auto& [user, val] : users->items()) {
      if (!is_user_id(user)) return "power_levels users key " + user + " is not a user ID";
      if (!level_value(val, syntax)) return "power_levels users." + user + " is not an integer";
    }
  }
  return std::nullopt;
}

/// Every key of `old_map[key]` and `new_map[key]` (objects; others count empty).
std::set<std::string> union_keys(const json& old_content, const json& new_content,
                                 const char* key) {
  std::set<std::string> keys;
  for (const json* c : {&old_content, &new_content})
    if (const json* map = field(*c, key); map && map->is_object())
      for (const auto& item : map->items()) keys.insert(item.key());
  return keys;
}

std::optional<int64_t> nested_level(const json& content, const char* map, const std::string& key) {
  const json* m = field(content, map);
  return m ? level_field(*m, key.c_str()) : std::nullopt;
}

verdict check_power_levels(const json& event, const std::string& sender, const auth_state& state,
                           const room_version& v) {
  const json& next = content_of(event);
  if (auto bad = validate_power_levels(next, v)) return bad;
  // 9.4 no previous power levels: allow. Synapse compares against the entry
  // with this event's own state key; for the room's ("") entry they agree.
  const std::string* state_key = string_field(event, "state_key");
  const json* prev_ev = state_key ? state_entry(state, power_levels_type, *state_key) : nullptr;
  if (!prev_ev) return std::nullopt;
  const json& prev = content_of(*prev_ev);
  const int64_t mine = user_level(state, sender, v.v11_rules);

  // 9.5 named levels added, changed or removed.
  for (const char* key : named_levels) {
    auto before = level_field(prev, key), after = level_field(next, key);
    if (before == after) continue;
    if ((before && *before > mine) || (after && *after > mine))
      return std::string("cannot change power_levels ") + key + " beyond own level";
  }
  // 9.6 / 9.7 events and (v6+, MSC2209) notifications.
  for (const char* map : {"events", "notifications"}) {
    if (!v.notifications_power_levels && std::string_view(map) == "notifications") continue;
    for (const auto& key : union_keys(prev, next, map)) {
      auto before = nested_level(prev, map, key), after = nested_level(next, map, key);
      if (before == after) continue;
      if (before && *before > mine)
        return std::string("cannot change ") + map + "." + key + ": current level above own";
      if (after && *after > mine)
        return std::string("cannot set ") + map + "." + key + " above own level";
    }
  }
  // 9.8 / 9.9 users.
  for (const auto& user : union_keys(prev, next, "users")) {
    auto before = nested_level(prev, "users", user), after = nested_level(next, "users", user);
    if (before == after) continue;
    if (before && user != sender && *before >= mine)
      return "cannot change the level of " + user + ": not below own level";
    if (after && *after > mine) return "cannot raise " + user + " above own level";
  }
  return std::nullopt;  // 9.10
}

// ------------------------------------------------ v1/v2 rule 11: redaction

/// Rooms v1 and v2 (v1-auth-rules, rule 11): the sender has the redact
/// level, or the redacted event's id has the redaction's id's domain. From
/// v3 the rule moves out of the auth rules (v3-handling-redactions).
verdict check_v1_redaction(const json& event, const std::string& sender, const auth_state& state) {
  if (user_level(state, sender, false) >= named_power_level(state, "redact")) return std::nullopt;
  const std::string* id = string_field(event, "event_id");
  const std::string* redacts = string_field(event, "redacts");
  if (id && redacts) {
    auto a = domain_of(*id), b = domain_of(*redacts);
    if (a && b && *a == *b) return std::nullopt;
  }
  return "sender's power level is below the redact level";
}

} // namespace

// ------------------------------------------------------------------- public

std::vector<state_key_pair> auth_types_for_event(const json& event, const room_version& v) {
  std::vector<state_key_pair> out;
  auto add = [&out](std::string type, std::string key) {
    state_key_pair p{std::move(type), std::move(key)};
    if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(std::move(p));
  };
  const std::string* type = string_field(event, "type");
  if (!type || *type == create_type) return out;
  add(create_type, "");
  add(power_levels_type, "");
  if (const std::string* sender = string_field(event, "sender")) add(member_type, *sender);
  if (*type != member_type) return out;

  const json& content = content_of(event);
  const std::string* membership = string_field(content, "membership");
  if (const std::string* target = string_field(event, "state_key")) add(member_type, *target);
  if (!membership) return out;
  if (*membership == "join" || *membership == "invite" || *membership == "knock")
    add(join_rules_type, "");
  if (*membership == "invite") {
    if (const json* tpi = field(content, "third_party_invite"))
      if (const json* signed_obj = field(*tpi, "signed"))
        if (const std::string* token = string_field(*signed_obj, "token"))
          add(third_party_invite_type, *token);
  }
  if (*membership == "join" && v.restricted)
    if (const std::string* via = string_field(content, authorising_user_key))
      add(member_type, *via);
  return out;
}

std::optional<std::string> check_auth(const json& event, const auth_state& state,
                                      const room_version& v) {
  if (!event.is_object()) return "event is not an object";
  const std::string* type = string_field(event, "type");
  const std::string* sender = string_field(event, "sender");
  const std::string* room_id = string_field(event, "room_id");
  if (!type) return "event has no type";
  if (!sender) return "event has no sender";
  if (!room_id) return "event has no room_id";
  if (const json* c = field(event, "content"); !c || !c->is_object())
    return "event content is not an object";
  const json* state_key = field(event, "state_key");
  if (state_key && !state_key->is_string()) return "state_key is not a string";

  if (*type == create_type) return check_create(event, *sender, *room_id, v);  // 1

  // 2.4 a create event must be among the auth events; 2.5 all of them must
  // belong to this room.
  const json* create = state_entry(state, create_type, "");
  if (!create) return "no m.room.create in the auth events";
  for (const auto& [t, k] : auth_types_for_event(event, v)) {
    const json* e = state_entry(state, t, k);
    if (!e) continue;
    const std::string* rid = string_field(*e, "room_id");
    if (!rid || *rid != *room_id) return "auth event " + t + " '" + k + "' is from another room";
  }

  // 3 m.federate false: only the creating server's users may send. As the
  // spec says, only a literal `false` counts (Synapse treats any value other
  // than `true` as false).
  if (const json* fed = field(content_of(*create), "m.federate");
      fed && fed->is_boolean() && !fed->get<bool>()) {
    const std::string* create_sender = string_field(*create, "sender");
    if (!create_sender || domain_of(*create_sender) != domain_of(*sender))
      return "room is not federated and sender is from another server";
  }

  // 4 (v1-v5; removed in v6 by MSC2432) m.room.aliases: the state key is
  // the sender's server, and nothing else is checked.
  if (v.special_case_aliases && *type == aliases_type) {
    if (!state_key) return "m.room.aliases must be a state event";
    if (domain_of(*sender) != state_key->get<std::string>())
      return "m.room.aliases state_key does not match the sender's domain";
    return std::nullopt;
  }

  if (*type == member_type) return check_member(event, *sender, state, v);  // 4

  if (membership_of(state, *sender) != "join") return *sender + " is not joined to the room";  // 5

  const int64_t level = user_level(state, *sender, v.v11_rules);
  if (*type == third_party_invite_type) {  // 6
    if (level >= named_power_level(state, "invite")) return std::nullopt;
    return "sender's power level is below the invite level";
  }
  if (required_event_level(state, *type, state_key != nullptr) > level)  // 7
    return "sender's power level is too low to send " + *type;
  if (state_key) {  // 8
    const auto& key = state_key->get_ref<const std::string&>();
    if (!key.empty() && key[0] == '@' && key != *sender)
      return "state_key " + key + " belongs to another user";
  }
  if (*type == power_levels_type) return check_power_levels(event, *sender, state, v);  // 9
  if (v.format == event_format::v1 && *type == redaction_type)  // v1/v2 rule 11
    return check_v1_redaction(event, *sender, state);
  return std::nullopt;  // 10
}

int64_t user_power_level(const auth_state& state, const std::string& user_id) {
  return user_level(state, user_id, create_has_implicit_creator(state));
}

int64_t required_event_level(const auth_state& state, const std::string& type, bool is_state) {
  if (const json* pl = power_levels_content(state))
    if (const json* events = field(*pl, "events"))
      if (auto l = level_field(*events, type.c_str())) return *l;
  return named_power_level(state, is_state ? "state_default" : "events_default");
}

int64_t named_power_level(const auth_state& state, const std::string& name) {
  if (const json* pl = power_levels_content(state))
    if (auto l = level_field(*pl, name.c_str())) return *l;
  return default_named_level(name);
}

bool redaction_allowed(const json& redaction, const json& target, const auth_state& state) {
  const std::string* sender = string_field(redaction, "sender");
  const std::string* target_sender = string_field(target, "sender");
  if (!sender) return false;
  if (user_power_level(state, *sender) >= named_power_level(state, "redact")) return true;
  if (!target_sender) return false;
  auto a = domain_of(*sender), b = domain_of(*target_sender);
  return a && b && *a == *b;
}

} // namespace axon::matrix
