#include "messages/errors.hpp"

namespace axon {

errc_info info(errc e) {
  switch (e) {
    case errc::unknown: return {"M_UNKNOWN", 500};
    case errc::bad_request: return {"M_UNKNOWN", 400};
    case errc::unrecognized: return {"M_UNRECOGNIZED", 404};
    case errc::method_not_allowed: return {"M_UNRECOGNIZED", 405};
    case errc::not_json: return {"M_NOT_JSON", 400};
    case errc::bad_json: return {"M_BAD_JSON", 400};
    case errc::missing_param: return {"M_MISSING_PARAM", 400};
    case errc::invalid_param: return {"M_INVALID_PARAM", 400};
    case errc::forbidden: return {"M_FORBIDDEN", 403};
    case errc::unknown_token: return {"M_UNKNOWN_TOKEN", 401};
    case errc::missing_token: return {"M_MISSING_TOKEN", 401};
    case errc::user_in_use: return {"M_USER_IN_USE", 400};
    case errc::invalid_username: return {"M_INVALID_USERNAME", 400};
    case errc::limit_exceeded: return {"M_LIMIT_EXCEEDED", 429};
    case errc::too_large: return {"M_TOO_LARGE", 413};
    case errc::not_found: return {"M_NOT_FOUND", 404};
    case errc::room_in_use: return {"M_ROOM_IN_USE", 400};
    case errc::unsupported_room_version: return {"M_UNSUPPORTED_ROOM_VERSION", 400};
    case errc::user_deactivated: return {"M_USER_DEACTIVATED", 403};
    case errc::unauthorized: return {"M_UNAUTHORIZED", 401};
    case errc::bad_state: return {"M_BAD_STATE", 400};
    case errc::invalid_room_state: return {"M_INVALID_ROOM_STATE", 400};
    case errc::unavailable: return {"M_UNKNOWN", 503};
    case errc::timeout: return {"M_UNKNOWN", 504};
    case errc::conflict: return {"M_UNKNOWN", 409};
    case errc::server_controlled: return {"M_BAD_JSON", 405};
    case errc::invalid_signature: return {"M_INVALID_SIGNATURE", 400};
    case errc::wrong_room_keys_version: return {"M_WRONG_ROOM_KEYS_VERSION", 403};
    case errc::bad_alias: return {"M_BAD_ALIAS", 400};
    case errc::bad_gateway: return {"M_UNKNOWN", 502};
    case errc::incompatible_room_version: return {"M_INCOMPATIBLE_ROOM_VERSION", 400};
    case errc::unable_to_authorise_join: return {"M_UNABLE_TO_AUTHORISE_JOIN", 400};
    case errc::unable_to_grant_join: return {"M_UNABLE_TO_GRANT_JOIN", 400};
    case errc::cannot_overwrite_media: return {"M_CANNOT_OVERWRITE_MEDIA", 409};
    case errc::not_yet_uploaded: return {"M_NOT_YET_UPLOADED", 504};
    case errc::resource_limit_exceeded: return {"M_RESOURCE_LIMIT_EXCEEDED", 400};
    case errc::too_large_remote: return {"M_TOO_LARGE", 502};
    case errc::url_blocked: return {"M_UNKNOWN", 403};
  }
  return {"M_UNKNOWN", 500};
}

const char* to_string(errc e) { return info(e).errcode; }

errc errc_from(const std::string& errcode, int status) {
  for (int i = static_cast<int>(errc::unknown); i <= static_cast<int>(errc::last); ++i) {
    auto e = static_cast<errc>(i);
    auto x = info(e);
    // M_UNKNOWN of any status is not passed on as if it were ours.
    if (x.status == status && errcode == x.errcode && errcode != "M_UNKNOWN") return e;
  }
  return errc::bad_gateway;
}

} // namespace axon
