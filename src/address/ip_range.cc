#include "address/ip_range.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "base/strings.h"

namespace vmcat {

namespace {

std::array<uint8_t, 16> PrefixMask(unsigned bits) {
  std::array<uint8_t, 16> m{};
  for (unsigned i = 0; i < 16 && bits > 0; ++i) {
    unsigned take = bits >= 8 ? 8 : bits;
    m[i] = static_cast<uint8_t>(0xff00u >> take);
    bits -= take;
  }
  return m;
}

bool ParseAddress(std::string_view text, int* family, std::array<uint8_t, 16>* out) {
  std::string s(text);
  if (s.size() >= 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  out->fill(0);
  if (inet_pton(AF_INET, s.c_str(), out->data()) == 1) {
    *family = AF_INET;
    return true;
  }
  if (inet_pton(AF_INET6, s.c_str(), out->data()) == 1) {
    *family = AF_INET6;
    return true;
  }
  return false;
}

bool Matches(const IpRange& r, const uint8_t* addr) {
  size_t n = r.family == AF_INET ? 4 : 16;
  for (size_t i = 0; i < n; ++i) {
    if ((addr[i] & r.mask[i]) != r.net[i]) return false;
  }
  return true;
}

}  // namespace

Result<IpRange> ParseIpRange(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Status::Error("range=" + std::string(text) + ": " + why +
                         " (expected ADDRESS/BITS, ADDRESS:MASK or ADDRESS)");
  };
  IpRange r;
  r.text = std::string(text);
  std::string_view addr = text, rest;
  char sep = 0;
  // A colon separates an IPv4 mask; IPv6 addresses contain colons, so only
  // a '/' (or a bracketed address followed by ':') separates there.
  size_t slash = text.rfind('/');
  if (slash != std::string_view::npos) {
    addr = text.substr(0, slash);
    rest = text.substr(slash + 1);
    sep = '/';
  } else if (size_t close = text.find(']'); close != std::string_view::npos) {
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') return bad("unexpected text after the address");
      addr = text.substr(0, close + 1);
      rest = text.substr(close + 2);
      sep = ':';
    }
  } else if (size_t colon = text.find(':');
             colon != std::string_view::npos && text.find(':', colon + 1) == std::string_view::npos) {
    addr = text.substr(0, colon);
    rest = text.substr(colon + 1);
    sep = ':';
  }
  if (!ParseAddress(addr, &r.family, &r.net)) return bad("not an IP address");
  unsigned width = r.family == AF_INET ? 32 : 128;
  if (sep == '/') {
    auto bits = ParseUnsigned(rest);
    if (!bits || *bits > width) {
      return bad("the prefix length must be 0 to " + std::to_string(width));
    }
    r.mask = PrefixMask(static_cast<unsigned>(*bits));
  } else if (sep == ':') {
    int mask_family = 0;
    if (!ParseAddress(rest, &mask_family, &r.mask) || mask_family != r.family) {
      return bad("the mask must be an address of the same family");
    }
  } else {
    r.mask = PrefixMask(width);
  }
  for (size_t i = 0; i < 16; ++i) r.net[i] &= r.mask[i];
  return r;
}

bool IpRange::Contains(const sockaddr* peer) const {
  if (peer->sa_family == AF_INET) {
    if (family != AF_INET) return false;
    const auto* in = reinterpret_cast<const sockaddr_in*>(peer);
    return Matches(*this, reinterpret_cast<const uint8_t*>(&in->sin_addr));
  }
  if (peer->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(peer);
    const uint8_t* a = in6->sin6_addr.s6_addr;
    if (family == AF_INET6) return Matches(*this, a);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) return Matches(*this, a + 12);
  }
  return false;
}

}  // namespace vmcat
