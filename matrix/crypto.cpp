#include "matrix/crypto.hpp"

#include "matrix/environment.hpp"

#include "matrix/base64.hpp"

#include <Poco/DigestEngine.h>
#include <Poco/HMACEngine.h>
#include <Poco/SHA1Engine.h>
#include <sodium.h>

#include <cstdlib>

namespace axon::matrix {

namespace {
constexpr unsigned long long password_opslimit = 2;
constexpr size_t password_memlimit = 19 * 1024 * 1024;
} // namespace

namespace {

constexpr std::string_view algorithm = "ed25519";

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

unsigned char* bytes(std::string& s) {
  return reinterpret_cast<unsigned char*>(s.data());
}

/// libsodium must be initialised before its RNG is used; sodium_init is
/// idempotent and thread-safe, and failing it is a broken invariant.
void ensure_sodium() {
  static const bool ok = sodium_init() >= 0;
  if (!ok) std::abort();
}

/// Splits off the next run of non-blank characters from `s`.
std::string_view next_word(std::string_view& s) {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  size_t b = 0;
  while (b < s.size() && blank(s[b])) ++b;
  size_t e = b;
  while (e < s.size() && !blank(s[e])) ++e;
  std::string_view word = s.substr(b, e - b);
  s.remove_prefix(e);
  return word;
}

} // namespace

std::string sha256(std::string_view data) {
  std::string out(crypto_hash_sha256_BYTES, '\0');
  crypto_hash_sha256(bytes(out), bytes(data), data.size());
  return out;
}

signing_key signing_key::generate() {
  ensure_sodium();
  std::string seed(crypto_sign_SEEDBYTES, '\0');
  randombytes_buf(seed.data(), seed.size());
  return *from_seed("a_" + random_string(4), seed);
}

std::optional<signing_key> signing_key::from_seed(std::string version,
                                                  std::string_view seed) {
  if (seed.size() != crypto_sign_SEEDBYTES) return std::nullopt;
  signing_key key;
  key.version = std::move(version);
  key.seed = std::string(seed);
  key.public_key.assign(crypto_sign_PUBLICKEYBYTES, '\0');
  key.secret_key.assign(crypto_sign_SECRETKEYBYTES, '\0');
  crypto_sign_seed_keypair(bytes(key.public_key), bytes(key.secret_key),
                           bytes(seed));
  return key;
}

std::optional<signing_key> signing_key::from_synapse_line(std::string_view line) {
  // Synapse (signedjson.key.read_signing_keys): "<alg> <version> <b64 seed>".
  std::string_view alg = next_word(line);
  std::string_view version = next_word(line);
  std::string_view seed_b64 = next_word(line);
  if (alg != algorithm || version.empty() || !next_word(line).empty())
    return std::nullopt;
  auto seed = base64_decode(seed_b64);
  if (!seed) return std::nullopt;
  return from_seed(std::string(version), *seed);
}

std::string signing_key::to_synapse_line() const {
  return std::string(algorithm) + " " + version + " " + base64_encode(seed);
}

std::string signing_key::key_id() const {
  return std::string(algorithm) + ":" + version;
}

std::string signing_key::public_b64() const { return base64_encode(public_key); }

std::string signing_key::sign_b64(std::string_view msg) const {
  std::string sig(crypto_sign_BYTES, '\0');
  crypto_sign_detached(bytes(sig), nullptr, bytes(msg), msg.size(),
                       bytes(secret_key));
  return base64_encode(sig);
}

bool verify_ed25519(std::string_view msg, std::string_view sig_b64,
                    std::string_view pub_raw) {
  auto sig = base64_decode(sig_b64);
  if (!sig || sig->size() != crypto_sign_BYTES
      || pub_raw.size() != crypto_sign_PUBLICKEYBYTES)
    return false;
  return crypto_sign_verify_detached(bytes(*sig), bytes(msg), msg.size(),
                                     bytes(pub_raw)) == 0;
}

std::string hash_password(std::string_view password) {
  ensure_sodium();
  char out[crypto_pwhash_STRBYTES];
  // OWASP's argon2id minimum (m = 19 MiB, t = 2, p = 1) rather than
  // libsodium's "interactive" 64 MiB: every concurrent login or
  // registration holds that memory, so 64 MiB each is a cheap way to exhaust
  // a server. Parameters are stored in the hash, so older hashes still verify.
  if (crypto_pwhash_str_alg(out, password.data(), password.size(),
                            password_opslimit, password_memlimit,
                            crypto_pwhash_ALG_ARGON2ID13) != 0)
    return {};
  return out;
}

bool check_password(std::string_view hash, std::string_view password) {
  ensure_sodium();
  // crypto_pwhash_str_verify reads a NUL-terminated string of bounded size.
  if (hash.empty() || hash.size() >= crypto_pwhash_STRBYTES
      || hash.find('\0') != std::string_view::npos)
    return false;
  std::string terminated(hash);
  return crypto_pwhash_str_verify(terminated.c_str(), password.data(),
                                  password.size()) == 0;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string random_string(size_t n) { return random_string(n, system_environment()); }

std::string hmac_sha1_hex(std::string_view key, std::string_view msg) {
  Poco::HMACEngine<Poco::SHA1Engine> engine(key.data(), key.size());
  engine.update(msg.data(), msg.size());
  return Poco::DigestEngine::digestToHex(engine.digest());
}

std::string hmac_sha256(std::string_view key, std::string_view msg) {
  crypto_auth_hmacsha256_state state;
  std::string out(crypto_auth_hmacsha256_BYTES, '\0');
  crypto_auth_hmacsha256_init(&state, bytes(key), key.size());
  crypto_auth_hmacsha256_update(&state, bytes(msg), msg.size());
  crypto_auth_hmacsha256_final(&state, bytes(out));
  return out;
}

std::string hex_encode(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

} // namespace axon::matrix
