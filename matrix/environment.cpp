#include "matrix/environment.hpp"

#include <sodium.h>

#include <chrono>
#include <stdexcept>

namespace axon::matrix {

namespace {

class system_env final : public environment {
public:
  system_env() {
    if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  }
  int64_t now_ms() override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
  uint32_t uniform(uint32_t upper) override { return randombytes_uniform(upper); }
};

} // namespace

environment& system_environment() {
  static system_env env;
  return env;
}

std::string random_string(size_t n, environment& env) {
  static constexpr char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  std::string out(n, '\0');
  for (auto& c : out) c = letters[env.uniform(sizeof(letters) - 1)];
  return out;
}

} // namespace axon::matrix
