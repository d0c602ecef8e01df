// actors/media/open_graph.cpp -- Synapse's media/preview_html.py in C++:
// decode_body (charset detection) and parse_html_to_open_graph, with the
// same XPath expressions and fallbacks. The parser is libxml2's, the library
// Synapse's lxml wraps, so a page parses here into the same tree as there.
//
// The body is decoded to UTF-8 before parsing (html_charset.hpp), and libxml2
// is told the text is UTF-8: the text that was checked to decode is the text
// parsed.
#include "actors/media/open_graph.hpp"

#include "actors/media/html_charset.hpp"

#include <libxml/HTMLparser.h>
#include <libxml/xpath.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <iterator>
#include <memory>
#include <mutex>

namespace axon::media {

namespace {

// ---- constants --------------------------------------------------------------

/// More tags than this with one prefix and Synapse drops them all.
constexpr std::size_t max_tags_per_prefix = 50;

/// _iterate_over_text's stack_limit: children past it are dropped.
constexpr std::size_t text_stack_limit = 1024;

/// The description walk stops after this much text. summarize_paragraphs
/// reads paragraphs only until it has 200 characters, so the cap changes no
/// result; it bounds the work on a huge page.
constexpr std::size_t description_text_cap = 64 * 1024;

/// Parse options: lxml's recover=True, no_network=True, and no huge_tree, so
/// libxml2's default limits on text and names hold. Errors are not printed.
constexpr int parse_options =
    HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET | HTML_PARSE_RECOVER;

/// Elements whose text is not part of the description (parse_html_description).
constexpr std::string_view tags_to_remove[] = {"header",   "nav",   "aside",  "footer", "script",
                                               "noscript", "style", "svg",    "iframe", "video",
                                               "canvas",   "img",   "picture"};

/// ARIA roles of elements not meant for display.
constexpr std::string_view aria_roles_to_ignore[] = {"directory", "menu", "menubar", "toolbar"};

// ---- text helpers -----------------------------------------------------------

/// Python's str.isspace, which is also what `\s` means in a str regex.
bool py_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
         c == 0x205f || c == 0x3000;
}

/// Code points of UTF-8 text; an invalid byte becomes U+FFFD.
std::u32string to_u32(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    std::size_t len = utf8_sequence(s, i, cp);
    out += len ? cp : U'\ufffd';
    i += len ? len : 1;
  }
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

std::string to_utf8(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t cp : s) append_utf8(out, cp);
  return out;
}

/// Python's str.strip(): whitespace off both ends.
std::u32string_view py_strip(std::u32string_view s) {
  while (!s.empty() && py_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && py_space(s.back())) s.remove_suffix(1);
  return s;
}

/// re.sub(f"[{set}]+", with, s): each run of characters in `set` becomes `with`.
template <typename InSet>
std::u32string collapse_runs(std::u32string_view s, InSet in_set, std::u32string_view with) {
  std::u32string out;
  for (std::size_t i = 0; i < s.size();) {
    if (!in_set(s[i])) {
      out += s[i++];
      continue;
    }
    while (i < s.size() && in_set(s[i])) ++i;
    out += with;
  }
  return out;
}

bool tab_space_newline(char32_t c) { return c == '\t' || c == ' ' || c == '\r' || c == '\n'; }
bool tab_space(char32_t c) { return c == '\t' || c == ' '; }

/// re.sub(r"[\t \r\n]*[\r\n]+", "\n\n", s): in each run of tabs, spaces and
/// line breaks that holds a line break, everything up to its last line break
/// becomes one blank line; the tabs and spaces after it stay.
std::u32string blank_lines(std::u32string_view s) {
  std::u32string out;
  for (std::size_t i = 0; i < s.size();) {
    if (!tab_space_newline(s[i])) {
      out += s[i++];
      continue;
    }
    std::size_t end = i;
    std::size_t last_break = std::u32string_view::npos;
    for (; end < s.size() && tab_space_newline(s[end]); ++end) {
      if (s[end] == '\r' || s[end] == '\n') last_break = end;
    }
    if (last_break == std::u32string_view::npos) {
      out.append(s.substr(i, end - i));
    } else {
      out += U"\n\n";
      out.append(s.substr(last_break + 1, end - last_break - 1));
    }
    i = end;
  }
  return out;
}

/// One text node as parse_html_description splits it:
/// re.sub(r"\s+", "\n", text).strip().
std::string paragraph(std::string_view text) {
  auto collapsed = collapse_runs(to_u32(text), py_space, U"\n");
  return to_utf8(py_strip(collapsed));
}

// ---- libxml2 ----------------------------------------------------------------

using doc_ptr = std::unique_ptr<xmlDoc, decltype(&xmlFreeDoc)>;
using context_ptr = std::unique_ptr<xmlXPathContext, decltype(&xmlXPathFreeContext)>;
using object_ptr = std::unique_ptr<xmlXPathObject, decltype(&xmlXPathFreeObject)>;

const xmlChar* xml(const char* s) { return reinterpret_cast<const xmlChar*>(s); }

/// The nodes an XPath expression selects, in libxml2's (document) order. They
/// belong to the document, so they outlive the XPath result.
std::vector<xmlNode*> select(xmlXPathContext* context, const std::string& expression) {
  object_ptr result(xmlXPathEvalExpression(xml(expression.c_str()), context), xmlXPathFreeObject);
  std::vector<xmlNode*> nodes;
  if (result && result->type == XPATH_NODESET && result->nodesetval != nullptr) {
    const xmlNodeSet* set = result->nodesetval;
    nodes.assign(set->nodeTab, set->nodeTab + set->nodeNr);
  }
  return nodes;
}

std::string take_string(xmlChar* s) {
  std::string out = s ? reinterpret_cast<const char*>(s) : "";
  xmlFree(s);
  return out;
}

/// The text of an element, attribute or text node.
std::string content(const xmlNode* node) { return take_string(xmlNodeGetContent(node)); }

std::optional<std::string> attribute(const xmlNode* node, const char* name) {
  xmlChar* value = xmlGetProp(node, xml(name));
  if (value == nullptr) return std::nullopt;
  return take_string(value);
}

/// The first XPath result's text, if there is one.
std::optional<std::string> first_content(xmlXPathContext* context, const std::string& expression) {
  auto nodes = select(context, expression);
  if (nodes.empty()) return std::nullopt;
  return content(nodes.front());
}

bool is_text(const xmlNode* node) {
  return node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE;
}

/// lxml's .text or .tail: the run of text nodes that starts at `node`.
std::string text_run(const xmlNode* node) {
  std::string out;
  for (; node != nullptr && is_text(node); node = node->next) {
    if (node->content != nullptr) out += reinterpret_cast<const char*>(node->content);
  }
  return out;
}

bool has_text(const xmlNode* node) {
  for (; node != nullptr && is_text(node); node = node->next) {
    if (node->content != nullptr && node->content[0] != 0) return true;
  }
  return false;
}

const xmlNode* child_element(const xmlNode* parent, std::string_view name) {
  for (const xmlNode* n = parent ? parent->children : nullptr; n != nullptr; n = n->next) {
    if (n->type == XML_ELEMENT_NODE && reinterpret_cast<const char*>(n->name) == name) return n;
  }
  return nullptr;
}

template <std::size_t N>
bool one_of(const std::string_view (&set)[N], std::string_view value) {
  return std::find(std::begin(set), std::end(set), value) != std::end(set);
}

/// The end of decode_body: lxml 6 gives an empty <html><body/></html> for a
/// body with no document in it, and Synapse then returns no tree.
bool empty_document(const xmlNode* root) {
  if (root == nullptr) return true;
  if (reinterpret_cast<const char*>(root->name) != std::string_view("html")) return false;
  const xmlNode* body = child_element(root, "body");
  std::size_t children = 0;
  for (const xmlNode* n = root->children; n != nullptr; n = n->next) children += !is_text(n);
  if (body == nullptr || children != 1) return false;
  for (const xmlNode* n = body->children; n != nullptr; n = n->next) {
    if (!is_text(n)) return false;
  }
  auto text = to_u32(text_run(body->children));
  std::u32string_view view(text);
  while (!view.empty() && view.front() == U'\ufffd') view.remove_prefix(1);
  while (!view.empty() && view.back() == U'\ufffd') view.remove_suffix(1);
  return py_strip(view).empty();
}

// ---- Open Graph (parse_html_to_open_graph) ----------------------------------

using property_mapper = std::optional<std::string> (*)(const std::string&);

/// Synapse's _get_meta_tags: meta tags whose `property` attribute starts with
/// `prefix:`, by tag name; none at all past 50 tags.
nlohmann::json meta_tags(xmlXPathContext* context, const std::string& property,
                         const std::string& prefix, property_mapper mapper = nullptr) {
  auto results = nlohmann::json::object();
  auto tags = select(context, "//*/meta[starts-with(@" + property + ", '" + prefix +
                                  ":')][@content][not(@content='')]");
  for (const xmlNode* tag : tags) {
    if (results.size() >= max_tags_per_prefix) return nlohmann::json::object();
    std::string key = attribute(tag, property.c_str()).value_or("");
    if (mapper) {
      auto mapped = mapper(key);
      if (!mapped) continue;
      key = *mapped;
    }
    results[key] = attribute(tag, "content").value_or("");
  }
  return results;
}

/// Synapse's _map_twitter_to_open_graph: nullopt for a card property that has
/// no Open Graph counterpart.
std::optional<std::string> twitter_to_open_graph(const std::string& key) {
  if (key == "twitter:card" || key == "twitter:creator") return std::nullopt;
  if (key == "twitter:site") return "og:site_name";
  return "og" + key.substr(7);
}

/// The src of the largest image over 10x10 pixels by its attributes (the
/// first of equals), else of the first image.
std::optional<std::string> largest_image(xmlXPathContext* context) {
  const xmlNode* best = nullptr;
  double best_area = 0;
  for (const xmlNode* img : select(context, "//img[@src][number(@width)>10][number(@height)>10]")) {
    // The XPath above accepted both numbers, so they parse the same way here.
    double area = xmlXPathCastStringToNumber(xml(attribute(img, "width")->c_str())) *
                  xmlXPathCastStringToNumber(xml(attribute(img, "height")->c_str()));
    if (best == nullptr || area > best_area) {
      best = img;
      best_area = area;
    }
  }
  if (best == nullptr) {
    auto first = select(context, "//img[@src][1]");
    if (!first.empty()) best = first.front();
  }
  if (best == nullptr) return std::nullopt;
  return attribute(best, "src");
}

/// Synapse's parse_html_description over _iterate_over_text: the text under
/// <body> depth first, without the elements of tags_to_remove, elements with
/// an ignored ARIA role, and comments; then summarize_paragraphs.
std::optional<std::string> html_description(const xmlDoc* doc) {
  const xmlNode* body = child_element(xmlDocGetRootElement(doc), "body");
  if (body == nullptr) return std::nullopt;
  std::vector<std::string> paragraphs;
  std::size_t collected = 0;
  auto emit = [&](std::string_view text) {
    paragraphs.push_back(paragraph(text));
    // summarize_paragraphs joins with a blank line.
    collected += paragraphs.back().size() + 2;
  };
  // The stack holds elements and text runs (an element's tail) still to visit.
  struct item {
    const xmlNode* node;
    bool text;
  };
  std::vector<item> stack{{body, false}};
  while (!stack.empty() && collected < description_text_cap) {
    auto [node, text] = stack.back();
    stack.pop_back();
    if (text) {
      emit(text_run(node));
      continue;
    }
    // lxml gives a processing instruction its content as .text.
    if (node->type == XML_PI_NODE) {
      if (node->content != nullptr && node->content[0] != 0)
        emit(reinterpret_cast<const char*>(node->content));
      continue;
    }
    if (node->type != XML_ELEMENT_NODE ||
        one_of(tags_to_remove, reinterpret_cast<const char*>(node->name)))
      continue;
    if (auto role = attribute(node, "role"); role && one_of(aria_roles_to_ignore, *role)) continue;
    if (has_text(node->children)) emit(text_run(node->children));
    // Children last to first, so the first is on top; a child's tail text
    // goes under it, whether or not the child itself is skipped.
    for (const xmlNode* child = node->last; child != nullptr; child = child->prev) {
      if (is_text(child)) continue;
      if (stack.size() > text_stack_limit) break;
      if (has_text(child->next)) stack.push_back({child->next, true});
      stack.push_back({child, false});
    }
  }
  return summarize_paragraphs(paragraphs);
}

nlohmann::json open_graph(xmlDoc* doc) {
  context_ptr context(xmlXPathNewContext(doc), xmlXPathFreeContext);
  if (!context) return nlohmann::json::object();
  xmlXPathContext* ctx = context.get();

  auto og = meta_tags(ctx, "property", "og");
  og.update(meta_tags(ctx, "property", "article"));
  og.update(meta_tags(ctx, "property", "profile"));
  // Twitter card tags duplicate Open Graph ones but do not override them.
  auto twitter = meta_tags(ctx, "name", "twitter", twitter_to_open_graph);
  for (auto& [key, value] : twitter.items()) {
    if (!og.contains(key)) og[key] = value;
  }

  if (!og.contains("og:title")) {
    // The title, or the biggest header on the page.
    auto title = first_content(ctx, "((//title)[1] | (//h1)[1] | (//h2)[1] | (//h3)[1])/text()");
    og["og:title"] = title ? nlohmann::json(to_utf8(py_strip(to_u32(*title)))) : nullptr;
  }

  if (!og.contains("og:image")) {
    auto image = first_content(
        ctx,
        "//*/meta[translate(@itemprop, 'IMAGE', 'image')='image'][not(@content='')]/@content[1]");
    if (!image) image = largest_image(ctx);
    if (!image) image = first_content(ctx, "//link[@href][contains(@rel, 'icon')]/@href[1]");
    if (image) og["og:image"] = *image;
  }

  if (!og.contains("og:description")) {
    auto description =
        first_content(ctx,
                      "//*/meta[translate(@name, 'DESCRIPTION', 'description')='description']"
                      "[not(@content='')]/@content[1]");
    if (!description) description = html_description(doc);
    og["og:description"] = description ? nlohmann::json(*description) : nullptr;
  } else if (og["og:description"].is_string() && !og["og:description"].get<std::string>().empty()) {
    auto summary = summarize_paragraphs({og["og:description"].get<std::string>()});
    og["og:description"] = summary ? nlohmann::json(*summary) : nullptr;
  }
  return og;
}

}  // namespace

// ---- public -----------------------------------------------------------------

std::optional<std::string> summarize_paragraphs(const std::vector<std::string>& nodes,
                                                std::size_t min_size, std::size_t max_size) {
  // Paragraphs until there are min_size characters.
  std::u32string joined;
  for (const auto& node : nodes) {
    if (joined.size() >= min_size) break;
    joined += collapse_runs(to_u32(node), tab_space_newline, U" ");
    joined += U"\n\n";
  }
  auto description = blank_lines(collapse_runs(py_strip(joined), tab_space, U" "));

  // Over max_size: cut before the word that would pass it, unless that leaves
  // less than min_size; the ellipsis marks the cut.
  if (description.size() > max_size) {
    std::u32string cut;
    for (std::size_t i = 0; i < description.size();) {
      // re.finditer(r"\s*\S+"): a word with the whitespace before it.
      std::size_t start = i;
      while (i < description.size() && py_space(description[i])) ++i;
      if (i == description.size()) break;
      while (i < description.size() && !py_space(description[i])) ++i;
      std::u32string_view word(description.data() + start, i - start);
      if (word.size() + cut.size() < max_size) {
        cut += word;
        continue;
      }
      if (cut.size() < min_size) cut += word;
      break;
    }
    if (cut.size() > max_size) cut.resize(max_size);
    description = std::u32string(py_strip(cut)) + U"\u2026";
  }
  if (description.empty()) return std::nullopt;
  return to_utf8(description);
}

nlohmann::json html_open_graph(std::string_view body, const std::string& content_type) {
  static std::once_flag init;
  std::call_once(init, [] { xmlInitParser(); });

  if (body.empty()) return nlohmann::json::object();
  auto text = decode_body_text(body, content_type);
  if (!text || text->empty() || text->size() > static_cast<std::size_t>(INT_MAX))
    return nlohmann::json::object();
  doc_ptr doc(
      htmlReadMemory(text->data(), static_cast<int>(text->size()), nullptr, "UTF-8", parse_options),
      xmlFreeDoc);
  if (!doc || empty_document(xmlDocGetRootElement(doc.get()))) return nlohmann::json::object();
  return open_graph(doc.get());
}

}  // namespace axon::media
