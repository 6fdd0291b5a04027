// Which Host headers a daemon without tokens answers (DNS rebinding). A page at
// http://attacker.example:8080 whose name the attacker re-points at 127.0.0.1 is same-origin with
// itself, so the Origin check alone lets it drive a daemon on the victim's machine; its requests
// still say `Host: attacker.example:8080`. Without tokens the daemon therefore answers only Host
// values that name loopback (localhost, 127.0.0.0/8, [::1], with any port) or a name given with
// --allowed-host. With tokens every request needs one anyway, so any Host is fine.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace batchd::api {

class HostAllowlist {
 public:
  // `names`: extra host names (no port), compared without regard to case.
  explicit HostAllowlist(std::vector<std::string> names);

  // Whether a request with this Host header value may be answered. An absent Host (HTTP/1.0,
  // which browsers never send) is allowed: rebinding needs a browser.
  bool IsAllowed(std::string_view host_header) const;

  // The host part of a Host header: "[::1]:80" -> "::1", "Example.COM:80" -> "example.com".
  static std::string HostName(std::string_view host_header);
  static bool IsLoopbackName(std::string_view host);

 private:
  std::vector<std::string> names_;  // lower case
};

}  // namespace batchd::api
