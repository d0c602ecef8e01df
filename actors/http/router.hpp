// actors/http/router.hpp -- matches a request path against the route table.
#pragma once

#include "actors/http/http_types.hpp"

#include <string>
#include <vector>

namespace axon::http {

class router {
public:
  /// Only routes whose resource is in `resources` are served.
  router(std::vector<route> routes, const std::vector<std::string>& resources);

  enum class outcome { found, no_path, wrong_method };
  struct match {
    outcome result = outcome::no_path;
    const route* r = nullptr;
    std::vector<std::string> params;
  };

  /// `raw_path` is the undecoded path (no query); segments are
  /// percent-decoded after splitting, so an encoded '/' stays in its segment.
  match find(const std::string& method, const std::string& raw_path) const;

private:
  struct compiled {
    route r;
    std::vector<std::string> segments; ///< literal, "{name}" or "{v}"
  };
  std::vector<compiled> routes_;
};

/// Splits and percent-decodes a path; false on a malformed escape.
bool split_path(const std::string& raw, std::vector<std::string>& out);

} // namespace axon::http
