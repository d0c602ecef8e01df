// matrix/stream_token.hpp -- Axon's sync and pagination tokens.
//
// A token names a point in the streams: "s<events>" now, with one "_<pos>"
// per further stream as streams are added (typing, receipts, ...). A position
// p means "everything up to and including p has been seen". Tokens are
// opaque to clients; any instance can serve any token.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace axon::matrix {

struct stream_token {
  int64_t events = 0;
  std::vector<int64_t> others; ///< positions of further streams, in order

  std::string to_string() const;
};

/// nullopt for anything that is not a well-formed token.
std::optional<stream_token> parse_stream_token(std::string_view text);

} // namespace axon::matrix
