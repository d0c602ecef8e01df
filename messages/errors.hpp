// messages/errors.hpp -- the one table from Axon error to Matrix errcode and
// HTTP status (client-server API, "Standard error response").
//
// Request threads raise `matrix_error`; only the HTTP layer turns it into a
// response. Across actors the same code travels as a caf::error in category
// "matrix" (messages/caf_types.hpp).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace axon {

enum class errc : uint8_t {
  unknown = 1,        ///< M_UNKNOWN 500
  bad_request,        ///< M_UNKNOWN 400 (e.g. unknown login type)
  unrecognized,       ///< M_UNRECOGNIZED 404 (unknown endpoint)
  method_not_allowed, ///< M_UNRECOGNIZED 405 (known endpoint, wrong method)
  not_json,           ///< M_NOT_JSON 400
  bad_json,           ///< M_BAD_JSON 400
  missing_param,      ///< M_MISSING_PARAM 400
  invalid_param,      ///< M_INVALID_PARAM 400
  forbidden,          ///< M_FORBIDDEN 403
  unknown_token,      ///< M_UNKNOWN_TOKEN 401
  missing_token,      ///< M_MISSING_TOKEN 401
  user_in_use,        ///< M_USER_IN_USE 400
  invalid_username,   ///< M_INVALID_USERNAME 400
  limit_exceeded,     ///< M_LIMIT_EXCEEDED 429
  too_large,          ///< M_TOO_LARGE 413
  not_found,          ///< M_NOT_FOUND 404
  room_in_use,        ///< M_ROOM_IN_USE 400
  unsupported_room_version, ///< M_UNSUPPORTED_ROOM_VERSION 400
  user_deactivated,   ///< M_USER_DEACTIVATED 403
  unauthorized,       ///< M_UNAUTHORIZED 401 (UIA: more auth needed)
  bad_state,          ///< M_BAD_STATE 400
  invalid_room_state, ///< M_INVALID_ROOM_STATE 400
  unavailable,        ///< M_UNKNOWN 503: an instance needed for this request is down
  timeout,            ///< M_UNKNOWN 504: the owner did not answer in time
  conflict,           ///< M_UNKNOWN 409 (e.g. the room alias exists)
  server_controlled,  ///< M_BAD_JSON 405 (account data only the server may set)
  invalid_signature,  ///< M_INVALID_SIGNATURE 400 (e.g. a cross-signing key)
  wrong_room_keys_version, ///< M_WRONG_ROOM_KEYS_VERSION 403 (key backup: not the current version)
  bad_alias,          ///< M_BAD_ALIAS 400 (m.room.canonical_alias: not an alias of this room)
  bad_gateway,        ///< M_UNKNOWN 502: another server did not answer, or not sensibly
  incompatible_room_version, ///< M_INCOMPATIBLE_ROOM_VERSION 400 (a join: the server lacks the room's version)
  unable_to_authorise_join,  ///< M_UNABLE_TO_AUTHORISE_JOIN 400 (restricted room: no allowed membership)
  unable_to_grant_join,      ///< M_UNABLE_TO_GRANT_JOIN 400 (restricted room: nobody here may let them in)
  cannot_overwrite_media,    ///< M_CANNOT_OVERWRITE_MEDIA 409 (an id made by /create has its content)
  not_yet_uploaded,          ///< M_NOT_YET_UPLOADED 504 (an id made by /create, still empty)
  resource_limit_exceeded,   ///< M_RESOURCE_LIMIT_EXCEEDED 400 (media_upload_limits)
  too_large_remote,          ///< M_TOO_LARGE 502 (remote media over the size limit)
  url_blocked,               ///< M_UNKNOWN 403 (URL previews: url_preview_url_blocklist, as Synapse)
  last = url_blocked,
};

struct errc_info {
  const char* errcode;
  int status;
};

/// The Matrix errcode and HTTP status of `e`.
errc_info info(errc e);
const char* to_string(errc e);
/// The code whose errcode and status are these (another server's error,
/// passed on to a client), or bad_gateway when none is.
errc errc_from(const std::string& errcode, int status);

/// An error on a request thread; carries what the client will see.
class matrix_error : public std::runtime_error {
public:
  matrix_error(errc code, std::string msg) : std::runtime_error(std::move(msg)), code_(code) {}
  errc code() const { return code_; }
  /// Extra fields for the error body (e.g. retry_after_ms); JSON object text.
  std::string extra_json;

private:
  errc code_;
};

} // namespace axon
