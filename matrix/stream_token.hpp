// matrix/stream_token.hpp -- Axon's sync and pagination tokens.
//
// A token names a point in the streams: "s<events>", then one "~<id>.<pos>"
// per events writer that is further than <events> (several events writers;
// <id> is the writer's number in instance_ids), then one "_<pos>" per
// further stream (typing, receipts, ...). A position p means "everything up
// to and including p has been seen"; for an event, p is its writer's entry
// when the token has one, else <events>. Tokens are opaque to clients; any
// instance can serve any token. (Synapse's "m<min>~<id>.<pos>" room tokens.)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace axon::matrix {

struct stream_token {
  int64_t events = 0;
  std::vector<int64_t> others; ///< positions of further streams, in order
  /// (writer id, position) of events writers beyond `events`.
  std::vector<std::pair<int64_t, int64_t>> writers;

  std::string to_string() const;
};

/// nullopt for anything that is not a well-formed token.
std::optional<stream_token> parse_stream_token(std::string_view text);

} // namespace axon::matrix
