// actors/media/routes.hpp -- the media repository's endpoints (media_handlers.cpp).
#pragma once

#include "actors/http/http_types.hpp"

#include <vector>

namespace axon::media {

/// Uploads (/_matrix/media/{v}/upload, /create, PUT upload), downloads and
/// thumbnails (the authenticated /_matrix/client/v1/media routes, the
/// legacy /_matrix/media/{v} ones, federation /_matrix/federation/v1/media),
/// and the config. Served where server_context::media is set.
void add_media_routes(std::vector<http::route>& out);

/// Synapse's media admin API (admin_handlers.cpp).
void add_media_admin_routes(std::vector<http::route>& out);

} // namespace axon::media
