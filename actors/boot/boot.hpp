// actors/boot/boot.hpp -- what `axon` does for each command.
#pragma once

#include <string>
#include <vector>

namespace axon::boot {

struct options {
  std::vector<std::string> config_files;
  bool generate_config = false;
  bool generate_keys = false;
  std::string server_name;
  std::string data_directory;
};

/// Writes a commented homeserver.yaml (unless one exists) and a signing key.
int generate_config(const options& opts);
/// Creates the signing key named by the config when it is missing.
int generate_keys(const options& opts);
/// Runs the instance until SIGINT/SIGTERM.
int run(const options& opts);

} // namespace axon::boot
