// matrix/user_directory_search.hpp -- matching and ranking of user directory
// searches (client-server API "User Directory", POST /user_directory/search).
//
// As Synapse 1.67 (storage/databases/main/user_directory.py, search_user_dir):
// the term is cut into words and every word must be a prefix of a word of the
// user's localpart, display name or server name; exact words rank above
// prefixes, the localpart above the display name above the server name, users
// with a display name and an avatar above those without. Synapse leaves the
// matching to the database's full-text search (PostgreSQL's ts_rank_cd or
// SQLite's FTS); Axon does it here so that both engines give the same answers.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace axon::matrix {

/// Runs of ASCII letters and digits and of non-ASCII bytes (so UTF-8 letters
/// stay inside words), ASCII letters folded to lower case. Everything else
/// (`@`, `:`, `.`, `_`, `-`, spaces) separates words, as the full-text
/// tokenizers Synapse relies on do.
std::vector<std::string> search_words(std::string_view text);

struct directory_candidate {
  std::string user_id;
  std::optional<std::string> display_name, avatar_url;
};

/// How well `c` matches the term's words; 0 when some word is not a prefix of
/// any of the user's words (then `c` is no result). No words match nothing.
/// `local_server`, when not empty, doubles the rank of its users
/// (`user_directory.prefer_local_users`).
double directory_rank(const std::vector<std::string>& term_words, const directory_candidate& c,
                      std::string_view local_server = {});

/// The candidates that match, best first (rank, then those with a display
/// name, then with an avatar, then by user id), at most `max` of them.
std::vector<directory_candidate> rank_directory(std::string_view term,
                                                std::vector<directory_candidate> candidates,
                                                size_t max, std::string_view local_server = {});

} // namespace axon::matrix
