#include "matrix/user_directory_search.hpp"

#include <algorithm>
#include <set>

namespace axon::matrix {

namespace {

// Synapse's weights for ts_rank_cd: {D, C, B, A} = {0.1, 0.1, 0.9, 1.0} with
// the localpart as A, the display name as B and the server name as D.
constexpr double localpart_weight = 1.0;
constexpr double display_name_weight = 0.9;
constexpr double domain_weight = 0.1;

bool word_byte(unsigned char ch) {
  return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
         ch >= 0x80;
}

struct weighted_word {
  std::string word;
  double weight;
};

std::vector<weighted_word> document(const directory_candidate& c) {
  std::string_view id = c.user_id;
  if (!id.empty() && id.front() == '@') id.remove_prefix(1);
  auto colon = id.find(':');
  std::vector<weighted_word> out;
  auto add = [&](std::string_view text, double weight) {
    for (auto& w : search_words(text)) out.push_back({std::move(w), weight});
  };
  add(id.substr(0, colon), localpart_weight);
  if (c.display_name) add(*c.display_name, display_name_weight);
  if (colon != std::string_view::npos) add(id.substr(colon + 1), domain_weight);
  return out;
}

} // namespace

std::vector<std::string> search_words(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  for (unsigned char ch : text) {
    if (word_byte(ch)) {
      cur += static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
    } else if (!cur.empty()) {
      out.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

double directory_rank(const std::vector<std::string>& term_words, const directory_candidate& c,
                      std::string_view local_server) {
  if (term_words.empty()) return 0;
  auto doc = document(c);
  // Two AND queries as in Synapse: every word exactly, and every word as a
  // prefix; the exact one counts three times. Each sums its words' best
  // weights, over the number of distinct words of the user (normalisation 8).
  double exact = 0, prefix = 0;
  bool all_exact = true;
  for (auto& t : term_words) {
    double best_exact = 0, best_prefix = 0;
    for (auto& d : doc) {
      if (d.word == t) best_exact = std::max(best_exact, d.weight);
      if (d.word.compare(0, t.size(), t) == 0) best_prefix = std::max(best_prefix, d.weight);
    }
    if (best_prefix == 0) return 0;
    if (best_exact == 0) all_exact = false;
    exact += best_exact;
    prefix += best_prefix;
  }
  std::set<std::string> distinct;
  for (auto& d : doc) distinct.insert(d.word);
  double n = static_cast<double>(std::max<size_t>(distinct.size(), 1));
  double rank = ((all_exact ? 3 * exact : 0) + prefix) / n;
  rank *= 4.0;
  if (c.display_name) rank *= 1.2;
  if (c.avatar_url) rank *= 1.2;
  if (!local_server.empty()) {
    auto colon = c.user_id.find(':');
    if (colon != std::string::npos && std::string_view(c.user_id).substr(colon + 1) == local_server)
      rank *= 2.0;
  }
  return rank;
}

std::vector<directory_candidate> rank_directory(std::string_view term,
                                                std::vector<directory_candidate> candidates,
                                                size_t max, std::string_view local_server) {
  auto words = search_words(term);
  std::vector<std::pair<double, directory_candidate>> scored;
  for (auto& c : candidates)
    if (double r = directory_rank(words, c, local_server); r > 0) scored.emplace_back(r, std::move(c));
  std::sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first > b.first;
    if (a.second.display_name.has_value() != b.second.display_name.has_value())
      return a.second.display_name.has_value();
    if (a.second.avatar_url.has_value() != b.second.avatar_url.has_value())
      return a.second.avatar_url.has_value();
    return a.second.user_id < b.second.user_id;
  });
  std::vector<directory_candidate> out;
  for (auto& [r, c] : scored) {
    if (out.size() >= max) break;
    out.push_back(std::move(c));
  }
  return out;
}

} // namespace axon::matrix
