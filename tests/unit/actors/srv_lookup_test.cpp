// SRV answers read through libresolv (actors/federation/srv_lookup.hpp):
// DNS messages built here byte by byte, as a resolver would receive them
// (RFC 1035 4.1, RFC 2782), with name compression.
#include "actors/federation/srv_lookup.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

using namespace axon::federation;

namespace {

struct message {
  std::vector<unsigned char> bytes;
  void u16(unsigned v) {
    bytes.push_back(static_cast<unsigned char>(v >> 8));
    bytes.push_back(static_cast<unsigned char>(v & 0xff));
  }
  void u32(uint32_t v) {
    u16(v >> 16);
    u16(v & 0xffff);
  }
  void name(const std::string& dotted) {
    size_t start = 0;
    while (start < dotted.size()) {
      auto end = dotted.find('.', start);
      if (end == std::string::npos) end = dotted.size();
      bytes.push_back(static_cast<unsigned char>(end - start));
      bytes.insert(bytes.end(), dotted.begin() + static_cast<long>(start), dotted.begin() + static_cast<long>(end));
      start = end + 1;
    }
    bytes.push_back(0);
  }
};

/// A response to `question` with one answer per (priority, weight, port,
/// target, ttl); the answers' owner names point back at the question.
message response(const std::string& question,
                 const std::vector<std::tuple<unsigned, unsigned, unsigned, std::string, uint32_t>>& answers,
                 unsigned type = 33) {
  message m;
  m.u16(0x1234);      // id
  m.u16(0x8180);      // response, recursion desired and available, no error
  m.u16(1);           // questions
  m.u16(static_cast<unsigned>(answers.size()));
  m.u16(0);           // authority
  m.u16(0);           // additional
  m.name(question);
  m.u16(33);          // SRV
  m.u16(1);           // IN
  for (auto& [prio, weight, port, target, ttl] : answers) {
    m.u16(0xc00c);    // pointer to the question's name
    m.u16(type);
    m.u16(1);
    m.u32(ttl);
    message rdata;
    rdata.u16(prio);
    rdata.u16(weight);
    rdata.u16(port);
    rdata.name(target);
    m.u16(static_cast<unsigned>(rdata.bytes.size()));
    m.bytes.insert(m.bytes.end(), rdata.bytes.begin(), rdata.bytes.end());
  }
  return m;
}

} // namespace

TEST_CASE("srv lookup: an answer's records, ports, priorities and the smallest TTL") {
  auto m = response("_matrix-fed._tcp.example.org",
                    {{10, 5, 8448, "matrix1.example.org", 3600}, {20, 0, 443, "matrix2.example.org", 300}});
  auto a = parse_srv_answer(m.bytes.data(), m.bytes.size());
  REQUIRE(a);
  REQUIRE(a->records.size() == 2);
  CHECK(a->records[0].target == "matrix1.example.org");
  CHECK(a->records[0].port == 8448);
  CHECK(a->records[0].priority == 10);
  CHECK(a->records[0].weight == 5);
  CHECK(a->records[1].target == "matrix2.example.org");
  CHECK(a->records[1].port == 443);
  CHECK(a->ttl_ms == 300000);
}

TEST_CASE("srv lookup: the root target, other record types, and malformed messages") {
  auto none = response("_matrix-fed._tcp.example.org", {{0, 0, 0, "", 60}});
  auto a = parse_srv_answer(none.bytes.data(), none.bytes.size());
  REQUIRE(a);
  REQUIRE(a->records.size() == 1);
  CHECK(a->records[0].target == "."); // "no service here" (matrix::order_srv drops it)
  auto other = response("_matrix-fed._tcp.example.org", {{1, 2, 3, "x.example.org", 60}}, 16 /* TXT */);
  a = parse_srv_answer(other.bytes.data(), other.bytes.size());
  REQUIRE(a);
  CHECK(a->records.empty());
  CHECK(a->ttl_ms == -1);
  auto good = response("_matrix._tcp.example.org", {{1, 1, 8448, "m.example.org", 60}});
  // Cut anywhere inside the answer: refused, never read past the end.
  for (size_t cut = 12; cut < good.bytes.size(); ++cut) {
    auto r = parse_srv_answer(good.bytes.data(), cut);
    CHECK_MESSAGE((!r || r->records.empty()), "cut at " << cut);
  }
  CHECK_FALSE(parse_srv_answer(good.bytes.data(), 5));
}
