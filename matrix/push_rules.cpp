// Push rules (client-server API "Push Notifications"); see push_rules.hpp.
#include "matrix/push_rules.hpp"

#include "matrix/filter.hpp"

#include <algorithm>
#include <array>

namespace axon::matrix {

using nlohmann::json;

namespace {

// ---- constants --------------------------------------------------------------

constexpr int64_t max_safe_int = (int64_t{1} << 53) - 1; // canonical JSON range
constexpr int64_t default_notification_level = 50;       // m.room.power_levels "notifications.room"

// ---- default rules (spec "Predefined Rules", in the spec's order) ----------

json event_match(const std::string& key, const std::string& pattern) {
  return {{"kind", "event_match"}, {"key", key}, {"pattern", pattern}};
}

json sound(const char* value) { return {{"set_tweak", "sound"}, {"value", value}}; }
json highlight() { return {{"set_tweak", "highlight"}}; }

json rule(const char* id, json conditions, json actions, bool enabled = true) {
  return {{"rule_id", id},
          {"default", true},
          {"enabled", enabled},
          {"conditions", std::move(conditions)},
          {"actions", std::move(actions)}};
}

std::string localpart(const std::string& user_id) {
  auto colon = user_id.find(':');
  std::string lp = user_id.substr(0, colon);
  return lp.empty() ? lp : lp.substr(1);
}

json default_override(const std::string& user_id) {
  return json::array({
      rule(".m.rule.master", json::array(), json::array(), false),
      rule(".m.rule.suppress_notices", {event_match("content.msgtype", "m.notice")},
           json::array()),
      rule(".m.rule.invite_for_me",
           {event_match("type", "m.room.member"), event_match("content.membership", "invite"),
            event_match("state_key", user_id)},
           {"notify", sound("default")}),
      rule(".m.rule.member_event", {event_match("type", "m.room.member")}, json::array()),
      rule(".m.rule.is_user_mention",
           {{{"kind", "event_property_contains"},
             {"key", "content.m\\.mentions.user_ids"},
             {"value", user_id}}},
           {"notify", sound("default"), highlight()}),
      rule(".m.rule.contains_display_name", {{{"kind", "contains_display_name"}}},
           {"notify", sound("default"), highlight()}),
      rule(".m.rule.is_room_mention",
           {{{"kind", "event_property_is"}, {"key", "content.m\\.mentions.room"}, {"value", true}},
            {{"kind", "sender_notification_permission"}, {"key", "room"}}},
           {"notify", highlight()}),
      rule(".m.rule.roomnotif",
           {event_match("content.body", "@room"),
            {{"kind", "sender_notification_permission"}, {"key", "room"}}},
           {"notify", highlight()}),
      rule(".m.rule.tombstone",
           {event_match("type", "m.room.tombstone"), event_match("state_key", "")},
           {"notify", highlight()}),
      rule(".m.rule.reaction", {event_match("type", "m.reaction")}, json::array()),
      rule(".m.rule.room.server_acl",
           {event_match("type", "m.room.server_acl"), event_match("state_key", "")},
           json::array()),
      // v1.9: edits notify only through the mention rules above.
      rule(".m.rule.suppress_edits",
           {{{"kind", "event_property_is"},
             {"key", "content.m\\.relates_to.rel_type"},
             {"value", "m.replace"}}},
           json::array()),
  });
}

json default_content(const std::string& user_id) {
  return json::array({{{"rule_id", ".m.rule.contains_user_name"},
                       {"default", true},
                       {"enabled", true},
                       {"pattern", localpart(user_id)},
                       {"actions", {"notify", sound("default"), highlight()}}}});
}

json default_underride() {
  json is_2 = {{"kind", "room_member_count"}, {"is", "2"}};
  return json::array({
      rule(".m.rule.call", {event_match("type", "m.call.invite")}, {"notify", sound("ring")}),
      rule(".m.rule.encrypted_room_one_to_one", {is_2, event_match("type", "m.room.encrypted")},
           {"notify", sound("default")}),
      rule(".m.rule.room_one_to_one", {is_2, event_match("type", "m.room.message")},
           {"notify", sound("default")}),
      rule(".m.rule.message", {event_match("type", "m.room.message")}, {"notify"}),
      rule(".m.rule.encrypted", {event_match("type", "m.room.encrypted")}, {"notify"}),
  });
}

constexpr std::array<push_rule_kind, 5> all_kinds = {
    push_rule_kind::override_rule, push_rule_kind::content, push_rule_kind::room,
    push_rule_kind::sender, push_rule_kind::underride};

json user_rule_json(push_rule_kind kind, const push_rule& r) {
  json j = {{"rule_id", r.rule_id},
            {"default", false},
            {"enabled", r.enabled},
            {"actions", r.actions}};
  if (kind == push_rule_kind::override_rule || kind == push_rule_kind::underride)
    j["conditions"] = r.conditions.is_array() ? r.conditions : json::array();
  else if (kind == push_rule_kind::content)
    j["pattern"] = r.pattern;
  return j;
}

bool is_default_rule(const std::string& user_id, push_rule_kind kind, const std::string& rule_id) {
  if (rule_id.empty() || rule_id[0] != '.')
    return false;
  json defaults = default_push_rules(user_id)["global"][std::string(to_string(kind))];
  return std::any_of(defaults.begin(), defaults.end(),
                     [&](const json& r) { return r["rule_id"] == rule_id; });
}

std::vector<push_rule>::iterator find_rule(std::vector<push_rule>& rules, const std::string& id) {
  return std::find_if(rules.begin(), rules.end(),
                      [&](const push_rule& r) { return r.rule_id == id; });
}

push_rule_error make_error(const char* errcode, std::string why) {
  return push_rule_error{errcode, std::move(why)};
}

bool fail(push_rule_error* err, const char* errcode, std::string why) {
  if (err)
    *err = make_error(errcode, std::move(why));
  return false;
}

// ---- scalar values (event_property_is / _contains) -------------------------

// Strings, integers in the canonical JSON range, booleans and null.
bool is_simple_value(const json& v) {
  if (v.is_number_unsigned())
    return v.get<uint64_t>() <= static_cast<uint64_t>(max_safe_int);
  if (v.is_number_integer()) {
    int64_t i = v.get<int64_t>();
    return i >= -max_safe_int && i <= max_safe_int;
  }
  return v.is_string() || v.is_boolean() || v.is_null();
}

// Exact, type-strict equality: 1 != 1.0 != true != "1".
bool simple_equal(const json& a, const json& b) {
  if (!is_simple_value(a) || !is_simple_value(b))
    return false;
  if (a.is_number_integer() && b.is_number_integer())
    return a.get<int64_t>() == b.get<int64_t>();
  return a.type() == b.type() && a == b;
}

bool validate_condition(const json& c, push_rule_error* err) {
  if (!c.is_object() || !c.contains("kind") || !c["kind"].is_string())
    return fail(err, "M_INVALID_PARAM", "each condition must be an object with a string 'kind'");
  const std::string kind = c["kind"].get<std::string>();
  auto need_string = [&](const char* field) {
    if (c.contains(field) && c[field].is_string())
      return true;
    return fail(err, "M_INVALID_PARAM", kind + " condition needs a string '" + field + "'");
  };
  if (kind == "event_match")
    return need_string("key") && need_string("pattern");
  if (kind == "event_property_is" || kind == "event_property_contains") {
    if (!need_string("key"))
      return false;
    if (!c.contains("value") || !is_simple_value(c["value"]))
      return fail(err, "M_INVALID_PARAM",
                  kind + " condition needs a string, integer, boolean or null 'value'");
    return true;
  }
  if (kind == "room_member_count")
    return need_string("is");
  if (kind == "sender_notification_permission")
    return need_string("key");
  return true; // contains_display_name, or unknown: stored, never matches
}

// ---- evaluation helpers -----------------------------------------------------

const json* lookup_path(const json& event, const std::vector<std::string>& path) {
  const json* cur = &event;
  for (const std::string& seg : path) {
    if (!cur->is_object())
      return nullptr;
    auto it = cur->find(seg);
    if (it == cur->end())
      return nullptr;
    cur = &*it;
  }
  return cur;
}

std::optional<std::string> string_field(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string())
    return std::nullopt;
  return it->get<std::string>();
}

// A room_member_count `is` ("2", "==2", "<10", ">=3", ...): its operator
// ("==" for none) and number; false when malformed.
bool parse_member_count(const std::string& is, std::string* op, int64_t* n) {
  size_t digits = is.find_first_not_of("=<>");
  if (digits == std::string::npos || digits == is.size() || is.size() - digits > 18 ||
      is.find_first_not_of("0123456789", digits) != std::string::npos)
    return false;
  *op = is.substr(0, digits);
  if (op->empty())
    *op = "==";
  *n = std::stoll(is.substr(digits));
  return *op == "==" || *op == "<" || *op == ">" || *op == "<=" || *op == ">=";
}

bool member_count_compare(const std::string& op, int64_t n, int64_t count) {
  if (op == "==")
    return count == n;
  if (op == "<")
    return count < n;
  if (op == ">")
    return count > n;
  if (op == "<=")
    return count <= n;
  if (op == ">=")
    return count >= n;
  return false;
}

bool has_mentions(const json& event) {
  auto content = event.find("content");
  return content != event.end() && content->is_object() && content->contains("m.mentions") &&
         (*content)["m.mentions"].is_object();
}

bool is_legacy_mention_rule(const std::string& id) {
  return id == ".m.rule.contains_display_name" || id == ".m.rule.contains_user_name" ||
         id == ".m.rule.roomnotif";
}

// The conditions a rule of `kind` stands for (content, room and sender rules
// have predefined conditions); null when the rule is malformed.
json rule_conditions(push_rule_kind kind, const json& r) {
  auto id = string_field(r, "rule_id");
  switch (kind) {
  case push_rule_kind::override_rule:
  case push_rule_kind::underride: {
    auto it = r.find("conditions");
    if (it == r.end())
      return json::array(); // no conditions: always matches
    return it->is_array() ? *it : json();
  }
  case push_rule_kind::content: {
    auto pattern = string_field(r, "pattern");
    return pattern ? json::array({event_match("content.body", *pattern)}) : json();
  }
  case push_rule_kind::room:
    return id ? json::array({event_match("room_id", *id)}) : json();
  case push_rule_kind::sender:
    return id ? json::array({event_match("sender", *id)}) : json();
  }
  return json();
}

void derive_flags(push_result& res) {
  for (const json& a : res.actions) {
    if (a == "notify")
      res.notify = true;
    if (!a.is_object() || !a.contains("set_tweak") || !a["set_tweak"].is_string())
      continue;
    const std::string tweak = a["set_tweak"].get<std::string>();
    json value = a.contains("value") ? a["value"] : json();
    if (tweak == "highlight") {
      // A highlight tweak without a value means true (spec "Actions").
      if (value.is_null())
        value = true;
      res.highlight = value == true;
    } else if (tweak == "sound" && value.is_string()) {
      res.sound = value.get<std::string>();
    }
    res.tweaks[tweak] = value;
  }
}


// ---- glob matching (appendices "Glob-style matching") ----------------------

// Code points of UTF-8 `s`; an invalid byte becomes U+FFFD.
std::u32string decode_utf8(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    unsigned char b = static_cast<unsigned char>(s[i]);
    int len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
    char32_t cp = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
    bool ok = len > 0 && i + len <= s.size();
    for (int k = 1; ok && k < len; ++k) {
      unsigned char c = static_cast<unsigned char>(s[i + k]);
      ok = (c >> 6) == 0x2;
      cp = (cp << 6) | (c & 0x3F);
    }
    out.push_back(ok ? cp : U'\uFFFD');
    i += ok ? len : 1;
  }
  return out;
}

// Simple case folding: ASCII, Latin-1, Greek and Cyrillic capitals. The spec
// leaves "case-insensitive" to the implementation.
char32_t fold(char32_t c) {
  if ((c >= U'A' && c <= U'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7) ||
      (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) || (c >= 0x410 && c <= 0x42F))
    return c + 0x20;
  if (c >= 0x400 && c <= 0x40F)
    return c + 0x50;
  return c;
}

// The spec's word characters: [A-Za-z0-9_].
bool is_word(char32_t c) {
  return (c >= U'a' && c <= U'z') || (c >= U'A' && c <= U'Z') || (c >= U'0' && c <= U'9') ||
         c == U'_';
}

// Code points of `s`, case-folded (a pattern as the matcher wants it).
std::u32string folded(std::string_view s) {
  std::u32string p = decode_utf8(s);
  for (char32_t& c : p)
    c = fold(c);
  return p;
}

// push_glob_matches with the pattern already folded().
bool glob_matches_folded(const std::u32string& p, std::string_view value_utf8, bool words) {
  std::u32string s = decode_utf8(value_utf8);
  const size_t m = p.size(), n = s.size();
  // A boundary before s[i] (start) or after s[j-1] (end), as Synapse's
  // (?:^|\b|\W)glob(?:\b|\W|$): no boundary only between two word characters.
  auto start_ok = [&](size_t i) {
    return !words ? i == 0 : i == 0 || !is_word(s[i - 1]) || !is_word(s[i]);
  };
  auto end_ok = [&](size_t j) {
    return !words ? j == n : j == n || !is_word(s[j]) || (j > 0 && !is_word(s[j - 1]));
  };
  // NFA simulation over pattern positions, O(n * m): a match may start at
  // every position with a boundary.
  std::vector<char> live(m + 1, 0), next(m + 1, 0);
  auto close = [&](std::vector<char>& st) {
    for (size_t k = 0; k < m; ++k)
      if (st[k] && p[k] == U'*')
        st[k + 1] = 1;
  };
  for (size_t i = 0;; ++i) {
    if (start_ok(i)) {
      live[0] = 1;
      close(live);
    }
    if (live[m] && end_ok(i))
      return true;
    if (i == n)
      return false;
    std::fill(next.begin(), next.end(), 0);
    const char32_t c = fold(s[i]);
    for (size_t k = 0; k < m; ++k) {
      if (!live[k])
        continue;
      if (p[k] == U'*')
        next[k] = 1;
      else if (p[k] == U'?' || p[k] == c)
        next[k + 1] = 1;
    }
    close(next);
    live.swap(next);
  }
}

// fold() of an ASCII character.
char ascii_fold(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// `value` equals the lower-case ASCII `pattern`, ASCII letters compared
// without case. Exactly what the glob match decides for such a pattern: a
// byte of 0x80 or above starts a non-ASCII code point, which folds to a
// non-ASCII one and so never equals a pattern character.
bool ascii_equal_folded(std::string_view value, std::string_view pattern) {
  return value.size() == pattern.size() &&
         std::equal(value.begin(), value.end(), pattern.begin(), [](char v, char p) { return ascii_fold(v) == p; });
}

using condition_kind = compiled_push_condition::kind_t;

compiled_push_condition compile_condition(const json& c) {
  compiled_push_condition out; // never matches unless well-formed
  if (!c.is_object())
    return out;
  auto kind = string_field(c, "kind");
  if (!kind)
    return out;
  if (*kind == "event_match") {
    auto key = string_field(c, "key");
    auto pattern = string_field(c, "pattern");
    if (!key || !pattern)
      return out;
    out.kind = condition_kind::event_match;
    out.path = split_event_field(*key);
    out.words = *key == "content.body";
    out.pattern = folded(*pattern);
    bool plain = !out.words && std::all_of(pattern->begin(), pattern->end(), [](char ch) {
      return static_cast<unsigned char>(ch) < 0x80 && ch != '*' && ch != '?';
    });
    if (plain) {
      out.ascii_literal = *pattern;
      std::transform(pattern->begin(), pattern->end(), out.ascii_literal->begin(), ascii_fold);
    }
  } else if (*kind == "event_property_is" || *kind == "event_property_contains") {
    auto key = string_field(c, "key");
    if (!key || !c.contains("value"))
      return out;
    out.kind = *kind == "event_property_is" ? condition_kind::property_is : condition_kind::property_contains;
    out.path = split_event_field(*key);
    out.value = c["value"];
  } else if (*kind == "contains_display_name") {
    out.kind = condition_kind::display_name;
  } else if (*kind == "room_member_count") {
    auto is = string_field(c, "is");
    if (is && parse_member_count(*is, &out.op, &out.count))
      out.kind = condition_kind::member_count;
  } else if (*kind == "sender_notification_permission") {
    auto key = string_field(c, "key");
    if (!key)
      return out;
    out.kind = condition_kind::sender_permission;
    out.key = *key;
  }
  return out; // unrecognised conditions never match (spec "Conditions")
}

bool condition_matches(const compiled_push_condition& c, const json& ev, const push_context& ctx) {
  switch (c.kind) {
  case condition_kind::event_match: {
    const json* v = lookup_path(ev, c.path);
    // Absent or non-string values never match, not even '*' (spec).
    if (!v || !v->is_string())
      return false;
    auto& text = v->get_ref<const std::string&>();
    return c.ascii_literal ? ascii_equal_folded(text, *c.ascii_literal) : glob_matches_folded(c.pattern, text, c.words);
  }
  case condition_kind::property_is: {
    const json* v = lookup_path(ev, c.path);
    return v && simple_equal(*v, c.value);
  }
  case condition_kind::property_contains: {
    const json* v = lookup_path(ev, c.path);
    return v && v->is_array() &&
           std::any_of(v->begin(), v->end(), [&](const json& item) { return simple_equal(item, c.value); });
  }
  case condition_kind::display_name: {
    static const std::vector<std::string> body_path{"content", "body"};
    const json* body = lookup_path(ev, body_path);
    return !ctx.user_display_name.empty() && body && body->is_string() &&
           push_glob_matches(ctx.user_display_name, body->get_ref<const std::string&>(), true);
  }
  case condition_kind::member_count:
    return member_count_compare(c.op, c.count, ctx.room_member_count);
  case condition_kind::sender_permission: {
    if (!ctx.sender_power_level)
      return false;
    auto it = ctx.notification_power_levels.find(c.key);
    int64_t required =
        it == ctx.notification_power_levels.end() ? default_notification_level : it->second;
    return *ctx.sender_power_level >= required;
  }
  case condition_kind::never:
    return false;
  }
  return false;
}

} // namespace

bool push_glob_matches(std::string_view pattern_utf8, std::string_view value_utf8, bool words) {
  return glob_matches_folded(folded(pattern_utf8), value_utf8, words);
}


// ---- kinds ------------------------------------------------------------------

std::string_view to_string(push_rule_kind kind) {
  switch (kind) {
  case push_rule_kind::override_rule: return "override";
  case push_rule_kind::content: return "content";
  case push_rule_kind::room: return "room";
  case push_rule_kind::sender: return "sender";
  case push_rule_kind::underride: return "underride";
  }
  return "";
}

std::optional<push_rule_kind> parse_push_rule_kind(std::string_view name) {
  for (push_rule_kind k : all_kinds)
    if (to_string(k) == name)
      return k;
  return std::nullopt;
}

std::vector<push_rule>& user_push_rules::rules(push_rule_kind kind) {
  switch (kind) {
  case push_rule_kind::override_rule: return override_rules;
  case push_rule_kind::content: return content;
  case push_rule_kind::room: return room;
  case push_rule_kind::sender: return sender;
  case push_rule_kind::underride: return underride;
  }
  return override_rules;
}

const std::vector<push_rule>& user_push_rules::rules(push_rule_kind kind) const {
  return const_cast<user_push_rules*>(this)->rules(kind);
}

// ---- rulesets ---------------------------------------------------------------

json default_push_rules(const std::string& user_id) {
  return {{"global",
           {{"override", default_override(user_id)},
            {"content", default_content(user_id)},
            {"room", json::array()},
            {"sender", json::array()},
            {"underride", default_underride()}}}};
}

json merge_push_rules(const std::string& user_id, const user_push_rules& user) {
  json defaults = default_push_rules(user_id)["global"];
  json global = json::object();
  for (push_rule_kind kind : all_kinds) {
    const std::string name(to_string(kind));
    json out = json::array();
    json& defs = defaults[name];
    for (json& d : defs) {
      const std::string id = d["rule_id"].get<std::string>();
      if (auto it = user.default_enabled.find(id); it != user.default_enabled.end())
        d["enabled"] = it->second;
      if (auto it = user.default_actions.find(id); it != user.default_actions.end())
        d["actions"] = it->second;
    }
    // .m.rule.master outranks every rule, user rules included ("Predefined Rules").
    auto first_default = defs.begin();
    if (kind == push_rule_kind::override_rule && !defs.empty()) {
      out.push_back(defs[0]);
      ++first_default;
    }
    for (const push_rule& r : user.rules(kind))
      out.push_back(user_rule_json(kind, r));
    for (auto it = first_default; it != defs.end(); ++it)
      out.push_back(*it);
    global[name] = std::move(out);
  }
  return {{"global", std::move(global)}};
}

// ---- validation and updates -------------------------------------------------

std::optional<json> parse_push_actions(const json& actions, push_rule_error* err) {
  if (!actions.is_array()) {
    fail(err, "M_INVALID_PARAM", "'actions' must be an array");
    return std::nullopt;
  }
  json out = json::array();
  for (const json& a : actions) {
    if (a == "notify") {
      out.push_back(a);
    } else if (a == "dont_notify" || a == "coalesce") {
      // Historical actions: ignored (spec "Historical Actions").
    } else if (a.is_object() && a.contains("set_tweak") && a["set_tweak"].is_string()) {
      out.push_back(a);
    } else {
      fail(err, "M_INVALID_PARAM", "unrecognised action " + a.dump());
      return std::nullopt;
    }
  }
  return out;
}

std::optional<push_rule> parse_push_rule(push_rule_kind kind, const std::string& rule_id,
                                         const json& body, push_rule_error* err) {
  if (rule_id.empty() || rule_id.find_first_of("/\\") != std::string::npos) {
    fail(err, "M_INVALID_PARAM", "rule_id must be non-empty and contain no slashes");
    return std::nullopt;
  }
  if (rule_id[0] == '.') {
    fail(err, "M_INVALID_PARAM", "rule_ids starting with '.' are reserved for server-default rules");
    return std::nullopt;
  }
  if (!body.is_object()) {
    fail(err, "M_BAD_JSON", "the body must be a JSON object");
    return std::nullopt;
  }
  if (!body.contains("actions")) {
    fail(err, "M_MISSING_PARAM", "'actions' is required");
    return std::nullopt;
  }
  push_rule r;
  r.rule_id = rule_id;
  auto actions = parse_push_actions(body["actions"], err);
  if (!actions)
    return std::nullopt;
  r.actions = std::move(*actions);
  if (kind == push_rule_kind::content) {
    auto pattern = string_field(body, "pattern");
    if (!pattern) {
      fail(err, "M_MISSING_PARAM", "content rules need a string 'pattern'");
      return std::nullopt;
    }
    r.pattern = *pattern;
  } else if (kind == push_rule_kind::override_rule || kind == push_rule_kind::underride) {
    r.conditions = body.contains("conditions") ? body["conditions"] : json::array();
    if (!r.conditions.is_array()) {
      fail(err, "M_INVALID_PARAM", "'conditions' must be an array");
      return std::nullopt;
    }
    for (const json& c : r.conditions)
      if (!validate_condition(c, err))
        return std::nullopt;
  }
  return r;
}

std::optional<push_rule_error> put_user_push_rule(user_push_rules& user, push_rule_kind kind,
                                                  push_rule rule, const std::string& before,
                                                  const std::string& after) {
  const std::string& relative = before.empty() ? after : before;
  if (!relative.empty() && relative[0] == '.')
    return make_error("M_INVALID_PARAM", "a rule cannot be placed relative to a server-default rule");
  if (relative == rule.rule_id && !relative.empty())
    return make_error("M_INVALID_PARAM", "a rule cannot be placed relative to itself");
  std::vector<push_rule> rules = user.rules(kind); // copy: no change on error
  if (auto old = find_rule(rules, rule.rule_id); old != rules.end()) {
    rule.enabled = old->enabled;
    rules.erase(old);
  }
  auto pos = rules.begin();
  if (!relative.empty()) {
    pos = find_rule(rules, relative);
    if (pos == rules.end())
      return make_error("M_NOT_FOUND", "no " + std::string(to_string(kind)) + " rule " + relative);
    if (before.empty())
      ++pos;
  }
  rules.insert(pos, std::move(rule));
  user.rules(kind) = std::move(rules);
  return std::nullopt;
}

std::optional<push_rule_error> delete_user_push_rule(user_push_rules& user, push_rule_kind kind,
                                                     const std::string& rule_id) {
  if (!rule_id.empty() && rule_id[0] == '.')
    return make_error("M_INVALID_PARAM", "server-default rules cannot be deleted");
  auto& rules = user.rules(kind);
  auto it = find_rule(rules, rule_id);
  if (it == rules.end())
    return make_error("M_NOT_FOUND", "push rule not found");
  rules.erase(it);
  return std::nullopt;
}

std::optional<push_rule_error> set_push_rule_enabled(user_push_rules& user, push_rule_kind kind,
                                                     const std::string& rule_id, bool enabled) {
  auto& rules = user.rules(kind);
  if (auto it = find_rule(rules, rule_id); it != rules.end()) {
    it->enabled = enabled;
    return std::nullopt;
  }
  // Default rule ids do not depend on the user, so any user id will do here.
  if (!is_default_rule("@u:x", kind, rule_id))
    return make_error("M_NOT_FOUND", "push rule not found");
  user.default_enabled[rule_id] = enabled;
  return std::nullopt;
}

std::optional<push_rule_error> set_push_rule_actions(user_push_rules& user, push_rule_kind kind,
                                                     const std::string& rule_id,
                                                     const json& actions) {
  auto& rules = user.rules(kind);
  auto it = find_rule(rules, rule_id);
  if (it == rules.end() && !is_default_rule("@u:x", kind, rule_id))
    return make_error("M_NOT_FOUND", "push rule not found");
  push_rule_error err;
  auto parsed = parse_push_actions(actions, &err);
  if (!parsed)
    return err;
  if (it != rules.end())
    it->actions = std::move(*parsed);
  else
    user.default_actions[rule_id] = std::move(*parsed);
  return std::nullopt;
}

// ---- evaluation ---------------------------------------------------------------

bool push_condition_matches(const json& c, const push_context& ctx) {
  if (!ctx.event || !ctx.event->is_object() || !c.is_object())
    return false;
  return condition_matches(compile_condition(c), *ctx.event, ctx);
}

compiled_push_rules compile_push_rules(const json& ruleset) {
  compiled_push_rules out;
  if (!ruleset.is_object())
    return out;
  auto global = ruleset.find("global");
  if (global == ruleset.end() || !global->is_object())
    return out;
  for (push_rule_kind kind : all_kinds) {
    auto rules = global->find(std::string(to_string(kind)));
    if (rules == global->end() || !rules->is_array())
      continue;
    for (const json& r : *rules) {
      if (!r.is_object())
        continue;
      auto id = string_field(r, "rule_id");
      if (!id || (r.contains("enabled") && r["enabled"] != true))
        continue;
      json conditions = rule_conditions(kind, r);
      if (!conditions.is_array())
        continue;
      compiled_push_rule rule;
      rule.rule_id = *id;
      // v1.7: the legacy mention rules apply only to events without m.mentions.
      rule.legacy_mention = r.contains("default") && r["default"] == true && is_legacy_mention_rule(*id);
      for (const json& c : conditions)
        rule.conditions.push_back(compile_condition(c));
      push_rule_error ignored;
      auto actions = parse_push_actions(r.contains("actions") ? r["actions"] : json(), &ignored);
      if (!actions) {
        // Stored actions we do not understand: keep the known ones.
        actions = json::array();
        if (r.contains("actions") && r["actions"].is_array())
          for (const json& a : r["actions"])
            if (auto one = parse_push_actions(json::array({a}), nullptr))
              for (const json& kept : *one)
                actions->push_back(kept);
      }
      rule.result.rule_id = *id;
      rule.result.actions = std::move(*actions);
      derive_flags(rule.result);
      rule.actions_text = rule.result.actions.dump();
      out.rules.push_back(std::move(rule));
    }
  }
  return out;
}

const compiled_push_rule* first_matching_rule(const compiled_push_rules& rules, const push_context& ctx) {
  if (!ctx.event || !ctx.event->is_object())
    return nullptr;
  const json& ev = *ctx.event;
  auto sender = ev.find("sender");
  if (sender != ev.end() && sender->is_string() && sender->get_ref<const std::string&>() == ctx.user_id)
    return nullptr; // never notify users of their own events
  const bool mentions = has_mentions(ev);
  for (const auto& r : rules.rules) {
    if (mentions && r.legacy_mention)
      continue;
    if (std::all_of(r.conditions.begin(), r.conditions.end(),
                    [&](const compiled_push_condition& c) { return condition_matches(c, ev, ctx); }))
      return &r;
  }
  return nullptr;
}

push_result evaluate_push_rules(const json& ruleset, const push_context& ctx) {
  if (!ctx.event || !ctx.event->is_object() || !ruleset.is_object())
    return {};
  auto compiled = compile_push_rules(ruleset);
  auto* r = first_matching_rule(compiled, ctx);
  return r ? r->result : push_result{};
}

} // namespace axon::matrix
