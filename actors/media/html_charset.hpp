// actors/media/html_charset.hpp -- an HTML page's text for URL previews:
// the encoding Synapse would pick (a byte order mark, <meta charset>, the
// XML declaration, the Content-Type's charset, then utf-8 and cp1252), and
// the page decoded to UTF-8 in it. No libxml2 here.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace axon::media {

/// Synapse's decode_body up to the parse: the body as UTF-8 in the first
/// encoding it decodes in, without a byte order mark; nullopt when none.
std::optional<std::string> decode_body_text(std::string_view body, const std::string& content_type);

/// The length of the UTF-8 sequence at `i` if Python's strict decoder accepts
/// it (no overlongs, surrogates or code points past U+10FFFF), else 0; `cp`
/// gets its code point.
std::size_t utf8_sequence(std::string_view s, std::size_t i, char32_t& cp);

} // namespace axon::media
