#include "matrix/filter.hpp"

#include <algorithm>
#include <climits>
#include <cmath>

namespace axon::matrix {

namespace {

using json = nlohmann::json;
using string_list = std::optional<std::vector<std::string>>;

// ------------------------------------------------------------------ matching

/// Glob match where '*' stands for any run of characters (event_filter.yaml
/// `types`: "A `*` can be used as a wildcard to match any sequence of
/// characters"). Synapse only honours a trailing '*'; this is a superset.
bool wildcard_match(const std::string& pattern, const std::string& value) {
  size_t p = 0, v = 0, star = std::string::npos, resume = 0;
  while (v < value.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = v;
    } else if (p < pattern.size() && pattern[p] == value[v]) {
      ++p;
      ++v;
    } else if (star != std::string::npos) {
      p = star + 1;
      v = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

const std::string* string_field(const json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get_ptr<const std::string*>() : nullptr;
}

bool contains(const std::vector<std::string>& list, const std::string& s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

/// Applies a not-list then an allow-list to `value` (nullptr: the event has
/// no such field, which matches no entry).
template <class Matches>
bool passes(const string_list& allow, const string_list& deny, const std::string* value,
            Matches matches) {
  auto any = [&](const std::vector<std::string>& list) {
    return value && std::any_of(list.begin(), list.end(),
                                [&](const std::string& e) { return matches(e, *value); });
  };
  if (deny && any(*deny)) return false;
  return !allow || any(*allow);
}

bool room_passes(const string_list& rooms, const string_list& not_rooms, const std::string& id) {
  if (not_rooms && contains(*not_rooms, id)) return false;
  return !rooms || contains(*rooms, id);
}

// ------------------------------------------------------------------- parsing

/// Reads typed fields of one JSON object, recording the first error with its
/// dotted location.
class reader {
 public:
  reader(const json& obj, std::string where, std::string* why)
      : obj_(obj), where_(std::move(where)), why_(why) {}

  bool ok() const { return ok_; }

  /// The object at `key` (an empty object when absent), or nullptr on error.
  const json* object(const char* key) {
    static const json empty = json::object();
    const json* v = find(key);
    if (!v) return &empty;
    if (v->is_object()) return v;
    fail(key, "must be an object");
    return nullptr;
  }

  void boolean(const char* key, bool& out) {
    if (const json* v = find(key)) {
      if (v->is_boolean()) out = v->get<bool>();
      else fail(key, "must be a boolean");
    }
  }

  void optional_boolean(const char* key, std::optional<bool>& out) {
    if (const json* v = find(key)) {
      if (v->is_boolean()) out = v->get<bool>();
      else fail(key, "must be a boolean");
    }
  }

  /// An array of strings, each starting with `sigil` when it is non-zero.
  void strings(const char* key, string_list& out, char sigil = 0) {
    const json* v = find(key);
    if (!v) return;
    if (!v->is_array()) return fail(key, "must be an array of strings");
    std::vector<std::string> list;
    for (const auto& e : *v) {
      if (!e.is_string()) return fail(key, "must be an array of strings");
      const auto& s = e.get_ref<const std::string&>();
      if (sigil && (s.empty() || s[0] != sigil))
        return fail(key, std::string("entries must start with '") + sigil + "'");
      list.push_back(s);
    }
    out = std::move(list);
  }

  /// event_filter.yaml: "must be an integer greater than 0". 0 is accepted
  /// too: clients use it to ask for no events and Synapse allows it.
  void limit(int& out) {
    const json* v = find("limit");
    if (!v) return;
    double d = 0;
    if (v->is_number_unsigned()) d = static_cast<double>(v->get<uint64_t>());
    else if (v->is_number_integer()) d = static_cast<double>(v->get<int64_t>());
    else if (v->is_number_float()) d = v->get<double>();
    else return fail("limit", "must be an integer");
    if (!std::isfinite(d) || std::trunc(d) != d) return fail("limit", "must be an integer");
    if (d < 0) return fail("limit", "must not be negative");
    out = d > static_cast<double>(INT_MAX) ? INT_MAX : static_cast<int>(d);
  }

  void fail(const char* key, const std::string& message) {
    if (!ok_) return;
    ok_ = false;
    if (why_) *why_ = (where_.empty() ? std::string() : where_ + ".") + key + " " + message;
  }

  const std::string& where() const { return where_; }

 private:
  const json* find(const char* key) const {
    auto it = obj_.find(key);
    return it == obj_.end() ? nullptr : &*it;
  }

  const json& obj_;
  std::string where_;
  std::string* why_;
  bool ok_ = true;
};

std::string join_path(const std::string& where, const char* key) {
  return where.empty() ? std::string(key) : where + "." + key;
}

bool not_object(const json& j, const std::string& where, std::string* why) {
  if (j.is_object()) return false;
  if (why) *why = (where.empty() ? std::string("filter") : where) + " must be an object";
  return true;
}

bool read_event_filter(const json& j, const std::string& where, std::string* why,
                       event_filter& out) {
  if (not_object(j, where, why)) return false;
  reader r(j, where, why);
  r.strings("types", out.types);
  r.strings("not_types", out.not_types);
  r.strings("senders", out.senders, '@');
  r.strings("not_senders", out.not_senders, '@');
  r.limit(out.limit);
  return r.ok();
}

bool read_room_event_filter(const json& j, const std::string& where, std::string* why,
                            room_event_filter& out) {
  if (!read_event_filter(j, where, why, out)) return false;
  reader r(j, where, why);
  r.strings("rooms", out.rooms, '!');
  r.strings("not_rooms", out.not_rooms, '!');
  r.boolean("lazy_load_members", out.lazy_load_members);
  r.boolean("include_redundant_members", out.include_redundant_members);
  r.boolean("unread_thread_notifications", out.unread_thread_notifications);
  r.optional_boolean("contains_url", out.contains_url);
  return r.ok();
}

bool read_room_filter(const json& j, const std::string& where, std::string* why,
                      room_filter& out) {
  if (not_object(j, where, why)) return false;
  reader r(j, where, why);
  r.strings("rooms", out.rooms, '!');
  r.strings("not_rooms", out.not_rooms, '!');
  r.boolean("include_leave", out.include_leave);
  if (!r.ok()) return false;
  std::pair<const char*, room_event_filter*> sections[] = {
      {"timeline", &out.timeline},
      {"state", &out.state},
      {"ephemeral", &out.ephemeral},
      {"account_data", &out.account_data}};
  for (auto& [key, section] : sections) {
    const json* sub = r.object(key);
    if (!sub || !read_room_event_filter(*sub, join_path(where, key), why, *section)) return false;
  }
  return true;
}

// --------------------------------------------------------------- event_fields

/// Copies `src` at `path` into `dst`, creating the objects on the way.
void copy_path(const json& src, json& dst, const std::vector<std::string>& path) {
  const json* from = &src;
  for (const auto& segment : path) {
    if (!from->is_object()) return;
    auto it = from->find(segment);
    if (it == from->end()) return;
    from = &*it;
  }
  json* to = &dst;
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    json& next = (*to)[path[i]];
    // A new entry is null; an existing one is a copy of the source object.
    if (!next.is_object()) next = json::object();
    to = &next;
  }
  (*to)[path.back()] = *from;
}

} // namespace

// ------------------------------------------------------------------- public

bool event_filter::match(const json& ev) const {
  auto exact = [](const std::string& e, const std::string& v) { return e == v; };
  return passes(types, not_types, string_field(ev, "type"), wildcard_match) &&
         passes(senders, not_senders, string_field(ev, "sender"), exact);
}

bool room_event_filter::match(const json& ev) const {
  if (!event_filter::match(ev)) return false;
  if (rooms || not_rooms) {
    const std::string* room_id = string_field(ev, "room_id");
    if (!room_id) {
      if (rooms) return false;
    } else if (!match_room(*room_id)) {
      return false;
    }
  }
  if (contains_url) {
    const json* content = nullptr;
    if (ev.is_object())
      if (auto it = ev.find("content"); it != ev.end()) content = &*it;
    const bool has_url = content && string_field(*content, "url");
    if (*contains_url != has_url) return false;
  }
  return true;
}

bool room_event_filter::match_room(const std::string& room_id) const {
  return room_passes(rooms, not_rooms, room_id);
}

bool room_filter::match_room(const std::string& room_id) const {
  return room_passes(rooms, not_rooms, room_id);
}

std::optional<sync_filter> parse_sync_filter(const json& j, std::string* why) {
  sync_filter out;
  if (not_object(j, "", why)) return std::nullopt;
  reader r(j, "", why);
  std::optional<std::vector<std::string>> fields;
  r.strings("event_fields", fields);
  if (const std::string* format = string_field(j, "event_format")) {
    if (*format != "client" && *format != "federation")
      r.fail("event_format", "must be 'client' or 'federation'");
    out.event_format = *format;
  } else if (j.contains("event_format")) {
    r.fail("event_format", "must be 'client' or 'federation'");
  }
  if (!r.ok()) return std::nullopt;
  if (fields) out.event_fields = std::move(*fields);

  const json* presence = r.object("presence");
  if (!presence || !read_event_filter(*presence, "presence", why, out.presence))
    return std::nullopt;
  const json* account_data = r.object("account_data");
  if (!account_data || !read_event_filter(*account_data, "account_data", why, out.account_data))
    return std::nullopt;
  const json* room = r.object("room");
  if (!room || !read_room_filter(*room, "room", why, out.room)) return std::nullopt;
  return out;
}

std::optional<room_event_filter> parse_room_event_filter(const json& j, std::string* why) {
  room_event_filter out;
  if (!read_room_event_filter(j, "", why, out)) return std::nullopt;
  return out;
}

std::vector<std::string> split_event_field(const std::string& path) {
  std::vector<std::string> out(1);
  for (size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (c == '\\' && i + 1 < path.size() && (path[i + 1] == '.' || path[i + 1] == '\\')) {
      out.back() += path[++i];
    } else if (c == '.') {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  return out;
}

json apply_event_fields(const json& ev, const std::vector<std::string>& fields) {
  if (fields.empty() || !ev.is_object()) return ev;
  json out = json::object();
  for (const auto& f : fields) copy_path(ev, out, split_event_field(f));
  return out;
}

} // namespace axon::matrix
