// Open Graph for URL previews: Synapse's tests/media/test_html_preview.py
// (summaries, Open Graph and fallbacks, charsets), plus the tag cap, image
// fallbacks and byte order marks.
#include "actors/media/open_graph.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

using axon::media::html_open_graph;
using axon::media::summarize_paragraphs;
using nlohmann::json;

namespace {

json og(std::string_view body, const std::string& content_type = "") {
  return html_open_graph(body, content_type);
}

/// A page whose title and text are `title` and "Some text.".
std::string titled(const std::string& head, const std::string& title) {
  return "<html><head>" + head + "<title>" + title +
         "</title></head><body>Some text.</body></html>";
}

}  // namespace

// ---- summarize_paragraphs (SummarizeTestCase) -------------------------------

TEST_CASE("open graph: long paragraphs are summarized") {
  std::vector<std::string> paras = {
      "Tromsø (Norwegian pronunciation: [ˈtrʊmsœ] ( listen); Northern Sami:\n"
      "            Romsa; Finnish: Tromssa[2] Kven: Tromssa) is a city and municipality in\n"
      "            Troms county, Norway. The administrative centre of the municipality is\n"
      "            the city of Tromsø. Outside of Norway, Tromso and Tromsö are\n"
      "            alternative spellings of the city.Tromsø is considered the northernmost\n"
      "            city in the world with a population above 50,000. The most populous town\n"
      "            north of it is Alta, Norway, with a population of 14,272 (2013).",
      "Tromsø lies in Northern Norway. The municipality has a population of\n"
      "            (2015) 72,066, but with an annual influx of students it has over 75,000\n"
      "            most of the year. It is the largest urban area in Northern Norway and the\n"
      "            third largest north of the Arctic Circle (following Murmansk and Norilsk).\n"
      "            Most of Tromsø, including the city centre, is located on the island of\n"
      "            Tromsøya, 350 kilometres (217 mi) north of the Arctic Circle. In 2012,\n"
      "            Tromsøya had a population of 36,088. Substantial parts of the urban area\n"
      "            are also situated on the mainland to the east, and on parts of Kvaløya—a\n"
      "            large island to the west. Tromsøya is connected to the mainland by the Tromsø\n"
      "            Bridge and the Tromsøysund Tunnel, and to the island of Kvaløya by the\n"
      "            Sandnessund Bridge. Tromsø Airport connects the city to many destinations\n"
      "            in Europe. The city is warmer than most other places located on the same\n"
      "            latitude, due to the warming effect of the Gulf Stream.",
      "The city centre of Tromsø contains the highest number of old wooden\n"
      "            houses in Northern Norway, the oldest house dating from 1789. The Arctic\n"
      "            Cathedral, a modern church from 1965, is probably the most famous landmark\n"
      "            in Tromsø. The city is a cultural centre for its region, with several\n"
      "            festivals taking place in the summer. Some of Norway's best-known\n"
      "             musicians, Torbjørn Brundtland and Svein Berge of the electronica duo\n"
      "             Röyksopp and Lene Marlin grew up and started their careers in Tromsø.\n"
      "             Noted electronic musician Geir Jenssen also hails from Tromsø."};

  CHECK(summarize_paragraphs(paras, 200, 500) ==
        "Tromsø (Norwegian pronunciation: [ˈtrʊmsœ] ( listen); Northern Sami:"
        " Romsa; Finnish: Tromssa[2] Kven: Tromssa) is a city and municipality in"
        " Troms county, Norway. The administrative centre of the municipality is"
        " the city of Tromsø. Outside of Norway, Tromso and Tromsö are"
        " alternative spellings of the city.Tromsø is considered the northernmost"
        " city in the world with a population above 50,000. The most populous town"
        " north of it is Alta, Norway, with a population of 14,272 (2013).");

  // Cut at a word boundary before 500 characters (code points: the text has
  // many two-byte letters, so counting bytes would cut earlier).
  std::vector<std::string> rest(paras.begin() + 1, paras.end());
  CHECK(summarize_paragraphs(rest, 200, 500) ==
        "Tromsø lies in Northern Norway. The municipality has a population of"
        " (2015) 72,066, but with an annual influx of students it has over 75,000"
        " most of the year. It is the largest urban area in Northern Norway and the"
        " third largest north of the Arctic Circle (following Murmansk and Norilsk)."
        " Most of Tromsø, including the city centre, is located on the island of"
        " Tromsøya, 350 kilometres (217 mi) north of the Arctic Circle. In 2012,"
        " Tromsøya had a population of 36,088. Substantial parts of the urban…");
}

TEST_CASE("open graph: short paragraphs are joined by blank lines") {
  std::vector<std::string> paras = {
      "Tromsø (Norwegian pronunciation: [ˈtrʊmsœ] ( listen); Northern Sami:"
      " Romsa; Finnish: Tromssa[2] Kven: Tromssa) is a city and municipality in"
      " Troms county, Norway.",
      "Tromsø lies in Northern Norway. The municipality has a population of"
      " (2015) 72,066, but with an annual influx of students it has over 75,000"
      " most of the year.",
      "The city centre of Tromsø contains the highest number of old wooden"
      " houses in Northern Norway, the oldest house dating from 1789. The Arctic"
      " Cathedral, a modern church from 1965, is probably the most famous landmark"
      " in Tromsø."};
  CHECK(summarize_paragraphs(paras, 200, 500) ==
        "Tromsø (Norwegian pronunciation: [ˈtrʊmsœ] ( listen); Northern Sami:"
        " Romsa; Finnish: Tromssa[2] Kven: Tromssa) is a city and municipality in"
        " Troms county, Norway.\n"
        "\n"
        "Tromsø lies in Northern Norway. The municipality has a population of"
        " (2015) 72,066, but with an annual influx of students it has over 75,000"
        " most of the year.");
}

TEST_CASE("open graph: a small then a large paragraph is cut in the second") {
  std::vector<std::string> paras = {
      "Tromsø (Norwegian pronunciation: [ˈtrʊmsœ] ( listen); Northern Sami:"
      " Romsa; Finnish: Tromssa[2] Kven: Tromssa) is a city and municipality in"
      " Troms county, Norway.",
      "Tromsø lies in Northern Norway. The municipality has a population of"
      " (2015) 72,066, but with an annual influx of students it has over 75,000"
      " most of the year."
      " The city centre of Tromsø contains the highest number of old wooden"
      " houses in Northern Norway, the oldest house dating from 1789. The Arctic"
      " Cathedral, a modern church from 1965, is probably the most famous landmark"
      " in Tromsø."};
  CHECK(summarize_paragraphs(paras, 200, 500) ==
        "Tromsø (Norwegian pronunciation: [ˈtrʊmsœ] ( listen); Northern Sami:"
        " Romsa; Finnish: Tromssa[2] Kven: Tromssa) is a city and municipality in"
        " Troms county, Norway.\n"
        "\n"
        "Tromsø lies in Northern Norway. The municipality has a population of"
        " (2015) 72,066, but with an annual influx of students it has over 75,000"
        " most of the year. The city centre of Tromsø contains the highest number"
        " of old wooden houses in Northern Norway, the oldest house dating from"
        " 1789. The Arctic Cathedral, a modern church from…");
}

TEST_CASE("open graph: summaries of nothing, of one huge word, of spaced text") {
  CHECK_FALSE(summarize_paragraphs({}));
  CHECK_FALSE(summarize_paragraphs({" \t ", "\n"}));
  // A word longer than max_size is cut at max_size.
  CHECK(summarize_paragraphs({std::string(600, 'x')}) == std::string(500, 'x') + "…");
  // Runs of tabs and spaces become one space; line breaks one blank line.
  CHECK(summarize_paragraphs({"a \t b", "c"}) == "a b\n\nc");
}

// ---- Open Graph from HTML (OpenGraphFromHtmlTestCase) -----------------------

TEST_CASE("open graph: simple page, comments and scripts") {
  json expected = {{"og:title", "Foo"}, {"og:description", "Some text."}};
  CHECK(og("\n<html>\n<head><title>Foo</title></head>\n<body>\nSome text.\n</body>\n</html>\n") ==
        expected);
  CHECK(og("<html><head><title>Foo</title></head><body>\n<!-- HTML comment -->\nSome text.\n"
           "</body></html>") == expected);
  CHECK(og("<html><head><title>Foo</title></head><body>\n"
           "<script> (function() {})() </script>\nSome text.\n</body></html>") == expected);
  CHECK(og("<html><head><title>Foo</title></head><body>\nSome text.\n<!-- HTML comment -->\n"
           "Some more text.\n<p>Text</p>\nMore text\n</body></html>") ==
        json{{"og:title", "Foo"},
             {"og:description", "Some text.\n\nSome more text.\n\nText\n\nMore text"}});
}

TEST_CASE("open graph: text in non-display elements is skipped") {
  auto result =
      og("<html><head><title>T</title><style>p { color: red }</style></head><body>"
         "<header>Site header</header><nav>Menu</nav><noscript>Enable JS</noscript>"
         "<div role=\"menu\">Home About</div><div role=\"main\">Body text"
         "<svg><text>vector</text></svg> after</div><footer>Copyright</footer></body></html>");
  CHECK(result["og:description"] == "Body text\n\nafter");
}

TEST_CASE("open graph: missing title") {
  CHECK(og("<html><body>\nSome text.\n</body></html>") ==
        json{{"og:title", nullptr}, {"og:description", "Some text."}});
  // An empty title falls back to the first header.
  CHECK(og("<html><head><title></title></head><body><h1>Title</h1></body></html>") ==
        json{{"og:title", "Title"}, {"og:description", "Title"}});
  CHECK(og("<html><body><h1><a href=\"foo\"/></h1>\nSome text.\n</body></html>") ==
        json{{"og:title", nullptr}, {"og:description", "Some text."}});
}

TEST_CASE("open graph: h1 as title, og:description kept") {
  CHECK(og("<html><meta property=\"og:description\" content=\"Some text.\"/>"
           "<body><h1>Title</h1></body></html>") ==
        json{{"og:title", "Title"}, {"og:description", "Some text."}});
}

TEST_CASE("open graph: empty description tags are ignored") {
  CHECK(og("<html>\n<meta property=\"og:description\" content=\"\"/>\n"
           "<meta property=\"og:description\"/>\n<meta name=\"description\" content=\"\"/>\n"
           "<meta name=\"description\"/>\n<meta name=\"description\" content=\"Finally!\"/>\n"
           "<body><h1>Title</h1></body></html>") ==
        json{{"og:title", "Title"}, {"og:description", "Finally!"}});
}

TEST_CASE("open graph: a long og:description is summarized") {
  std::string words;
  for (int i = 0; i < 120; ++i) words += "word" + std::to_string(i) + " ";
  auto result = og("<html><meta property=\"og:description\" content=\"" + words + "\"></html>");
  auto description = result["og:description"].get<std::string>();
  CHECK(description.size() <= 500 + 3);
  CHECK(description.substr(0, 12) == "word0 word1 ");
  CHECK(description.substr(description.size() - 3) == "…");
}

TEST_CASE("open graph: empty, invalid and tree-less bodies give nothing") {
  CHECK(og("") == json::object());
  CHECK(og(std::string_view("\0", 1)) == json::object());
  CHECK(og("   \n\t ") == json::object());
  CHECK(og("<html><body></body></html>") == json::object());
  // Neither UTF-8 nor windows-1252 (0x81 is undefined there).
  CHECK(og("<html><title>\x81\xff</title></html>") == json::object());
}

TEST_CASE("open graph: XHTML with an XML declaration") {
  CHECK(og("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\n"
           "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\" "
           "\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n"
           "<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n"
           "<head><title>Foo</title></head><body>Some text.</body></html>") ==
        json{{"og:title", "Foo"}, {"og:description", "Some text."}});
}

TEST_CASE("open graph: twitter tags fill in but do not override") {
  CHECK(og("<html>\n<meta name=\"twitter:card\" content=\"summary\">\n"
           "<meta name=\"twitter:description\" content=\"Description\">\n"
           "<meta name=\"twitter:site\" content=\"@matrixdotorg\">\n</html>") ==
        json{{"og:title", nullptr},
             {"og:description", "Description"},
             {"og:site_name", "@matrixdotorg"}});
  CHECK(og("<html>\n<meta name=\"twitter:card\" content=\"summary\">\n"
           "<meta name=\"twitter:description\" content=\"Description\">\n"
           "<meta property=\"og:description\" content=\"Real Description\">\n"
           "<meta name=\"twitter:site\" content=\"@matrixdotorg\">\n"
           "<meta property=\"og:site_name\" content=\"matrix.org\">\n</html>") ==
        json{{"og:title", nullptr},
             {"og:description", "Real Description"},
             {"og:site_name", "matrix.org"}});
  // twitter:creator has no Open Graph counterpart; twitter:title has.
  CHECK(og("<html><meta name=\"twitter:creator\" content=\"@someone\">"
           "<meta name=\"twitter:title\" content=\"Card title\"></html>") ==
        json{{"og:title", "Card title"}, {"og:description", nullptr}});
}

TEST_CASE("open graph: article and profile properties") {
  CHECK(og("<html>\n<meta property=\"og:description\" content=\"My description\" />\n"
           "<meta property=\"profile:username\" content=\"myname\">\n"
           "<meta property=\"article:published_time\" content=\"2026-04-07T10:07:37Z\">\n"
           "</html>") == json{{"og:title", nullptr},
                              {"og:description", "My description"},
                              {"profile:username", "myname"},
                              {"article:published_time", "2026-04-07T10:07:37Z"}});
}

TEST_CASE("open graph: nested nodes keep their text order") {
  CHECK(og("<a href=\"somewhere\">Welcome <b>the bold <u>and underlined text <svg>\n"
           "with a cheeky SVG</svg></u> and <strong>some</strong> tail text</b></a>") ==
        json{{"og:title", nullptr},
             {"og:description",
              "Welcome\n\nthe bold\n\nand underlined text\n\nand\n\nsome\n\ntail text"}});
}

TEST_CASE("open graph: more than 50 tags with one prefix are all dropped") {
  auto page = [](int count) {
    std::string body = "<html><head><title>T</title>";
    for (int i = 0; i < count; ++i)
      body += "<meta property=\"og:tag" + std::to_string(i) + "\" content=\"v\">";
    return body + "<meta property=\"article:author\" content=\"A\"></head></html>";
  };
  auto fifty = og(page(50));
  CHECK(fifty.size() == 50 + 3);  // the tags, article:author, og:title, og:description
  CHECK(fifty["og:tag49"] == "v");
  CHECK(fifty["article:author"] == "A");
  CHECK(og(page(51)) ==
        json{{"og:title", "T"}, {"og:description", nullptr}, {"article:author", "A"}});
}

TEST_CASE("open graph: image fallbacks") {
  auto image = [](const std::string& body) {
    auto result = og("<html><head><title>T</title>" + body + "</body></html>");
    return result.contains("og:image") ? result["og:image"] : json();
  };
  CHECK(image("<meta property=\"og:image\" content=\"og.png\"><body><img src=\"a.png\">") ==
        "og.png");
  CHECK(image("<meta itemprop=\"Image\" content=\"item.png\"><body><img src=\"a.png\">") ==
        "item.png");
  // The largest image over 10x10, the first of equals.
  CHECK(image("<body><img src=\"small.png\" width=\"10\" height=\"500\">"
              "<img src=\"mid.png\" width=\"20\" height=\"20\">"
              "<img src=\"big.png\" width=\"30\" height=\"30\">"
              "<img src=\"same.png\" width=\"30\" height=\"30\">") == "big.png");
  CHECK(image("<body><img src=\"first.png\"><img src=\"second.png\" width=\"5\" height=\"5\">") ==
        "first.png");
  CHECK(image("<link rel=\"shortcut icon\" href=\"/favicon.ico\"><body>") == "/favicon.ico");
  CHECK(image("<body><img alt=\"no src\">") == json());
}

// ---- charsets (MediaEncodingTestCase, decode_body) --------------------------

TEST_CASE("open graph: undeclared encodings fall back to UTF-8, then windows-1252") {
  CHECK(og(titled("", "caf\xc3\xa9"))["og:title"] == "café");
  CHECK(og(titled("", "\xf3"))["og:title"] == "ó");
  // Not UTF-8 (a declared charset that is invalid is ignored).
  CHECK(og(titled("", "\xff\xff Foo"), "invalid-encoding") ==
        json{{"og:title", "ÿÿ Foo"}, {"og:description", "Some text."}});
  CHECK(og(titled("<meta charset=\"invalid\">", "caf\xc3\xa9"),
           "text/html; charset=\"invalid\"")["og:title"] == "café");
  // A declared charset the body does not decode in is passed over.
  CHECK(og(titled("<meta charset=\"ascii\">", "caf\xc3\xa9"))["og:title"] == "café");
}

TEST_CASE("open graph: charset declared in a meta tag") {
  // Valid UTF-8 read as windows-1252, because the page says so.
  CHECK(og(titled("<meta charset=\"windows-1252\">", "caf\xc3\xa9"))["og:title"] == "cafÃ©");
  CHECK(og(titled("< meta charset = windows-1252>", "caf\xc3\xa9"))["og:title"] == "cafÃ©");
  CHECK(og(titled("<meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1252\">",
                  "caf\xc3\xa9"))["og:title"] == "cafÃ©");
  CHECK(og(titled("<meta charset=\"Shift_JIS\">", "\x93\xfa\x96\x7b"))["og:title"] == "日本");
  // Meta tags win over the XML declaration and the Content-Type header.
  CHECK(og("<?xml version=\"1.0\" encoding=\"utf-8\"?>" +
               titled("<meta charset=\"iso-8859-1\">", "caf\xc3\xa9"),
           "text/html; charset=utf-8")["og:title"] == "cafÃ©");
}

TEST_CASE("open graph: charset in the XML declaration") {
  CHECK(og("<?xml version=\"1.0\" encoding=\"windows-1252\"?>" +
           titled("", "caf\xc3\xa9"))["og:title"] == "cafÃ©");
}

TEST_CASE("open graph: charset in the Content-Type header") {
  for (const char* header :
       {"text/html; charset=\"windows-1252\";", "text/html;charset=windows-1252;",
        "text/html;  charset=\"windows-1252\"", "text/html; charset=windows-1252",
        "text/html; charset=\"windows-1252;", "text/html; charset=windows-1252\";"}) {
    CAPTURE(header);
    CHECK(og(titled("", "caf\xc3\xa9"), header)["og:title"] == "cafÃ©");
  }
  CHECK(og(titled("", "caf\xc3\xa9"), "text/html")["og:title"] == "café");
}

TEST_CASE("open graph: a byte order mark wins") {
  CHECK(og("\xef\xbb\xbf" + titled("<meta charset=\"windows-1252\">", "caf\xc3\xa9")) ==
        json{{"og:title", "café"}, {"og:description", "Some text."}});
  std::string utf16;
  utf16 += "\xff\xfe";
  for (char c : titled("", "Foo")) {
    utf16 += c;
    utf16 += '\0';
  }
  CHECK(og(utf16) == json{{"og:title", "Foo"}, {"og:description", "Some text."}});
}

TEST_CASE("open graph: huge pages are read within bounds, as Synapse reads them") {
  // An element's children past the walk's stack limit of 1024 are dropped,
  // and the walk pushes the last child first: Synapse keeps the last ones.
  std::string wide = "<html><body>";
  for (int i = 0; i < 20000; ++i) wide += "<p>paragraph " + std::to_string(i) + "</p>";
  auto description = og(wide + "</body></html>")["og:description"].get<std::string>();
  CHECK(description.substr(0, 34) == "paragraph 18975\n\nparagraph 18976\n\n");
  CHECK(description.size() < 300);
  // libxml2 stops at its nesting limit without HTML_PARSE_HUGE.
  std::string deep = "<html><body>";
  for (int i = 0; i < 5000; ++i) deep += "<div>";
  deep += "deep text";
  CHECK(og(deep) == json{{"og:title", nullptr}, {"og:description", nullptr}});
  // A single huge text node is cut to a summary.
  std::string long_text = "<html><body><p>";
  for (int i = 0; i < 100000; ++i) long_text += "x ";
  std::string cut = "x";
  for (int i = 0; i < 249; ++i) cut += " x";  // 499 characters, then the ellipsis
  CHECK(og(long_text + "</p></body></html>")["og:description"] == cut + "…");
}

TEST_CASE("open graph: concurrent calls") {
  auto page = titled("<meta property=\"og:image\" content=\"i.png\">", "caf\xc3\xa9");
  json expected = {{"og:title", "café"}, {"og:image", "i.png"}, {"og:description", "Some text."}};
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) wrong += og(page) != expected;
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(wrong == 0);
}
