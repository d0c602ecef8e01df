#include "matrix/stream_token.hpp"

#include <charconv>

namespace axon::matrix {

std::string stream_token::to_string() const {
  std::string out = "s" + std::to_string(events);
  for (auto& [id, p] : writers)
    if (p > events) out += "~" + std::to_string(id) + "." + std::to_string(p);
  for (auto p : others) out += "_" + std::to_string(p);
  return out;
}

namespace {
bool read_pos(std::string_view& in, int64_t& out) {
  if (in.empty() || in[0] < '0' || in[0] > '9') return false;
  auto [end, ec] = std::from_chars(in.data(), in.data() + in.size(), out);
  if (ec != std::errc()) return false;
  in.remove_prefix(static_cast<size_t>(end - in.data()));
  return true;
}
} // namespace

std::optional<stream_token> parse_stream_token(std::string_view text) {
  if (text.size() < 2 || text[0] != 's') return std::nullopt;
  text.remove_prefix(1);
  stream_token t;
  if (!read_pos(text, t.events)) return std::nullopt;
  while (!text.empty() && text[0] == '~') {
    text.remove_prefix(1);
    int64_t id = 0, p = 0;
    if (!read_pos(text, id) || text.empty() || text[0] != '.') return std::nullopt;
    text.remove_prefix(1);
    if (!read_pos(text, p)) return std::nullopt;
    t.writers.emplace_back(id, p);
  }
  while (!text.empty()) {
    if (text[0] != '_') return std::nullopt;
    text.remove_prefix(1);
    int64_t p = 0;
    if (!read_pos(text, p)) return std::nullopt;
    t.others.push_back(p);
  }
  return t;
}

} // namespace axon::matrix
