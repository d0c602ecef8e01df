// Media thumbnails (content repository "Thumbnails"; Synapse's sizes and
// output types). Test images are made with libvips itself in a temp dir and
// every thumbnail is decoded again to check its size and format.
#include "actors/media/thumbnailer.hpp"

#include <doctest/doctest.h>
#include <vips/vips.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>
#include <vector>

using namespace axon::media;
namespace fs = std::filesystem;

namespace {

// ---- fixtures ---------------------------------------------------------------

struct temp_dir {
  fs::path path;
  temp_dir() {
    std::random_device rd;
    path = fs::temp_directory_path() / ("axon_thumb_" + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string tmp(const std::string& name) {
  static temp_dir dir;
  return (dir.path / name).string();
}

struct image_ref {
  VipsImage* p = nullptr;
  image_ref() = default;
  explicit image_ref(VipsImage* i) : p(i) {}
  image_ref(image_ref&& o) noexcept : p(o.p) { o.p = nullptr; }
  image_ref& operator=(image_ref&& o) noexcept {
    std::swap(p, o.p);
    return *this;
  }
  ~image_ref() {
    if (p)
      g_object_unref(p);
  }
  VipsImage* operator->() const { return p; }
};

void check_vips(int rc) {
  if (rc) {
    std::string msg = vips_error_buffer();
    vips_error_clear();
    FAIL("libvips: " << msg);
  }
}

/// A `w` x `h` sRGB image with a gradient and, if `noise`, camera-like
/// noise (so JPEG decoding costs what a photo's does); `alpha` adds a
/// half-transparent alpha band. Large images repeat a tile: as costly to
/// decode, much cheaper to make.
image_ref make_image(int w, int h, bool alpha = false, double noise = 0) {
  init_image_library();
  const int tw = std::min(w, 509), th = std::min(h, 503);
  VipsImage* t = nullptr;
  check_vips(vips_xyz(&t, tw, th, nullptr));
  image_ref xyz(t);
  check_vips(vips_remainder_const1(xyz.p, &t, 256, nullptr));
  image_ref rem(t);
  check_vips(vips_bandjoin_const1(rem.p, &t, 128, nullptr));
  image_ref rgb(t);
  if (noise > 0) {
    check_vips(vips_gaussnoise(&t, tw, th, "sigma", noise, "mean", 0.0, nullptr));
    image_ref n(t);
    check_vips(vips_add(rgb.p, n.p, &t, nullptr));
    rgb = image_ref(t);
  }
  if (alpha) {
    check_vips(vips_bandjoin_const1(rgb.p, &t, 100, nullptr));
    rgb = image_ref(t);
  }
  check_vips(vips_cast_uchar(rgb.p, &t, nullptr));
  image_ref tile(t);
  if (tw < w || th < h) {
    image_ref mem(vips_image_copy_memory(tile.p));
    check_vips(vips_replicate(mem.p, &t, (w + tw - 1) / tw, (h + th - 1) / th, nullptr));
    image_ref rep(t);
    check_vips(vips_crop(rep.p, &t, 0, 0, w, h, nullptr));
    tile = image_ref(t);
  }
  check_vips(vips_copy(tile.p, &t, "interpretation", VIPS_INTERPRETATION_sRGB, nullptr));
  return image_ref(t);
}

/// `frames` frames of `w` x `h`, each a different colour, stacked as libvips
/// holds an animation (page-height, delay, loop).
image_ref make_animation(int w, int h, int frames) {
  std::vector<image_ref> parts;
  std::vector<VipsImage*> raw;
  for (int i = 0; i < frames; ++i) {
    VipsImage* t = nullptr;
    check_vips(vips_black(&t, w, h, "bands", 3, nullptr));
    image_ref black(t);
    check_vips(vips_linear1(black.p, &t, 1.0, 40.0 * i, nullptr));
    image_ref c(t);
    check_vips(vips_cast_uchar(c.p, &t, nullptr));
    parts.emplace_back(t);
    raw.push_back(t);
  }
  VipsImage* t = nullptr;
  check_vips(vips_arrayjoin(raw.data(), &t, frames, "across", 1, nullptr));
  image_ref joined(t);
  check_vips(vips_copy(joined.p, &t, "interpretation", VIPS_INTERPRETATION_sRGB, nullptr));
  vips_image_set_int(t, VIPS_META_PAGE_HEIGHT, h);
  std::vector<int> delay(static_cast<size_t>(frames), 100);
  vips_image_set_array_int(t, "delay", delay.data(), frames);
  vips_image_set_int(t, "loop", 0);
  return image_ref(t);
}

std::string save(const image_ref& img, const std::string& name) {
  std::string path = tmp(name);
  std::string ext = fs::path(name).extension().string();
  if (ext == ".jpg")
    check_vips(vips_jpegsave(img.p, path.c_str(), "Q", 90, nullptr));
  else if (ext == ".png")
    check_vips(vips_pngsave(img.p, path.c_str(), nullptr));
  else if (ext == ".gif")
    check_vips(vips_gifsave(img.p, path.c_str(), nullptr));
  else if (ext == ".webp")
    check_vips(vips_webpsave(img.p, path.c_str(), nullptr));
  else if (ext == ".tif")
    check_vips(vips_tiffsave(img.p, path.c_str(), nullptr));
  else
    FAIL("no saver for " << name);
  return path;
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

/// What the thumbnail's bytes decode to.
struct decoded {
  int width = 0, height = 0, pages = 1, bands = 0;
  bool alpha = false;
  std::string loader;
  std::vector<int> delays;  // per frame, ms
};

decoded decode(const thumbnail& t) {
  VipsImage* img = vips_image_new_from_buffer(t.bytes.data(), t.bytes.size(), "", nullptr);
  check_vips(img ? 0 : -1);
  image_ref r(img);
  if (vips_image_get_n_pages(img) > 1) {
    img = vips_image_new_from_buffer(t.bytes.data(), t.bytes.size(), "n=-1", nullptr);
    check_vips(img ? 0 : -1);
    r = image_ref(img);
  }
  decoded d;
  d.width = r->Xsize;
  d.height = vips_image_get_page_height(img);
  d.pages = r->Ysize / d.height;
  d.bands = r->Bands;
  d.alpha = vips_image_hasalpha(img);
  const char* loader = nullptr;
  if (!vips_image_get_string(img, "vips-loader", &loader))
    d.loader = loader;
  int* delay = nullptr;
  int n = 0;
  if (vips_image_get_typeof(img, "delay") && !vips_image_get_array_int(img, "delay", &delay, &n))
    d.delays.assign(delay, delay + n);
  return d;
}

/// A 4000x3000 photo-like JPEG, made once.
const std::string& big_jpeg() {
  static const std::string path = save(make_image(4000, 3000, false, 20), "big.jpg");
  return path;
}

} // namespace

// ---- thumbnail_size: pure geometry -------------------------------------------

TEST_CASE("thumbnail_size: scale fits inside the box, never upscales") {
  using p = std::pair<int, int>;
  CHECK(thumbnail_size(4000, 3000, 320, 240, thumb_method::scale) == p{320, 240});
  CHECK(thumbnail_size(4000, 3000, 800, 600, thumb_method::scale) == p{800, 600});
  CHECK(thumbnail_size(1000, 500, 800, 600, thumb_method::scale) == p{800, 400});
  CHECK(thumbnail_size(500, 1000, 800, 600, thumb_method::scale) == p{300, 600});
  CHECK(thumbnail_size(20, 10, 96, 96, thumb_method::scale) == p{20, 10});
  CHECK(thumbnail_size(20, 10, 20, 10, thumb_method::scale) == p{20, 10});
  CHECK(thumbnail_size(1000, 500, 2000, 600, thumb_method::scale) == p{1000, 500});
  CHECK(thumbnail_size(10000, 1, 32, 32, thumb_method::scale) == p{32, 1});
  CHECK(thumbnail_size(1, 10000, 32, 32, thumb_method::scale) == p{1, 32});
}

TEST_CASE("thumbnail_size: crop has the box's aspect ratio") {
  using p = std::pair<int, int>;
  CHECK(thumbnail_size(4000, 3000, 32, 32, thumb_method::crop) == p{32, 32});
  CHECK(thumbnail_size(4000, 3000, 96, 96, thumb_method::crop) == p{96, 96});
  CHECK(thumbnail_size(96, 96, 96, 96, thumb_method::crop) == p{96, 96});
  // Smaller than the box: the largest centred region, unscaled.
  CHECK(thumbnail_size(20, 10, 96, 96, thumb_method::crop) == p{10, 10});
  CHECK(thumbnail_size(10, 20, 96, 96, thumb_method::crop) == p{10, 10});
  CHECK(thumbnail_size(100, 50, 96, 96, thumb_method::crop) == p{50, 50});
  CHECK(thumbnail_size(300, 100, 640, 480, thumb_method::crop) == p{133, 100});
  CHECK(thumbnail_size(1, 1, 32, 32, thumb_method::crop) == p{1, 1});
  CHECK(thumbnail_size(1, 500, 96, 32, thumb_method::crop) == p{1, 1});
}

// ---- make_thumbnail: sizes and formats ----------------------------------------

TEST_CASE("thumbnail: large JPEG, scale and crop") {
  auto t = make_thumbnail(big_jpeg(), 320, 240, thumb_method::scale, false);
  auto d = decode(t);
  CHECK(t.content_type == "image/jpeg");
  CHECK(d.loader == "jpegload_buffer");
  CHECK(d.width == 320);
  CHECK(d.height == 240);
  CHECK(t.width == 320);
  CHECK(t.height == 240);

  t = make_thumbnail(big_jpeg(), 32, 32, thumb_method::crop, false);
  d = decode(t);
  CHECK(d.loader == "jpegload_buffer");
  CHECK(d.width == 32);
  CHECK(d.height == 32);

  std::string wide = save(make_image(1000, 500), "wide.jpg");
  d = decode(make_thumbnail(wide, 800, 600, thumb_method::scale, false));
  CHECK(d.width == 800);
  CHECK(d.height == 400);
  d = decode(make_thumbnail(wide, 640, 480, thumb_method::crop, false));
  CHECK(d.width == 640);
  CHECK(d.height == 480);
}

TEST_CASE("thumbnail: small PNG is never upscaled") {
  std::string small = save(make_image(20, 10), "small.png");
  auto t = make_thumbnail(small, 96, 96, thumb_method::crop, false);
  auto d = decode(t);
  CHECK(t.content_type == "image/png");
  CHECK(d.loader == "pngload_buffer");
  CHECK(d.width == 10);
  CHECK(d.height == 10);
  d = decode(make_thumbnail(small, 96, 96, thumb_method::scale, false));
  CHECK(d.width == 20);
  CHECK(d.height == 10);
}

TEST_CASE("thumbnail: every size is what thumbnail_size says") {
  const std::pair<int, int> sources[] = {{1, 1}, {7, 3}, {20, 10}, {33, 77}, {100, 50}, {301, 199}};
  struct req {
    int w, h;
    thumb_method m;
  };
  const req reqs[] = {{32, 32, thumb_method::crop},   {96, 96, thumb_method::crop},
                      {5, 17, thumb_method::crop},    {1, 1, thumb_method::crop},
                      {320, 240, thumb_method::scale}, {10, 10, thumb_method::scale},
                      {50, 20, thumb_method::scale},  {1, 1, thumb_method::scale}};
  for (const auto& src : sources) {
    const int sw = src.first, sh = src.second;
    std::string name = "g" + std::to_string(sw) + "x" + std::to_string(sh) + ".png";
    std::string path = save(make_image(sw, sh), name);
    for (const auto& r : reqs) {
      CAPTURE(sw);
      CAPTURE(sh);
      CAPTURE(r.w);
      CAPTURE(r.h);
      auto want = thumbnail_size(sw, sh, r.w, r.h, r.m);
      auto t = make_thumbnail(path, r.w, r.h, r.m, false);
      auto d = decode(t);
      CHECK(d.width == want.first);
      CHECK(d.height == want.second);
      CHECK(t.width == want.first);
      CHECK(t.height == want.second);
    }
  }
}

TEST_CASE("thumbnail: PNG alpha is kept, WebP and TIFF follow Synapse's types") {
  std::string png = save(make_image(200, 100, true), "alpha.png");
  auto d = decode(make_thumbnail(png, 96, 96, thumb_method::crop, false));
  CHECK(d.loader == "pngload_buffer");
  CHECK(d.alpha);
  CHECK(d.bands == 4);

  std::string webp = save(make_image(200, 100, true), "alpha.webp");
  auto t = make_thumbnail(webp, 96, 96, thumb_method::scale, false);
  d = decode(t);
  CHECK(t.content_type == "image/jpeg");
  CHECK(d.loader == "jpegload_buffer");
  CHECK(d.width == 96);
  CHECK(d.height == 48);
  CHECK_FALSE(d.alpha);

  std::string tif = save(make_image(200, 100), "plain.tif");
  d = decode(make_thumbnail(tif, 50, 50, thumb_method::scale, false));
  CHECK(d.loader == "jpegload_buffer");
  std::string tifa = save(make_image(200, 100, true), "alpha.tif");
  d = decode(make_thumbnail(tifa, 50, 50, thumb_method::scale, false));
  CHECK(d.loader == "pngload_buffer");
  CHECK(d.alpha);
}

TEST_CASE("thumbnail: EXIF orientation is applied") {
  VipsImage* t = nullptr;
  image_ref img = make_image(400, 200);
  check_vips(vips_copy(img.p, &t, nullptr));
  image_ref turned(t);
  vips_image_set_int(t, VIPS_META_ORIENTATION, 6);
  std::string path = save(turned, "rotated.jpg");
  auto info = probe(path);
  REQUIRE(info);
  CHECK(info->width == 200);
  CHECK(info->height == 400);
  auto d = decode(make_thumbnail(path, 100, 100, thumb_method::scale, false));
  CHECK(d.width == 50);
  CHECK(d.height == 100);
  d = decode(make_thumbnail(path, 100, 50, thumb_method::crop, false));
  CHECK(d.width == 100);
  CHECK(d.height == 50);
  // Decoded once, rotated once: the second comes from the upright first.
  auto ts = make_thumbnails(path, {{100, 100, thumb_method::scale},  //
                                   {160, 90, thumb_method::scale}});
  CHECK(decode(ts[0]).width == 50);
  CHECK(decode(ts[0]).height == 100);
  CHECK(decode(ts[1]).width == 45);
  CHECK(decode(ts[1]).height == 90);
}

// ---- animation ----------------------------------------------------------------

TEST_CASE("thumbnail: animated GIF") {
  std::string gif = save(make_animation(60, 40, 5), "anim.gif");
  auto info = probe(gif);
  REQUIRE(info);
  CHECK(info->format == "gif");
  CHECK(info->pages == 5);
  CHECK(info->width == 60);
  CHECK(info->height == 40);

  auto t = make_thumbnail(gif, 32, 32, thumb_method::crop, true);
  CHECK(t.content_type == "image/webp");
  auto d = decode(t);
  CHECK(d.loader == "webpload_buffer");
  CHECK(d.pages == 5);
  CHECK(d.width == 32);
  CHECK(d.height == 32);
  CHECK(t.height == 32);
  CHECK(d.delays == std::vector<int>(5, 100));

  d = decode(make_thumbnail(gif, 30, 30, thumb_method::scale, true));
  CHECK(d.pages == 5);
  CHECK(d.width == 30);
  CHECK(d.height == 20);

  t = make_thumbnail(gif, 32, 32, thumb_method::crop, false);
  CHECK(t.content_type == "image/png");
  d = decode(t);
  CHECK(d.loader == "pngload_buffer");
  CHECK(d.pages == 1);
  CHECK(d.width == 32);
  CHECK(d.height == 32);

  // Frames count against the pixel limit only when animating.
  thumbnail_limits lim;
  lim.max_image_pixels = 10000;  // one frame is 2400, five are 12000
  CHECK_THROWS_AS(make_thumbnail(gif, 32, 32, thumb_method::crop, true, lim), thumbnail_error);
  CHECK_NOTHROW(make_thumbnail(gif, 32, 32, thumb_method::crop, false, lim));
}

TEST_CASE("thumbnail: animated WebP stays animated") {
  std::string webp = save(make_animation(80, 40, 3), "anim.webp");
  auto t = make_thumbnail(webp, 20, 20, thumb_method::crop, true);
  CHECK(t.content_type == "image/webp");
  auto d = decode(t);
  CHECK(d.pages == 3);
  CHECK(d.width == 20);
  CHECK(d.height == 20);
  CHECK(make_thumbnail(webp, 20, 20, thumb_method::crop, false).content_type == "image/jpeg");
}

// ---- hostile and broken input --------------------------------------------------

TEST_CASE("thumbnail: truncated JPEG throws") {
  std::string whole = read_file(save(make_image(1000, 500, false, 20), "whole.jpg"));
  std::string half = tmp("half.jpg");
  write_file(half, whole.substr(0, whole.size() / 2));
  CHECK_THROWS_AS(make_thumbnail(half, 320, 240, thumb_method::scale, false), thumbnail_error);
  CHECK_THROWS_AS(make_thumbnail(half, 32, 32, thumb_method::crop, false), thumbnail_error);
  // The header is intact, so it still probes as a JPEG.
  CHECK(probe(half).has_value());
}

TEST_CASE("thumbnail: random bytes, text, SVG and missing files") {
  std::mt19937 rng(42);
  std::string noise(4096, '\0');
  for (auto& c : noise)
    c = char(rng());
  std::string junk = tmp("junk.jpg");
  write_file(junk, noise);
  CHECK_THROWS_AS(make_thumbnail(junk, 32, 32, thumb_method::crop, false), thumbnail_error);
  CHECK_FALSE(probe(junk));

  std::string text = tmp("note.txt");
  write_file(text, "hello, this is not an image\n");
  CHECK_FALSE(probe(text));
  CHECK_THROWS_AS(make_thumbnail(text, 32, 32, thumb_method::crop, false), thumbnail_error);

  // libvips reads SVG, but a vector image has no size to limit: refused.
  std::string svg = tmp("x.svg");
  write_file(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"/>");
  CHECK_FALSE(probe(svg));
  CHECK_THROWS_AS(make_thumbnail(svg, 32, 32, thumb_method::crop, false), thumbnail_error);

  CHECK_FALSE(probe(tmp("does-not-exist.png")));
  CHECK_THROWS_AS(make_thumbnail(tmp("does-not-exist.png"), 32, 32, thumb_method::crop, false),
                  thumbnail_error);
  CHECK_THROWS_AS(make_thumbnail(big_jpeg(), 0, 32, thumb_method::crop, false), thumbnail_error);
}

namespace {
std::string png_chunk(const char* type, const std::string& data) {
  auto be32 = [](uint32_t v) {
    return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  };
  std::string body = std::string(type, 4) + data;
  uLong crc = crc32(0, reinterpret_cast<const Bytef*>(body.data()), uInt(body.size()));
  return be32(uint32_t(data.size())) + body + be32(uint32_t(crc));
}
} // namespace

TEST_CASE("thumbnail: a PNG header claiming 100000x100000 is refused before decoding") {
  auto be32 = [](uint32_t v) {
    return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  };
  std::string ihdr = be32(100000) + be32(100000) + std::string{8, 6, 0, 0, 0};
  // A little real zlib data so libpng's header read reaches the IDAT.
  std::string zeros(1000, '\0');
  uLongf zlen = compressBound(zeros.size());
  std::string z(zlen, '\0');
  compress(reinterpret_cast<Bytef*>(&z[0]), &zlen, reinterpret_cast<const Bytef*>(zeros.data()),
           zeros.size());
  z.resize(zlen);
  std::string png = std::string("\x89PNG\r\n\x1a\n", 8) + png_chunk("IHDR", ihdr) +
                    png_chunk("IDAT", z) + png_chunk("IEND", "");
  std::string path = tmp("bomb.png");
  write_file(path, png);

  auto info = probe(path);
  REQUIRE(info);
  CHECK(info->width == 100000);
  CHECK(info->height == 100000);

  auto start = std::chrono::steady_clock::now();
  std::string msg;
  try {
    make_thumbnail(path, 32, 32, thumb_method::crop, false);
  } catch (const thumbnail_error& e) {
    msg = e.what();
  }
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                  .count();
  CHECK(msg.find("pixels") != std::string::npos);
  MESSAGE("100000x100000 PNG refused in " << ms << " ms: " << msg);
}

TEST_CASE("thumbnail: a file name with libvips option syntax is just a name") {
  std::string path = save(make_image(40, 20), "odd[n=2,page=1].png");
  auto d = decode(make_thumbnail(path, 10, 10, thumb_method::crop, false));
  CHECK(d.width == 10);
  CHECK(d.height == 10);
}

// ---- concurrency and speed ----------------------------------------------------

TEST_CASE("thumbnail: concurrent calls from several threads") {
  std::string path = save(make_image(600, 400, false, 10), "shared.jpg");
  std::string half = tmp("shared_half.jpg");
  std::string whole = read_file(path);
  write_file(half, whole.substr(0, whole.size() / 2));
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0), failed(4, 0);
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, i] {
      for (int k = 0; k < 5; ++k) {
        try {
          auto t = make_thumbnail(path, 96, 96, thumb_method::crop, false);
          if (t.width == 96 && t.height == 96 && !t.bytes.empty())
            ++ok[size_t(i)];
        } catch (const thumbnail_error&) {
        }
        try {
          make_thumbnail(half, 96, 96, thumb_method::crop, false);
        } catch (const thumbnail_error&) {
          ++failed[size_t(i)];
        }
      }
    });
  for (auto& t : threads)
    t.join();
  for (int i = 0; i < 4; ++i) {
    CHECK(ok[size_t(i)] == 5);
    CHECK(failed[size_t(i)] == 5);
  }
}

TEST_CASE("thumbnails: Synapse's five defaults of a 4000x3000 JPEG, decoded once") {
  // Synapse's default thumbnail_sizes.
  const std::vector<thumbnail_request> defaults = {{32, 32, thumb_method::crop},
                                                   {96, 96, thumb_method::crop},
                                                   {320, 240, thumb_method::scale},
                                                   {640, 480, thumb_method::scale},
                                                   {800, 600, thumb_method::scale}};
  const std::string& path = big_jpeg();
  using clock = std::chrono::steady_clock;
  auto ms_since = [](clock::time_point t) {
    return std::chrono::duration<double, std::milli>(clock::now() - t).count();
  };

  auto start = clock::now();
  auto batch = make_thumbnails(path, defaults);
  const double batch_ms = ms_since(start);
  REQUIRE(batch.size() == defaults.size());
  for (size_t i = 0; i < defaults.size(); ++i) {
    CAPTURE(i);
    auto d = decode(batch[i]);
    CHECK(d.loader == "jpegload_buffer");
    CHECK(d.width == defaults[i].width);
    CHECK(d.height == defaults[i].height);
  }

  start = clock::now();
  for (const auto& r : defaults) {
    auto t = make_thumbnail(path, r.width, r.height, r.method, false);
    CHECK(t.width == r.width);
    CHECK(t.height == r.height);
  }
  const double single_ms = ms_since(start);
  MESSAGE("five default thumbnails of a 4000x3000 JPEG (" << read_file(path).size() / 1024
          << " KiB): make_thumbnails " << batch_ms << " ms, five make_thumbnail calls "
          << single_ms << " ms");
}

TEST_CASE("thumbnails: sizes past the shared decode stream alone") {
  std::string path = save(make_image(2050, 2050), "square.jpg");  // 4.2M pixels
  auto ts = make_thumbnails(path, {{32, 32, thumb_method::crop},
                                   {3000, 3000, thumb_method::scale},
                                   {64, 64, thumb_method::crop}});
  REQUIRE(ts.size() == 3);
  const std::pair<int, int> want[] = {{32, 32}, {2050, 2050}, {64, 64}};
  for (size_t i = 0; i < 3; ++i) {
    CAPTURE(i);
    auto d = decode(ts[i]);
    CHECK(d.width == want[i].first);
    CHECK(d.height == want[i].second);
  }
}

TEST_CASE("thumbnails: a batch mixes still and animated requests in order") {
  std::string gif = save(make_animation(60, 40, 4), "batch.gif");
  auto ts = make_thumbnails(gif, {{32, 32, thumb_method::crop, true},
                                  {20, 20, thumb_method::scale, false},
                                  {96, 96, thumb_method::crop, false}});
  REQUIRE(ts.size() == 3);
  CHECK(ts[0].content_type == "image/webp");
  CHECK(decode(ts[0]).pages == 4);
  CHECK(ts[1].content_type == "image/png");
  CHECK(decode(ts[1]).width == 20);
  CHECK(decode(ts[1]).height == 13);
  CHECK(decode(ts[2]).width == 40);
  CHECK(decode(ts[2]).height == 40);
  CHECK(make_thumbnails(gif, {}).empty());
}
