#include "pipeline/stores/http_allowlist.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include "core/host_port.h"

namespace batchd::pipeline {
namespace {

using Ip = std::array<uint8_t, 16>;

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

Ip FromIpv4(const in_addr& v4) {
  Ip ip{};
  ip[10] = ip[11] = 0xff;
  std::memcpy(ip.data() + 12, &v4, 4);
  return ip;
}

Ip FromIpv6(const in6_addr& v6) {
  Ip ip{};
  std::memcpy(ip.data(), &v6, 16);
  return ip;
}

bool IsIpv4(const Ip& ip) {
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(ip.data(), kMapped, 12) == 0;
}

// Addresses a connection to which ends on this machine whatever it listens on: 127.0.0.0/8,
// ::1, and the unspecified 0.0.0.0 (0.0.0.0/8) and ::, which Linux connects to loopback.
bool IsLoopbackOrUnspecified(const Ip& ip) {
  if (IsIpv4(ip)) return ip[12] == 127 || ip[12] == 0;
  static constexpr Ip kZero{};
  Ip loopback{};
  loopback[15] = 1;
  return ip == kZero || ip == loopback;
}

bool IsUnspecified(const Ip& ip) {
  static constexpr Ip kZero{};
  return ip == kZero || (IsIpv4(ip) && ip[12] == 0 && ip[13] == 0 && ip[14] == 0 && ip[15] == 0);
}

// Whether `ip` is an address of one of this machine's interfaces (read afresh: they change).
bool IsInterfaceAddress(const Ip& ip) {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return false;
  bool found = false;
  for (ifaddrs* a = list; a != nullptr && !found; a = a->ifa_next) {
    if (a->ifa_addr == nullptr) continue;
    if (a->ifa_addr->sa_family == AF_INET) {
      found = FromIpv4(reinterpret_cast<const sockaddr_in*>(a->ifa_addr)->sin_addr) == ip;
    } else if (a->ifa_addr->sa_family == AF_INET6) {
      found = FromIpv6(reinterpret_cast<const sockaddr_in6*>(a->ifa_addr)->sin6_addr) == ip;
    }
  }
  ::freeifaddrs(list);
  return found;
}

std::string ListOf(const std::vector<std::string>& entries) {
  std::string out;
  for (const std::string& e : entries) out += (out.empty() ? "" : ", ") + e;
  return out;
}

}  // namespace

HttpAllowlist::Host HttpAllowlist::Normalize(std::string_view host) {
  std::string text(host);
  if (!text.empty() && text.back() == '.') text.pop_back();
  // An IPv6 zone ("fe80::1%eth0") does not change which machine is meant.
  const std::string address = text.substr(0, text.find('%'));
  in6_addr v6{};
  if (::inet_pton(AF_INET6, address.c_str(), &v6) == 1) return Host{.ip = FromIpv6(v6)};
  // inet_aton, not inet_pton: it takes "127.1", "0x7f.0.0.1" and "2130706433" as the resolver
  // does, so none of them passes for a name. Hosts here hold no spaces (URLs and entries are
  // checked first), the one laxity of inet_aton.
  in_addr v4{};
  if (text.find_first_of(" \t") == std::string::npos && ::inet_aton(text.c_str(), &v4) != 0) {
    return Host{.ip = FromIpv4(v4)};
  }
  return Host{.name = AsciiLower(text)};
}

Result<std::shared_ptr<HttpAllowlist>> HttpAllowlist::Create(
    const std::vector<std::string>& entries) {
  std::shared_ptr<HttpAllowlist> out(new HttpAllowlist());
  for (const std::string& given : entries) {
    auto bad = [&](const std::string& why) {
      return Status::InvalidArgument("--http-allow entry '" + given + "' " + why, "--http-allow");
    };
    if (given.find_first_of("/@?# ") != std::string::npos) {
      return bad("is not HOST[:PORT] (no scheme, user, path or spaces)");
    }
    Result<HostPort> split = ParseHostPort(given);
    if (!split.ok()) return bad(split.status().message());
    if (split->port && *split->port == 0) return bad("has port 0 (leave the port out for any)");
    std::string_view host = split->host;
    Entry entry;
    entry.port = split->port;
    if (given.starts_with("[")) {
      in6_addr v6{};
      if (::inet_pton(AF_INET6, split->host.c_str(), &v6) != 1) {
        return bad("has brackets around something that is not an IPv6 address");
      }
      entry.host = Host{.ip = FromIpv6(v6)};
      out->entries_.push_back(std::move(entry));
      out->given_.push_back(given);
      continue;
    }
    if (host == "*" || host == "*.") {
      return bad("would allow every host; list the hosts (or *.domain for a domain's hosts)");
    }
    if (host.starts_with("*.")) {
      entry.subdomains = true;
      host.remove_prefix(2);
    }
    if (host.empty()) return bad("has no host");
    if (host.find('*') != std::string_view::npos) {
      return bad("has a '*' that does not start it as \"*.\" (only *.domain is a wildcard)");
    }
    if (!std::all_of(host.begin(), host.end(), IsNameChar)) {
      return bad("has a character no host name or IPv4 address has");
    }
    std::string_view labels = host;
    if (labels.ends_with(".")) labels.remove_suffix(1);
    if (labels.empty() || labels.starts_with(".") || labels.find("..") != std::string_view::npos) {
      return bad("has an empty label");
    }
    entry.host = Normalize(host);
    if (entry.subdomains && entry.host.ip) {
      return bad("puts a wildcard before an address (*.domain takes a name)");
    }
    out->entries_.push_back(std::move(entry));
    out->given_.push_back(given);
  }
  return out;
}

void HttpAllowlist::SetOwnEndpoint(std::string_view listen_host, uint16_t port) {
  Own own{.host = Normalize(listen_host), .port = port};
  own.wildcard = own.host.ip && IsUnspecified(*own.host.ip);
  MutexLock lock(mu_);
  own_ = std::move(own);
}

bool HttpAllowlist::Reaches(const Own& own, const Host& host, uint16_t port) {
  if (own.port != 0 && port != own.port) return false;
  if (host.ip) {
    if (own.host.ip && *own.host.ip == *host.ip) return true;
    if (IsLoopbackOrUnspecified(*host.ip)) return true;
    return own.wildcard && IsInterfaceAddress(*host.ip);
  }
  if (host.name == "localhost" || host.name.ends_with(".localhost")) return true;  // RFC 6761
  return !own.host.name.empty() && host.name == own.host.name;
}

Status HttpAllowlist::RefusedAsOwn(const Own& own, std::string_view host, uint16_t port) const {
  const std::string where = FormatHostPort(host, port);
  if (own.port == 0) {
    return Status::Unavailable(where +
                               " may be the daemon's own API endpoint, whose port is not known "
                               "yet; try again once it listens");
  }
  return Status::InvalidArgument(where +
                                 " is the daemon's own API endpoint, which http:// stores never "
                                 "reach (whatever --http-allow lists)");
}

Status HttpAllowlist::CheckHost(std::string_view host, uint16_t port) const {
  const Host normal = Normalize(host);
  {
    MutexLock lock(mu_);
    if (own_ && Reaches(*own_, normal, port)) return RefusedAsOwn(*own_, host, port);
  }
  for (const Entry& e : entries_) {
    if (e.port && *e.port != port) continue;
    if (normal.ip ? (e.host.ip == normal.ip)
                  : (e.subdomains ? normal.name.ends_with("." + e.host.name)
                                  : (!e.host.ip && e.host.name == normal.name))) {
      return Status::Ok();
    }
  }
  const std::string where = FormatHostPort(host, port);
  if (given_.empty()) {
    return Status::InvalidArgument(where +
                                   " is not in the outbound allowlist: it is empty, so http:// is "
                                   "disabled (start the daemon with --http-allow HOST[:PORT])");
  }
  return Status::InvalidArgument(where + " is not in the outbound allowlist (--http-allow " +
                                 ListOf(given_) + ")");
}

Status HttpAllowlist::CheckAddress(std::string_view address, uint16_t port) const {
  const Host normal = Normalize(address);
  MutexLock lock(mu_);
  if (!own_ || !Reaches(*own_, normal, port)) return Status::Ok();
  Status refused = RefusedAsOwn(*own_, address, port);
  if (refused.code() == StatusCode::kUnavailable) return refused;
  return Status::FailedPrecondition(refused.message());
}

}  // namespace batchd::pipeline
