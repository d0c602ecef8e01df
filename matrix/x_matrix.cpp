#include "matrix/x_matrix.hpp"

#include "matrix/identifiers.hpp"
#include "matrix/signing.hpp"

#include <cctype>

namespace axon::matrix {

using json = nlohmann::json;

namespace {

bool is_space(char c) { return c == ' ' || c == '\t'; }

/// RFC 9110 tchar.
bool is_tchar(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-':
    case '.': case '^': case '_': case '`': case '|': case '~': case ':': case '/': case '=':
      // ':', '/' and '=' are not tchars, but unquoted key ids ("ed25519:a"),
      // signatures ending in base64 padding and origins with ports appear in
      // the wild; Synapse accepts them unquoted.
      return true;
    default: return false;
  }
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

} // namespace

std::optional<x_matrix_auth> parse_x_matrix(std::string_view v) {
  size_t i = 0;
  auto skip = [&] { while (i < v.size() && is_space(v[i])) ++i; };
  skip();
  constexpr std::string_view scheme = "x-matrix";
  if (v.size() < i + scheme.size() || lower(v.substr(i, scheme.size())) != scheme) return std::nullopt;
  i += scheme.size();
  if (i >= v.size() || !is_space(v[i])) return std::nullopt;
  x_matrix_auth out;
  bool have_origin = false, have_key = false, have_sig = false, have_dest = false;
  for (;;) {
    skip();
    size_t name_start = i;
    while (i < v.size() && v[i] != '=' && !is_space(v[i]) && v[i] != ',') ++i;
    auto name = lower(v.substr(name_start, i - name_start));
    if (name.empty()) return std::nullopt;
    skip();
    if (i >= v.size() || v[i] != '=') return std::nullopt;
    ++i;
    skip();
    std::string value;
    if (i < v.size() && v[i] == '"') {
      ++i;
      bool closed = false;
      while (i < v.size()) {
        char c = v[i++];
        if (c == '"') { closed = true; break; }
        if (c == '\\') {
          if (i >= v.size()) return std::nullopt;
          c = v[i++];
        }
        value += c;
      }
      if (!closed) return std::nullopt;
    } else {
      while (i < v.size() && is_tchar(v[i])) value += v[i++];
      if (value.empty()) return std::nullopt;
    }
    // A parameter given twice is ambiguous: refuse rather than pick one.
    auto take = [&](bool& seen, std::string& into) {
      if (seen) return false;
      seen = true;
      into = std::move(value);
      return true;
    };
    if (name == "origin") { if (!take(have_origin, out.origin)) return std::nullopt; }
    else if (name == "destination") { if (!take(have_dest, out.destination)) return std::nullopt; }
    else if (name == "key") { if (!take(have_key, out.key_id)) return std::nullopt; }
    else if (name == "sig") { if (!take(have_sig, out.sig)) return std::nullopt; }
    // Other parameters are ignored (the spec may add some).
    skip();
    if (i >= v.size()) break;
    if (v[i] != ',') return std::nullopt;
    ++i;
  }
  if (!have_origin || !have_key || !have_sig || out.key_id.empty() || out.sig.empty()) return std::nullopt;
  if (!valid_server_name(out.origin)) return std::nullopt;
  if (have_dest && !valid_server_name(out.destination)) return std::nullopt;
  return out;
}

json request_signing_object(const std::string& method, const std::string& uri, const std::string& origin,
                            const std::string& destination, const json& content) {
  json obj = {{"method", method}, {"uri", uri}, {"origin", origin}, {"destination", destination}};
  if (!content.is_null()) obj["content"] = content;
  return obj;
}

namespace {
/// A value quoted for an auth-param: backslash before '"' and '\'.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}
} // namespace

std::string sign_request(const signing_key& key, const std::string& method, const std::string& uri,
                         const std::string& origin, const std::string& destination, const json& content) {
  auto obj = request_signing_object(method, uri, origin, destination, content);
  sign_json(obj, origin, key);
  const std::string sig = obj["signatures"][origin][key.key_id()];
  return "X-Matrix origin=" + quoted(origin) + ",destination=" + quoted(destination) +
         ",key=" + quoted(key.key_id()) + ",sig=" + quoted(sig);
}

bool verify_request(const x_matrix_auth& auth, std::string_view pub_raw, const std::string& method,
                    const std::string& uri, const std::string& destination, const json& content) {
  if (!auth.destination.empty() && auth.destination != destination) return false;
  auto obj = request_signing_object(method, uri, auth.origin, destination, content);
  obj["signatures"] = {{auth.origin, {{auth.key_id, auth.sig}}}};
  return verify_json(obj, auth.origin, auth.key_id, pub_raw);
}

} // namespace axon::matrix
