// actors/media/thumbnailer.cpp -- thumbnails with libvips: read the header,
// refuse what is too big, then let vips_thumbnail_source shrink on load
// (JPEG DCT scaling, WebP scaled decode), crop, and encode as Synapse would.
#include "actors/media/thumbnailer.hpp"

#include <vips/vips.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <string_view>
#include <tuple>

namespace axon::media {

namespace {

// ---- constants --------------------------------------------------------------

/// Synapse encodes JPEG thumbnails at quality 80 (media/thumbnailer.py).
constexpr int jpeg_quality = 80;
constexpr int webp_quality = 80;
constexpr int png_compression = 6;

/// make_thumbnails decodes once for all still thumbnails resized to at most
/// this many pixels (about 16 MB held in memory); larger ones stream alone.
constexpr std::int64_t shared_max_pixels = 4 * 1024 * 1024;

/// Loader options for every read: truncated input is an error, not a grey
/// bottom half (corrupt JPEG data fails too, after libvips' limit of 100
/// libjpeg warnings). vips_thumbnail_source does not forward its own
/// fail_on to the loader in 8.14, so it goes in the option string.
constexpr const char* still_options = "fail_on=truncated";
constexpr const char* animated_options = "fail_on=truncated,n=-1";

/// The loaders we trust with untrusted uploads and the format each reads.
/// Vector formats (SVG, PDF) have no pixel size to limit, and the rest are
/// rarely uploaded and less hardened; Synapse does not thumbnail them either.
struct readable_format {
  const char* loader;
  const char* format;
};
constexpr readable_format readable_formats[] = {
    {"jpegload_source", "jpeg"}, {"pngload_source", "png"},
    {"gifload_source", "gif"},   {"webpload_source", "webp"},
    {"tiffload_source", "tiff"}, {"heifload_source", "heif"},
};

// ---- RAII for GLib memory ---------------------------------------------------

struct unref_gobject {
  void operator()(void* p) const {
    if (p)
      g_object_unref(p);
  }
};
using image_ptr = std::unique_ptr<VipsImage, unref_gobject>;
using source_ptr = std::unique_ptr<VipsSource, unref_gobject>;

struct free_gmem {
  void operator()(void* p) const { g_free(p); }
};
using gmem_ptr = std::unique_ptr<void, free_gmem>;

struct unref_area {
  void operator()(VipsArea* p) const {
    if (p)
      vips_area_unref(p);
  }
};
using area_ptr = std::unique_ptr<VipsArea, unref_area>;

/// A second reference to `img`.
image_ptr share(const image_ptr& img) {
  g_object_ref(img.get());
  return image_ptr(img.get());
}

// ---- errors -----------------------------------------------------------------

/// Takes (reads and clears, atomically) libvips' error buffer, keeping its
/// last lines. The buffer is process-wide: under concurrency it may hold
/// another thread's message too, so it is only ever text for humans.
std::string take_vips_error() {
  gmem_ptr copy(vips_error_buffer_copy());
  std::string msg = copy ? static_cast<const char*>(copy.get()) : "";
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' '))
    msg.pop_back();
  size_t start = msg.size();
  for (int lines = 0; lines < 3 && start != std::string::npos && start > 0; ++lines)
    start = msg.rfind('\n', start - 1);
  if (start != std::string::npos && start < msg.size())
    msg.erase(0, start + 1);
  std::replace(msg.begin(), msg.end(), '\n', ';');
  return msg;
}

[[noreturn]] void fail_vips(const std::string& what) {
  std::string detail = take_vips_error();
  throw thumbnail_error(detail.empty() ? what : what + ": " + detail);
}

// ---- reading ----------------------------------------------------------------

/// What the header says, as make_thumbnails needs it.
struct header {
  image_info info;     // displayed size (orientation applied)
  int raw_width = 0;   // size as stored
  int raw_height = 0;  // one page
  bool has_icc = false;
};

source_ptr open_source(const std::string& path) {
  // A file source takes the name as is: no "[options]" parsing as in
  // vips_image_new_from_file.
  source_ptr src(vips_source_new_from_file(path.c_str()));
  if (!src)
    fail_vips("cannot open image file");
  return src;
}

/// Reads the header of `path` through one of readable_formats, decoding no
/// pixels. Throws thumbnail_error.
header read_header(const std::string& path) {
  source_ptr src = open_source(path);
  const char* type_name = vips_foreign_find_load_source(src.get());
  if (!type_name)
    fail_vips("not an image in a format that can be read");
  // A class name such as VipsForeignLoadNsgifSource; its nickname
  // (gifload_source) stays the same whichever library backs the loader.
  const char* loader = vips_nickname_find(g_type_from_name(type_name));
  if (!loader)
    loader = type_name;
  auto rf = std::find_if(
      std::begin(readable_formats), std::end(readable_formats),
      [&](const readable_format& f) { return std::string_view(loader) == f.loader; });
  if (rf == std::end(readable_formats)) {
    vips_error_clear();
    throw thumbnail_error(std::string("image format not supported for thumbnails (") +
                          loader + ")");
  }
  VipsImage* raw = nullptr;
  if (vips_call(loader, src.get(), &raw, "access", VIPS_ACCESS_SEQUENTIAL, "fail_on",
                VIPS_FAIL_ON_TRUNCATED, nullptr))
    fail_vips("cannot read image header");
  image_ptr img(raw);
  header h;
  h.raw_width = img->Xsize;
  h.raw_height = img->Ysize;
  h.has_icc = vips_image_get_typeof(img.get(), VIPS_META_ICC_NAME) != 0;
  h.info.format = rf->format;
  h.info.pages = std::max(1, vips_image_get_n_pages(img.get()));
  const bool swap = vips_image_get_orientation_swap(img.get());
  h.info.width = swap ? h.raw_height : h.raw_width;
  h.info.height = swap ? h.raw_width : h.raw_height;
  return h;
}

// ---- geometry ---------------------------------------------------------------

/// A request worked out against one source: resize every frame to
/// resize_w x resize_h, then keep the centred out_w x out_h.
struct plan {
  int out_w = 0, out_h = 0;
  int resize_w = 0, resize_h = 0;
};

plan make_plan(int src_w, int src_h, const thumbnail_request& r) {
  plan p;
  std::tie(p.out_w, p.out_h) = thumbnail_size(src_w, src_h, r.width, r.height, r.method);
  p.resize_w = p.out_w;
  p.resize_h = p.out_h;
  if (r.method != thumb_method::crop)
    return p;
  const std::int64_t a = src_w, b = src_h, w = p.out_w, h = p.out_h;
  if (a >= r.width && b >= r.height) {
    // Synapse's Thumbnailer.crop: scale to cover the box.
    if (w * b > h * a)
      p.resize_h = int(std::max(h, w * b / a));
    else
      p.resize_w = int(std::max(w, h * a / b));
  } else {
    p.resize_w = src_w;
    p.resize_h = src_h;
  }
  return p;
}

// ---- steps ------------------------------------------------------------------

/// `path` resized to w x h per frame, shrinking on load where the format
/// allows. Lazy: pixels are decoded when the result is written.
image_ptr load_resized(const std::string& path, const header& hd, int w, int h,
                       bool animate) {
  source_ptr src = open_source(path);
  VipsImage* out = nullptr;
  // size=force: exactly w x h (never above the source, by construction).
  // Frames of an animation are not rotated: vips would turn the strip.
  int rc = hd.has_icc && !animate
               ? vips_thumbnail_source(src.get(), &out, w, "height", h, "size",
                                       VIPS_SIZE_FORCE, "option_string", still_options,
                                       "export_profile", "srgb", nullptr)
               : vips_thumbnail_source(src.get(), &out, w, "height", h, "size",
                                       VIPS_SIZE_FORCE, "no_rotate", animate ? TRUE : FALSE,
                                       "option_string",
                                       animate ? animated_options : still_options, nullptr);
  if (rc)
    fail_vips("cannot read image");
  return image_ptr(out);
}

/// `mem` (upright, sRGB, in memory) resized to w x h.
image_ptr resize_from(const image_ptr& mem, int w, int h) {
  if (mem->Xsize == w && mem->Ysize == h)
    return share(mem);
  VipsImage* out = nullptr;
  if (vips_thumbnail_image(mem.get(), &out, w, "height", h, "size", VIPS_SIZE_FORCE,
                           "no_rotate", TRUE, nullptr))
    fail_vips("cannot resize image");
  return image_ptr(out);
}

/// Cuts the centred want_w x want_h rectangle out of every page of `in`
/// (page height `page_h`); `in` itself when it is that size already.
image_ptr crop_centre(image_ptr in, int page_h, int pages, int want_w, int want_h) {
  const int w = std::min(want_w, in->Xsize), h = std::min(want_h, page_h);
  const int left = (in->Xsize - w) / 2, top = (page_h - h) / 2;  // Synapse's
  if (w == in->Xsize && h == page_h)
    return in;
  VipsImage* out = nullptr;
  if (pages == 1 || h == page_h) {
    // One rectangle does it: a still image, or only columns go.
    if (vips_extract_area(in.get(), &out, left, top, w, h == page_h ? in->Ysize : h,
                          nullptr))
      fail_vips("cannot crop thumbnail");
    return image_ptr(out);
  }
  // Rows go from every frame: cut each page and stack them again.
  std::vector<image_ptr> parts;
  std::vector<VipsImage*> raw;
  for (int i = 0; i < pages; ++i) {
    if (vips_extract_area(in.get(), &out, left, i * page_h + top, w, h, nullptr))
      fail_vips("cannot crop thumbnail frame");
    parts.emplace_back(out);
    raw.push_back(out);
  }
  if (vips_arrayjoin(raw.data(), &out, pages, "across", 1, nullptr))
    fail_vips("cannot join thumbnail frames");
  image_ptr joined(out);
  if (vips_copy(joined.get(), &out, nullptr))
    fail_vips("cannot join thumbnail frames");
  vips_image_set_int(out, VIPS_META_PAGE_HEIGHT, h);
  return image_ptr(out);
}

std::string take_buffer(void* buf, size_t len) {
  gmem_ptr owned(buf);
  return std::string(static_cast<const char*>(buf), len);
}

thumbnail encode_jpeg(image_ptr img) {
  if (vips_image_hasalpha(img.get())) {
    // JPEG has no alpha: show transparent areas on white.
    const bool wide = img->Type == VIPS_INTERPRETATION_RGB16 ||
                      img->Type == VIPS_INTERPRETATION_GREY16;
    const double white = wide ? 65535 : 255;
    area_ptr bg(VIPS_AREA(vips_array_double_newv(3, white, white, white)));
    VipsImage* flat = nullptr;
    if (vips_flatten(img.get(), &flat, "background", bg.get(), nullptr))
      fail_vips("cannot flatten alpha for JPEG");
    img.reset(flat);
  }
  void* buf = nullptr;
  size_t len = 0;
  if (vips_jpegsave_buffer(img.get(), &buf, &len, "Q", jpeg_quality, "strip", TRUE,
                           "optimize_coding", TRUE, nullptr))
    fail_vips("cannot make JPEG thumbnail");
  return {take_buffer(buf, len), "image/jpeg", img->Xsize, img->Ysize};
}

thumbnail encode_png(const image_ptr& img) {
  void* buf = nullptr;
  size_t len = 0;
  if (vips_pngsave_buffer(img.get(), &buf, &len, "compression", png_compression,
                          "strip", TRUE, nullptr))
    fail_vips("cannot make PNG thumbnail");
  return {take_buffer(buf, len), "image/png", img->Xsize, img->Ysize};
}

thumbnail encode_animated_webp(const image_ptr& img) {
  void* buf = nullptr;
  size_t len = 0;
  if (vips_webpsave_buffer(img.get(), &buf, &len, "Q", webp_quality, "strip", TRUE,
                           nullptr))
    fail_vips("cannot make animated WebP thumbnail");
  return {take_buffer(buf, len), "image/webp", img->Xsize,
          vips_image_get_page_height(img.get())};
}

/// Crops a still image resized for `p` and encodes it with Synapse's
/// choice of type (media_repository.py, THUMBNAIL_SUPPORTED_MEDIA_FORMAT_MAP):
/// JPEG and WebP to JPEG, PNG and GIF to PNG, others by alpha. Pixels are
/// decoded here, in the encoder, if they were not already.
thumbnail finish_still(image_ptr resized, const plan& p, const std::string& format) {
  const int page_h = resized->Ysize;
  image_ptr img = crop_centre(std::move(resized), page_h, 1, p.out_w, p.out_h);
  const bool png = format == "png" || format == "gif" ||
                   (format != "jpeg" && format != "webp" && vips_image_hasalpha(img.get()));
  return png ? encode_png(img) : encode_jpeg(std::move(img));
}

thumbnail make_animated(const std::string& path, const header& hd, const plan& p) {
  image_ptr img = load_resized(path, hd, p.resize_w, p.resize_h, true);
  // Every frame must be there, or the pixel check did not cover the load.
  const int page_h = vips_image_get_page_height(img.get());
  if (img->Ysize != page_h * hd.info.pages)
    throw thumbnail_error("animated image frames do not match its header");
  return encode_animated_webp(crop_centre(std::move(img), page_h, hd.info.pages, p.out_w, p.out_h));
}

void check_pixels(const header& hd, bool animate, const thumbnail_limits& lim) {
  const std::int64_t pixels = std::int64_t(hd.info.width) * hd.info.height *
                              (animate ? std::int64_t(hd.info.pages) : 1);
  if (pixels > lim.max_image_pixels)
    throw thumbnail_error("image has " + std::to_string(pixels) +
                          " pixels, more than max_image_pixels (" +
                          std::to_string(lim.max_image_pixels) + ")");
}

std::vector<thumbnail> make_all(const std::string& path,
                                const std::vector<thumbnail_request>& requests,
                                const thumbnail_limits& lim) {
  init_image_library();
  for (const auto& r : requests)
    if (r.width < 1 || r.height < 1)
      throw thumbnail_error("thumbnail width and height must be at least 1");
  const header hd = read_header(path);
  const image_info& info = hd.info;
  const bool can_animate = info.pages > 1 && (info.format == "gif" || info.format == "webp");

  std::vector<thumbnail> out(requests.size());
  std::vector<std::pair<size_t, plan>> stills;
  for (size_t i = 0; i < requests.size(); ++i) {
    const auto& r = requests[i];
    const bool animate = r.animated && can_animate;
    check_pixels(hd, animate, lim);
    if (animate)
      out[i] = make_animated(path, hd, make_plan(hd.raw_width, hd.raw_height, r));
    else
      stills.emplace_back(i, make_plan(info.width, info.height, r));
  }
  // Largest first: the first that may be shared holds the pixels the
  // smaller ones are made from (every resize keeps the source's aspect).
  auto area = [](const plan& p) { return std::int64_t(p.resize_w) * p.resize_h; };
  std::sort(stills.begin(), stills.end(),
            [&](const auto& x, const auto& y) { return area(x.second) > area(y.second); });
  auto first_shared = std::find_if(stills.begin(), stills.end(), [&](const auto& s) {
    return area(s.second) <= shared_max_pixels;
  });
  if (stills.end() - first_shared < 2)
    first_shared = stills.end();
  // Stream straight from the file: nothing larger than a few rows is held.
  for (auto it = stills.begin(); it != first_shared; ++it) {
    const plan& p = it->second;
    out[it->first] =
        finish_still(load_resized(path, hd, p.resize_w, p.resize_h, false), p, info.format);
  }
  if (first_shared != stills.end()) {
    // Decode once at the largest size wanted, then make the rest from that.
    const plan& big = first_shared->second;
    image_ptr lazy = load_resized(path, hd, big.resize_w, big.resize_h, false);
    image_ptr mem(vips_image_copy_memory(lazy.get()));
    if (!mem)
      fail_vips("cannot read image");
    for (auto it = first_shared; it != stills.end(); ++it)
      out[it->first] =
          finish_still(resize_from(mem, it->second.resize_w, it->second.resize_h), it->second,
                       info.format);
  }
  // Warnings from successful reads stay in the buffer; clear them so it
  // does not fill (it holds 10 KB) and later errors keep their details.
  vips_error_clear();
  return out;
}

} // namespace

// ---- public -----------------------------------------------------------------

void init_image_library() {
  static std::once_flag once;
  static std::string init_error;
  std::call_once(once, [] {
    if (vips_init("axon")) {
      init_error = "cannot start libvips: " + take_vips_error();
      return;
    }
    // No operation cache: it would keep decoded images and open files
    // alive, and could answer for a path whose file has changed.
    vips_cache_set_max(0);
    vips_cache_set_max_mem(0);
    vips_cache_set_max_files(0);
    // One worker per pipeline: memory per image is a few tile rows, and
    // request threads already give the parallelism.
    vips_concurrency_set(1);
    // Loaders libvips itself marks as unsafe for untrusted input.
    vips_block_untrusted_set(TRUE);
    // libvips' warnings about a bad file go to GLib's log (stderr, several
    // lines per file); the failure they lead to is what callers log, once.
    g_log_set_handler("VIPS", static_cast<GLogLevelFlags>(G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE),
                      [](const gchar*, GLogLevelFlags, const gchar*, gpointer) {}, nullptr);
  });
  if (!init_error.empty())
    throw thumbnail_error(init_error);
}

std::optional<image_info> probe(const std::string& path) {
  try {
    init_image_library();
    auto info = read_header(path).info;
    vips_error_clear();
    return info;
  } catch (const thumbnail_error&) {
    return std::nullopt;
  }
}

std::pair<int, int> thumbnail_size(int src_w, int src_h, int width, int height,
                                   thumb_method m) {
  const std::int64_t a = std::max(1, src_w), b = std::max(1, src_h);
  const std::int64_t w = std::max(1, width), h = std::max(1, height);
  auto at_least_1 = [](std::int64_t v) { return int(std::max<std::int64_t>(1, v)); };
  if (m == thumb_method::scale) {
    if (a <= w && b <= h)
      return {int(a), int(b)};
    // Synapse's Thumbnailer.aspect: the largest size of the source's aspect
    // ratio inside the box (inside the source too, here).
    if (w * b < h * a)
      return {int(w), at_least_1(w * b / a)};
    return {at_least_1(h * a / b), int(h)};
  }
  if (a >= w && b >= h)
    return {int(w), int(h)};
  // The spec: servers SHOULD NOT upscale. Take the largest centred region
  // of the requested aspect ratio from the source as it is.
  if (a * h > b * w)
    return {at_least_1(b * w / h), int(b)};
  return {int(a), at_least_1(a * h / w)};
}

thumbnail make_thumbnail(const std::string& path, int width, int height,
                         thumb_method m, bool animated, const thumbnail_limits& lim) {
  return std::move(make_all(path, {{width, height, m, animated}}, lim)[0]);
}

std::vector<thumbnail> make_thumbnails(const std::string& path,
                                       const std::vector<thumbnail_request>& requests,
                                       const thumbnail_limits& lim) {
  return make_all(path, requests, lim);
}

} // namespace axon::media
