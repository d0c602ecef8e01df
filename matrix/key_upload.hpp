// matrix/key_upload.hpp -- the shape of a POST /keys/upload body (client-server
// API "End-to-End Encryption" > "Key management API": DeviceKeys, KeyObject).
// Structure only, as Synapse checks it (its KeyUploadRequestBody): key strings
// and signatures are stored as given, never decoded or verified; clients
// verify what they fetch. Pure logic: callers turn a problem into its error.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace axon::matrix {

/// Why an upload was refused: M_BAD_JSON (wrong shape) or M_INVALID_PARAM
/// (well formed, but for another user or device).
struct upload_problem {
  enum kind_t { bad_json, invalid_param } kind;
  std::string message;
};

/// Checks a DeviceKeys object uploaded by `user_id`'s device `device_id`:
/// an object with string user_id and device_id naming the uploader,
/// `algorithms` a list of strings, `keys` an object of strings, `signatures`
/// an object of objects of strings. Other members are allowed.
std::optional<upload_problem> check_device_keys(const nlohmann::json& device_keys,
                                                const std::string& user_id,
                                                const std::string& device_id);

/// Checks a one_time_keys or fallback_keys map (`what` names it in the
/// message): an object from "algorithm:key_id" to a key string or a
/// KeyObject (`key` a string, `signatures` an object of objects of strings,
/// `fallback` a boolean when present).
std::optional<upload_problem> check_key_map(const nlohmann::json& keys, const std::string& what);

} // namespace axon::matrix
