#include "matrix/canonical_json.hpp"

#include <cmath>

namespace axon::matrix {

namespace {

using json = nlohmann::json;

/// Length of the well-formed UTF-8 sequence starting at `s[i]`, or 0.
size_t utf8_sequence_length(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  auto in = [&](size_t k, unsigned lo, unsigned hi) {
    return k < s.size() && byte(k) >= lo && byte(k) <= hi;
  };
  unsigned c = byte(i);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return in(i + 1, 0x80, 0xBF) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    return in(i + 1, lo, hi) && in(i + 2, 0x80, 0xBF) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    return in(i + 1, lo, hi) && in(i + 2, 0x80, 0xBF) && in(i + 3, 0x80, 0xBF)
             ? 4 : 0;
  }
  return 0;
}

bool fail(std::string* why, std::string message) {
  if (why) *why = std::move(message);
  return false;
}

bool is_integral_in_range(double d) {
  return std::isfinite(d) && std::trunc(d) == d
         && std::fabs(d) <= static_cast<double>(canonical_json_max_int);
}

bool contains_float(const json& value) {
  if (value.is_number_float()) return true;
  if (value.is_structured())
    for (const auto& child : value)
      if (contains_float(child)) return true;
  return false;
}

/// Copy of `value` with integral in-range floats turned into integers.
json integralise(const json& value) {
  if (value.is_number_float()) {
    double d = value.get<double>();
    if (is_integral_in_range(d)) return json(static_cast<long long>(d));
    return value;
  }
  if (value.is_object()) {
    json out = json::object();
    for (const auto& [key, child] : value.items()) out[key] = integralise(child);
    return out;
  }
  if (value.is_array()) {
    json out = json::array();
    for (const auto& child : value) out.push_back(integralise(child));
    return out;
  }
  return value;
}

} // namespace

bool is_valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_sequence_length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

bool is_canonical_number(const json& value) {
  if (value.is_number_integer() && !value.is_number_unsigned()) {
    auto v = value.get<long long>();
    return v >= -canonical_json_max_int && v <= canonical_json_max_int;
  }
  if (value.is_number_unsigned())
    return value.get<unsigned long long>()
           <= static_cast<unsigned long long>(canonical_json_max_int);
  return false;
}

bool valid_for_canonical(const json& value, std::string* why) {
  switch (value.type()) {
    case json::value_t::null:
    case json::value_t::boolean:
      return true;
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return is_canonical_number(value)
             || fail(why, "integer out of range: " + value.dump());
    case json::value_t::number_float:
      return fail(why, "float not allowed: " + value.dump());
    case json::value_t::string:
      return is_valid_utf8(value.get_ref<const std::string&>())
             || fail(why, "string is not valid UTF-8");
    case json::value_t::array:
      for (const auto& child : value)
        if (!valid_for_canonical(child, why)) return false;
      return true;
    case json::value_t::object:
      for (const auto& [key, child] : value.items()) {
        if (!is_valid_utf8(key)) return fail(why, "key is not valid UTF-8");
        if (!valid_for_canonical(child, why)) return false;
      }
      return true;
    default: // binary, discarded: not JSON
      return fail(why, "not a JSON value");
  }
}

std::string canonical_json(const json& value) {
  // nlohmann's object is a std::map<std::string, ...>: keys compare bytewise,
  // and bytewise order of UTF-8 is code point order. With ensure_ascii off it
  // escapes exactly what the grammar requires, in lower-case hex.
  constexpr auto replace = json::error_handler_t::replace;
  if (contains_float(value))
    return integralise(value).dump(-1, ' ', false, replace);
  return value.dump(-1, ' ', false, replace);
}

} // namespace axon::matrix
