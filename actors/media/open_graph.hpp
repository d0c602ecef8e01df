// actors/media/open_graph.hpp -- the Open Graph data of an HTML page for URL
// previews (client-server API, GET /preview_url), as Synapse's
// media/preview_html.py computes it: decode_body, then parse_html_to_open_graph.
// Plain C++: no CAF, no libxml2 types in this header. oEmbed is not here, and
// relative URLs (og:image) are left for the caller to resolve.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace axon::media {

/// The Open Graph data of an HTML document (Synapse's parse_html_to_open_graph
/// after decode_body): a JSON object of string (or null) values; an empty
/// object when the body is not a parseable HTML document. `content_type` is
/// the response's Content-Type header, read for its charset. Thread-safe.
nlohmann::json html_open_graph(std::string_view body, const std::string& content_type);

/// Synapse's summarize_paragraphs (exposed for tests): the paragraphs joined by
/// blank lines until there are `min_size` characters, cut at a word boundary
/// before `max_size` with an ellipsis; nullopt when nothing is left. Sizes
/// count Unicode code points, as Python's len() does.
std::optional<std::string> summarize_paragraphs(const std::vector<std::string>& nodes,
                                                std::size_t min_size = 200,
                                                std::size_t max_size = 500);

}  // namespace axon::media
