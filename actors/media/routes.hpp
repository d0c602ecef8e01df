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

class media_repository;

/// The instance's media repository; M_UNRECOGNIZED where it holds none.
media_repository& repo_of(http::request& req);
/// The server name and media id of a path: 400 M_INVALID_PARAM unless both
/// are valid (nothing a file path could be made of).
void check_media_ids(const std::string& server, const std::string& id);

} // namespace axon::media
