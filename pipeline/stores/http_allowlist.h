// Where http:// stores may send requests: the hosts given with `batchd serve --http-allow
// HOST[:PORT]`, and never the daemon's own API endpoint. Nothing is allowed unless listed, so a
// batch cannot make the daemon fetch from (or PUT to) whatever its network reaches.
//
// Entries: "HOST" (any port), "HOST:PORT", "*.example.org[:PORT]" (any name below example.org,
// not example.org itself), an IPv4 address, or an IPv6 address in brackets ("[::1]:9000").
// Names compare without regard to case or a trailing dot. Addresses compare by value, read the
// way the resolver reads them: "127.1" and "2130706433" are 127.0.0.1, "[::ffff:10.0.0.1]" is
// 10.0.0.1. A URL without a port has port 80.
//
// The daemon's own endpoint is refused even when listed: its --listen address with its port,
// and with that port also every loopback name or address (localhost, *.localhost, 127.0.0.0/8,
// ::1, and 0.0.0.0 and ::, which connect to this machine), and, for a wildcard listen address
// (0.0.0.0, ::), every address of this machine's interfaces. CheckHost looks at the URL's host
// as written, without DNS (it runs at submit, on API threads); the HTTP client calls
// IsOwnEndpoint for each address a name resolves to before connecting, so a name that resolves
// to the daemon (a line in /etc/hosts, a rebinding DNS server) is refused too.
//
// Thread-safe: the entries are constant after Create; SetOwnEndpoint may run while others check.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/mutex.h"
#include "core/status.h"

namespace batchd::pipeline {

class HttpAllowlist {
 public:
  // kInvalidArgument "--http-allow entry '<entry>' ..." (path "--http-allow") saying what is
  // wrong: a scheme, user or path, an empty host, a bad port (0 included), "*" alone or a '*'
  // that does not start "*.", a character that no host name has, an empty label ("a..b"),
  // brackets around something other than an IPv6 address, a wildcard before an address.
  static Result<std::shared_ptr<HttpAllowlist>> Create(const std::vector<std::string>& entries);

  // The daemon's API endpoint: its --listen address and the port it serves on. Port 0 means
  // not bound yet (--listen HOST:0): until it is set again, requests to any port of the own
  // address (and of loopback) are refused with kUnavailable, so a session tried that early
  // retries instead of failing. Before the first call nothing counts as the daemon's own (a
  // registry outside the daemon, in tests and benchmarks).
  void SetOwnEndpoint(std::string_view listen_host, uint16_t port);

  // Ok if requests may go to `host` (as in the URL: brackets removed) at `port`. Otherwise
  // kInvalidArgument "<host:port> is the daemon's own API endpoint ..." or "<host:port> is not in
  // the outbound allowlist (--http-allow ...)" (kUnavailable while the own port is pending).
  Status CheckHost(std::string_view host, uint16_t port) const;

  // Ok unless connecting to the numeric `address` ("127.0.0.1", "::1") at `port` would reach
  // the daemon's own endpoint; then kFailedPrecondition saying so.
  Status CheckAddress(std::string_view address, uint16_t port) const;

  // The entries as given, for messages and logs.
  const std::vector<std::string>& entries() const { return given_; }

 private:
  using Ip = std::array<uint8_t, 16>;  // IPv6, with IPv4 as ::ffff:a.b.c.d
  struct Host {
    std::string name;      // lower case, no trailing dot; empty for an address
    std::optional<Ip> ip;  // set for an address
  };
  struct Entry {
    Host host;
    bool subdomains = false;  // "*.name": names ending in ".name"
    std::optional<uint16_t> port;
  };
  struct Own {
    Host host;
    bool wildcard = false;  // 0.0.0.0 or ::
    uint16_t port = 0;      // 0: not bound yet
  };

  HttpAllowlist() = default;
  static Host Normalize(std::string_view host);
  // Whether `host`:`port` reaches `own` (see the header comment).
  static bool Reaches(const Own& own, const Host& host, uint16_t port);
  Status RefusedAsOwn(const Own& own, std::string_view host, uint16_t port) const;

  std::vector<std::string> given_;  // constant after Create
  std::vector<Entry> entries_;      // constant after Create
  mutable Mutex mu_;
  std::optional<Own> own_ GUARDED_BY(mu_);
};

}  // namespace batchd::pipeline
