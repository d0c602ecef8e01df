// actors/media/thumbnailer.hpp -- thumbnails for the media repository, made
// with libvips (client-server API, "Thumbnails" under the content repository;
// sizes, methods and output types as Synapse's media/thumbnailer.py and
// media_repository.py). Plain C++: no CAF, no libvips types in this header.
//
// Only JPEG, PNG, GIF, WebP, TIFF and HEIF/AVIF are read; other formats
// libvips knows (SVG, PDF, FITS, matrix, ...) are treated as "not an image".
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace axon::media {

/// The spec's two thumbnail methods (`method` query parameter).
enum class thumb_method { crop, scale };

/// What the header of an image file says, without decoding pixels.
struct image_info {
  /// Width and height as displayed, that is after the EXIF orientation is
  /// applied (thumbnails are rotated upright).
  int width = 0;
  int height = 0;
  /// Frames of an animated GIF or WebP, pages of a TIFF; 1 otherwise.
  int pages = 1;
  /// "jpeg", "png", "gif", "webp", "tiff" or "heif".
  std::string format;
};

/// An encoded thumbnail.
struct thumbnail {
  std::string bytes;
  /// MIME type of `bytes`: "image/jpeg", "image/png" or "image/webp".
  std::string content_type;
  int width = 0;
  /// Height of one frame for an animated thumbnail.
  int height = 0;
};

/// Limits applied to the source before any pixel is decoded.
struct thumbnail_limits {
  /// Largest width * height (* frames, for an animated thumbnail) of a
  /// source image. Default 32M, Synapse's `max_image_pixels`.
  std::int64_t max_image_pixels = 32 * 1024 * 1024;
};

/// Why a thumbnail could not be made; `what()` says so in words.
class thumbnail_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Starts libvips once per process: no operation cache, one worker thread
/// per image (bounded memory), loaders marked untrusted blocked. Safe to
/// call many times and from several threads; make_thumbnail and probe call
/// it themselves. Throws thumbnail_error if libvips cannot start.
void init_image_library();

/// Reads only the header of the file at `path`: std::nullopt when it is not
/// an image in one of the formats above, or cannot be read.
std::optional<image_info> probe(const std::string& path);

/// A thumbnail of the image file at `path` for a request of `width` x
/// `height` (each at least 1) with method `m`, never upscaled; its size is
/// thumbnail_size() of the displayed source size. JPEG and WebP sources give
/// JPEG (quality 80, metadata stripped, any alpha flattened on white), PNG
/// and GIF give PNG (alpha kept),
/// others JPEG, or PNG when they have alpha. With `animated` and a GIF or
/// WebP source of several frames, an animated WebP with every frame
/// thumbnailed alike. Thread-safe. Throws thumbnail_error on any failure:
/// not a supported image, more pixels than `lim` allows (checked from the
/// header, before decoding), truncated or corrupt data, bad size.
thumbnail make_thumbnail(const std::string& path, int width, int height,
                         thumb_method m, bool animated,
                         const thumbnail_limits& lim = {});

/// One thumbnail wanted, as in Synapse's `thumbnail_sizes` config.
struct thumbnail_request {
  int width = 0;
  int height = 0;
  thumb_method method = thumb_method::scale;
  bool animated = false;
};

/// make_thumbnail for each of `requests`, answered in the same order, as
/// Synapse makes the configured sizes at upload. The source is decoded once
/// for the still ones up to 4M pixels (the largest is made from the file,
/// the rest from it in memory); larger ones and animated ones are made
/// from the file each. Throws thumbnail_error if any fails.
std::vector<thumbnail> make_thumbnails(const std::string& path,
                                       const std::vector<thumbnail_request>& requests,
                                       const thumbnail_limits& lim = {});

/// The (width, height) make_thumbnail gives for a `src_w` x `src_h` source
/// and a `width` x `height` request, computed without any image. `scale`:
/// fits inside the box keeping the aspect ratio, or the source size when the
/// source fits already. `crop`: the box when the source covers it (scaled to
/// cover, centre cropped); otherwise the largest region of the box's aspect
/// ratio inside the unscaled source. Never below 1x1; all arguments must be
/// at least 1.
std::pair<int, int> thumbnail_size(int src_w, int src_h, int width, int height,
                                   thumb_method m);

} // namespace axon::media
