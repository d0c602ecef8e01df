#include "actors/federation/srv_lookup.hpp"

#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>

#include <algorithm>
#include <climits>

namespace axon::federation {

std::optional<srv_answer> parse_srv_answer(const unsigned char* message, size_t length) {
  if (length > INT_MAX) return std::nullopt;
  ns_msg msg;
  if (ns_initparse(message, static_cast<int>(length), &msg) != 0) return std::nullopt;
  srv_answer out;
  for (int i = 0; i < ns_msg_count(msg, ns_s_an); ++i) {
    ns_rr rr;
    if (ns_parserr(&msg, ns_s_an, i, &rr) != 0) return std::nullopt;
    if (ns_rr_type(rr) != ns_t_srv || ns_rr_class(rr) != ns_c_in || ns_rr_rdlen(rr) < 7) continue;
    const unsigned char* data = ns_rr_rdata(rr);
    char target[NS_MAXDNAME];
    if (dn_expand(ns_msg_base(msg), ns_msg_end(msg), data + 6, target, sizeof target) < 0) continue;
    matrix::srv_record rec;
    rec.priority = ns_get16(data);
    rec.weight = ns_get16(data + 2);
    rec.port = ns_get16(data + 4);
    rec.target = target;
    if (rec.target.empty()) rec.target = "."; // the root: "no service"
    out.records.push_back(std::move(rec));
    auto ttl = static_cast<int64_t>(ns_rr_ttl(rr)) * 1000;
    out.ttl_ms = out.ttl_ms < 0 ? ttl : std::min(out.ttl_ms, ttl);
  }
  return out;
}

srv_outcome lookup_srv(const std::string& name, srv_answer& out) {
  struct __res_state state {};
  if (res_ninit(&state) != 0) return srv_outcome::failed;
  std::vector<unsigned char> answer(65536);
  int n = res_nquery(&state, name.c_str(), ns_c_in, ns_t_srv, answer.data(), static_cast<int>(answer.size()));
  int herr = state.res_h_errno;
  res_nclose(&state);
  if (n < 0) return herr == HOST_NOT_FOUND || herr == NO_DATA ? srv_outcome::none : srv_outcome::failed;
  auto parsed = parse_srv_answer(answer.data(), static_cast<size_t>(n));
  if (!parsed) return srv_outcome::failed;
  out = std::move(*parsed);
  return out.records.empty() ? srv_outcome::none : srv_outcome::found;
}

} // namespace axon::federation
