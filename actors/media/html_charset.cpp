// actors/media/html_charset.cpp -- the encoding of an HTML page, as Synapse's
// media/preview_html.py finds it (_get_html_media_encodings), and the page
// decoded to UTF-8: with iconv (the converter libxml2 uses itself), but UTF-8
// is checked by hand, as Python's strict decoder does (glibc accepts code
// points past U+10FFFF).
#include "actors/media/html_charset.hpp"

#include <iconv.h>

#include <algorithm>
#include <cerrno>
#include <vector>

namespace axon::media {

/// The length of the UTF-8 sequence at `i` if Python's strict decoder accepts
/// it (no overlongs, surrogates or code points past U+10FFFF), else 0.
std::size_t utf8_sequence(std::string_view s, std::size_t i, char32_t& cp) {
  auto c = static_cast<unsigned char>(s[i]);
  std::size_t len = 0;
  if (c < 0x80) {
    cp = c;
    return 1;
  }
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
    cp = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    cp = c & 0x0f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    auto d = static_cast<unsigned char>(s[i + k]);
    if ((d & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (d & 0x3f);
  }
  if (len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) return 0;
  if (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) return 0;
  return len;
}

namespace {

/// Synapse reads charset declarations in the first 1 KiB only.
constexpr std::size_t charset_window = 1024;

bool ascii_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/// Whether `word` (lowercase ASCII) is at `pos` in `s`, ignoring ASCII case.
bool at_word(std::string_view s, std::size_t pos, std::string_view word) {
  if (pos > s.size() || s.size() - pos < word.size()) return false;
  for (std::size_t k = 0; k < word.size(); ++k) {
    char c = s[pos + k];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != word[k]) return false;
  }
  return true;
}

bool label_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

std::size_t skip_ascii_space(std::string_view s, std::size_t p) {
  while (p < s.size() && ascii_space(s[p])) ++p;
  return p;
}

// ---- charset detection (_get_html_media_encodings) --------------------------

/// Synapse's _charset_match, `<\s*meta[^>]*charset\s*=\s*"?([a-z0-9_-]+)"?`
/// (case-insensitive, searched): the first meta tag with a charset, and in it
/// the last `charset=` (the greedy `[^>]*`). This also reads
/// <meta http-equiv="Content-Type" content="text/html; charset=...">.
std::optional<std::string> meta_charset(std::string_view s) {
  for (std::size_t lt = s.find('<'); lt != std::string_view::npos; lt = s.find('<', lt + 1)) {
    std::size_t p = skip_ascii_space(s, lt + 1);
    if (!at_word(s, p, "meta")) continue;
    p += 4;
    std::size_t end = std::min(s.find('>', p), s.size());
    for (std::size_t i = end; i-- > p;) {
      if (!at_word(s, i, "charset")) continue;
      std::size_t q = skip_ascii_space(s, i + 7);
      if (q >= s.size() || s[q] != '=') continue;
      q = skip_ascii_space(s, q + 1);
      if (q < s.size() && s[q] == '"') ++q;
      std::size_t value = q;
      while (q < s.size() && label_char(s[q])) ++q;
      if (q > value) return std::string(s.substr(value, q - value));
    }
  }
  return std::nullopt;
}

/// Synapse's _xml_encoding_match, `\s*<\s*\?\s*xml[^>]*encoding="([a-z0-9_-]+)"`
/// (case-insensitive, anchored at the start).
std::optional<std::string> xml_encoding(std::string_view s) {
  std::size_t p = skip_ascii_space(s, 0);
  if (p >= s.size() || s[p] != '<') return std::nullopt;
  p = skip_ascii_space(s, p + 1);
  if (p >= s.size() || s[p] != '?') return std::nullopt;
  p = skip_ascii_space(s, p + 1);
  if (!at_word(s, p, "xml")) return std::nullopt;
  p += 3;
  std::size_t end = std::min(s.find('>', p), s.size());
  for (std::size_t i = end; i-- > p;) {
    if (!at_word(s, i, "encoding=\"")) continue;
    std::size_t value = i + 10;
    std::size_t q = value;
    while (q < s.size() && label_char(s[q])) ++q;
    if (q > value && q < s.size() && s[q] == '"') return std::string(s.substr(value, q - value));
  }
  return std::nullopt;
}

/// Synapse's _content_type_match, `.*; *charset="?(.*?)"?(;|$)`
/// (case-insensitive, anchored): the value after the last `; charset=`, without
/// its quotes, up to the next `;`.
std::optional<std::string> content_type_charset(std::string_view ct) {
  for (std::size_t semi = ct.rfind(';'); semi != std::string_view::npos;
       semi = semi == 0 ? std::string_view::npos : ct.rfind(';', semi - 1)) {
    std::size_t p = semi + 1;
    while (p < ct.size() && ct[p] == ' ') ++p;
    if (!at_word(ct, p, "charset=")) continue;
    p += 8;
    if (p < ct.size() && ct[p] == '"') ++p;
    std::size_t q = p;
    while (q < ct.size() && ct[q] != ';' &&
           !(ct[q] == '"' && (q + 1 == ct.size() || ct[q + 1] == ';')))
      ++q;
    return std::string(ct.substr(p, q - p));
  }
  return std::nullopt;
}

bool iconv_knows(const std::string& name) {
  iconv_t cd = iconv_open("UTF-8", name.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) return false;
  iconv_close(cd);
  return true;
}

/// The converter's name for a charset label, or nullopt when it is unknown
/// (Synapse's _normalise_encoding). Python reads a codec name ignoring case,
/// with each run of other characters than letters, digits and '.' as one
/// separator ("UTF_8", ' utf-8"'); the table holds Python's names for
/// encodings that iconv knows under another one.
std::optional<std::string> normalise_encoding(std::string_view label) {
  std::string words;  // upper case, separators as '-'
  for (char c : label) {
    bool word_char =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.';
    if (!word_char) {
      if (!words.empty() && words.back() != '-') words += '-';
      continue;
    }
    words += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  if (!words.empty() && words.back() == '-') words.pop_back();
  if (words.empty()) return std::nullopt;
  std::string key;
  std::copy_if(words.begin(), words.end(), std::back_inserter(key),
               [](char c) { return c != '-'; });
  static const std::pair<std::string_view, std::string_view> aliases[] = {
      {"UTF8", "UTF-8"},         {"U8", "UTF-8"},           {"UTF", "UTF-8"},
      {"CP65001", "UTF-8"},      {"UTF8SIG", "UTF-8"},      {"ASCII", "ASCII"},
      {"USASCII", "ASCII"},      {"646", "ASCII"},          {"CP1252", "CP1252"},
      {"WINDOWS1252", "CP1252"}, {"1252", "CP1252"},        {"LATIN1", "ISO-8859-1"},
      {"LATIN", "ISO-8859-1"},   {"L1", "ISO-8859-1"},      {"ISO88591", "ISO-8859-1"},
      {"8859", "ISO-8859-1"},    {"ISO8859", "ISO-8859-1"}, {"L9", "ISO-8859-15"},
      {"MACROMAN", "MACINTOSH"}, {"SHIFTJIS", "SHIFT_JIS"}, {"MSKANJI", "CP932"},
      {"CHINESE", "GB2312"},     {"KOREAN", "EUC-KR"},      {"KSC5601", "EUC-KR"},
      {"KSC56011987", "EUC-KR"}, {"KSX1001", "EUC-KR"},     {"MS949", "CP949"},
      {"MS950", "CP950"},        {"THAI", "ISO-8859-11"}};
  for (const auto& [alias, name] : aliases) {
    if (key == alias) return std::string(name);
  }
  // iconv knows some names in one spelling only: as read, with '_' between
  // the words, or with nothing between them.
  std::string underscored = words;
  std::replace(underscored.begin(), underscored.end(), '-', '_');
  for (const std::string& name : {words, underscored, key}) {
    if (iconv_knows(name)) return name;
  }
  return std::nullopt;
}

/// The encodings to try, in order: a byte order mark's, then Synapse's
/// _get_html_media_encodings (meta tag, XML declaration, Content-Type
/// charset, UTF-8, windows-1252), each once.
std::vector<std::string> media_encodings(std::string_view body, const std::string& content_type) {
  std::vector<std::string> out;
  auto add = [&out](std::optional<std::string> label) {
    if (!label) return;
    auto name = normalise_encoding(*label);
    if (name && std::find(out.begin(), out.end(), *name) == out.end()) out.push_back(*name);
  };
  // Synapse has no BOM rule; browsers let a BOM win over every declaration
  // (WHATWG Encoding, "decode"), and without it UTF-16 pages would decode as
  // windows-1252.
  if (body.substr(0, 3) == "\xef\xbb\xbf") add("UTF-8");
  if (body.substr(0, 2) == "\xff\xfe") add("UTF-16LE");
  if (body.substr(0, 2) == "\xfe\xff") add("UTF-16BE");
  auto start = body.substr(0, charset_window);
  add(meta_charset(start));
  add(xml_encoding(start));
  if (!content_type.empty()) add(content_type_charset(content_type));
  add("utf-8");
  add("cp1252");
  return out;
}

// ---- decoding ---------------------------------------------------------------

std::optional<std::string> decode_iconv(std::string_view body, const std::string& encoding) {
  iconv_t cd = iconv_open("UTF-8", encoding.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) return std::nullopt;
  std::string out(body.size() * 2 + 16, '\0');
  char* in = const_cast<char*>(body.data());
  std::size_t in_left = body.size();
  std::size_t used = 0;
  bool ok = true;
  while (in_left > 0) {
    char* dst = out.data() + used;
    std::size_t room = out.size() - used;
    std::size_t rc = iconv(cd, &in, &in_left, &dst, &room);
    used = out.size() - room;
    if (rc != static_cast<std::size_t>(-1)) break;
    if (errno != E2BIG) {
      ok = false;  // EILSEQ or EINVAL: not text in this encoding
      break;
    }
    out.resize(out.size() * 2);
  }
  iconv_close(cd);
  if (!ok) return std::nullopt;
  out.resize(used);
  return out;
}

/// The body as UTF-8 if it decodes without error in `encoding`.
std::optional<std::string> decode(std::string_view body, const std::string& encoding) {
  if (encoding == "UTF-8") {
    for (std::size_t i = 0; i < body.size();) {
      char32_t cp = 0;
      std::size_t len = utf8_sequence(body, i, cp);
      if (len == 0) return std::nullopt;
      i += len;
    }
    return std::string(body);
  }
  return decode_iconv(body, encoding);
}

} // namespace

/// Synapse's decode_body up to the parse: the body as UTF-8 in the first
/// encoding it decodes in, without a byte order mark.
std::optional<std::string> decode_body_text(std::string_view body,
                                            const std::string& content_type) {
  for (const auto& encoding : media_encodings(body, content_type)) {
    if (auto text = decode(body, encoding)) {
      if (text->compare(0, 3, "\xef\xbb\xbf") == 0) text->erase(0, 3);
      return text;
    }
  }
  return std::nullopt;
}

} // namespace axon::media
