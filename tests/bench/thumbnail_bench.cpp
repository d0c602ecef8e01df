// tests/bench/thumbnail_bench.cpp -- Synapse's five default thumbnails
// (32x32 crop, 96x96 crop, 320x240, 640x480, 800x600 scale) of a 4000x3000
// JPEG, as the media repository makes them at upload (make_thumbnails: one
// decode). The JPEG is made here with libvips: a gradient with light noise,
// quality 85, about what a phone camera's 12 MP photo weighs. Prints the
// min and median of RUNS runs.
//
//   axon-thumbnail-bench [RUNS]   (default 10)
#include "actors/media/thumbnailer.hpp"

#include <vips/vips.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

using namespace axon::media;

int main(int argc, char** argv) {
  int runs = argc > 1 ? std::max(1, std::atoi(argv[1])) : 10;
  init_image_library();
  std::string path = "/tmp/axon-thumbnail-bench-" + std::to_string(::getpid()) + ".jpg";
  {
    // 4000x3000 RGB: x/y gradients plus gaussian noise, saved as JPEG.
    VipsImage *xyz = nullptr, *bands[3] = {}, *rgb = nullptr, *noise = nullptr, *sum = nullptr, *out = nullptr;
    if (vips_xyz(&xyz, 4000, 3000, nullptr) || vips_extract_band(xyz, &bands[0], 0, nullptr) ||
        vips_extract_band(xyz, &bands[1], 1, nullptr) || vips_linear1(bands[0], &bands[2], 0.03, 20, nullptr) ||
        vips_bandjoin(bands, &rgb, 3, nullptr) || vips_gaussnoise(&noise, 4000, 3000, "sigma", 12.0, nullptr) ||
        vips_add(rgb, noise, &sum, nullptr) || vips_cast_uchar(sum, &out, nullptr) ||
        vips_jpegsave(out, path.c_str(), "Q", 85, nullptr)) {
      std::fprintf(stderr, "cannot make the test JPEG: %s\n", vips_error_buffer());
      return 1;
    }
    for (VipsImage* i : {xyz, bands[0], bands[1], bands[2], rgb, noise, sum, out})
      if (i) g_object_unref(i);
  }
  struct stat st {};
  ::stat(path.c_str(), &st);
  std::vector<thumbnail_request> sizes = {{32, 32, thumb_method::crop},
                                          {96, 96, thumb_method::crop},
                                          {320, 240, thumb_method::scale},
                                          {640, 480, thumb_method::scale},
                                          {800, 600, thumb_method::scale}};
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto made = make_thumbnails(path, sizes);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    if (made.size() != sizes.size()) return 1;
  }
  ::unlink(path.c_str());
  std::sort(ms.begin(), ms.end());
  std::printf("five thumbnails of a 4000x3000 JPEG (%ld KiB): min %.1f ms, median %.1f ms (%d runs)\n",
              static_cast<long>(st.st_size / 1024), ms.front(), ms[ms.size() / 2], runs);
  return 0;
}
