// socat's range= option: which peers a listener accepts. Pure: parsing and
// matching, no I/O.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace vmcat {

struct IpRange {
  int family = 0;                    // AF_INET or AF_INET6
  std::array<uint8_t, 16> net{};     // network address, bytes in network order
  std::array<uint8_t, 16> mask{};    // 4 bytes used for AF_INET
  std::string text;                  // as given, for messages

  /// Whether `peer` (sockaddr_in or sockaddr_in6) lies in the range. An
  /// IPv4-mapped IPv6 peer (::ffff:a.b.c.d, from a dual-stack listener) is
  /// matched as the IPv4 address it is.
  bool Contains(const sockaddr* peer) const;
};

/// "10.0.0.0/8", "10.0.0.0:255.0.0.0", "[fd00::]/8" (brackets optional),
/// or a single address (all bits).
Result<IpRange> ParseIpRange(std::string_view text);

}  // namespace vmcat
