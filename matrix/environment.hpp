// matrix/environment.hpp -- the wall clock and randomness, injected.
//
// A server reads the system clock and libsodium's CSPRNG
// (system_environment); the placement simulation (tests/sim) gives every
// instance one simulated clock and a generator seeded by the run, so a seed
// replays exactly (event ids hash origin_server_ts; room ids, tokens and
// device ids are random).
#pragma once

#include <cstdint>
#include <string>

namespace axon::matrix {

class environment {
public:
  virtual ~environment() = default;
  /// Milliseconds since the Unix epoch.
  virtual int64_t now_ms() = 0;
  /// A uniformly random number in [0, upper); upper > 0.
  virtual uint32_t uniform(uint32_t upper) = 0;
};

/// The system clock and libsodium's randombytes_uniform.
environment& system_environment();

/// `n` letters from [a-zA-Z], uniformly from `env` (Synapse's
/// `stringutils.random_string`).
std::string random_string(size_t n, environment& env);

} // namespace axon::matrix
