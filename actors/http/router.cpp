#include "actors/http/router.hpp"

#include <algorithm>
#include <string_view>

namespace axon::http {

namespace {

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool decode(const std::string& in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int a = hex(in[i + 1]), b = hex(in[i + 2]);
    if (a < 0 || b < 0) return false;
    out += static_cast<char>(a * 16 + b);
    i += 2;
  }
  return true;
}

/// API versions a `{v}` segment accepts (both prefixes, spec "API versions").
bool known_version(const std::string& v) { return v == "r0" || v == "v3" || v == "v1"; }

} // namespace

bool split_path(const std::string& raw, std::vector<std::string>& out) {
  out.clear();
  size_t start = 0;
  if (!raw.empty() && raw[0] == '/') start = 1;
  while (start <= raw.size()) {
    auto end = raw.find('/', start);
    if (end == std::string::npos) end = raw.size();
    std::string seg;
    if (!decode(raw.substr(start, end - start), seg)) return false;
    out.push_back(std::move(seg));
    start = end + 1;
  }
  return true;
}

router::router(std::vector<route> routes, const std::vector<std::string>& resources) {
  for (auto& r : routes) {
    auto has = [&](const char* name) {
      return std::find(resources.begin(), resources.end(), name) != resources.end();
    };
    // A `federation` listener serves the key server and OpenID userinfo too
    // (Synapse's `keys` and `openid`).
    std::string_view res = r.resource;
    if (!has(r.resource) && !((res == "keys" || res == "openid") && has("federation"))) continue;
    compiled c{r, {}};
    split_path(std::string(r.prefix) + r.path, c.segments);
    routes_.push_back(std::move(c));
  }
}

router::match router::find(const std::string& method, const std::string& raw_path) const {
  match m;
  std::vector<std::string> segs;
  if (!split_path(raw_path, segs)) return m;
  // A trailing slash is tolerated, as most servers do.
  if (segs.size() > 1 && segs.back().empty()) segs.pop_back();
  for (auto& c : routes_) {
    if (c.segments.size() != segs.size()) continue;
    std::vector<std::string> params;
    bool ok = true;
    for (size_t i = 0; ok && i < segs.size(); ++i) {
      auto& p = c.segments[i];
      if (p == "{v}") ok = known_version(segs[i]);
      else if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
        ok = !segs[i].empty();
        params.push_back(segs[i]);
      } else ok = p == segs[i];
    }
    if (!ok) continue;
    if (method != c.r.method && !(method == "HEAD" && std::string(c.r.method) == "GET")) {
      m.result = outcome::wrong_method;
      continue;
    }
    m.result = outcome::found;
    m.r = &c.r;
    m.params = std::move(params);
    return m;
  }
  return m;
}

} // namespace axon::http
