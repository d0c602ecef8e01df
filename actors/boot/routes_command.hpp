// actors/boot/routes_command.hpp -- `axon routes nginx|haproxy ...`: prints
// reverse-proxy configuration for a worker layout (config/routes_gen.hpp).
#pragma once

#include <string>
#include <vector>

namespace axon::boot {

/// `args` are the words after `routes`. Prints the config on stdout; errors
/// go to stderr naming the file and key. Returns the exit code (0, 1 on any
/// error, 2 on a usage error).
int routes_command(const std::vector<std::string>& args);

} // namespace axon::boot
