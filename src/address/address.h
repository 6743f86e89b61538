// The socat address grammar: text -> AddressSpec. Pure: no I/O.
//
//   address   := single [ "!!" single ]          (read from the first, write to the second)
//   single    := "-" | digits | path-with-slash | KEYWORD { ":" param } { "," option }
//   option    := NAME [ "=" value ]
//
// Keywords and option names are case-insensitive. Inside any token, '...'
// quotes hard (nothing special inside, quotes dropped), "..." quotes softly
// (escapes and nesting still work, quotes dropped), ( ) [ ] { } nest and are
// kept, and a backslash escapes the next character (C escapes \n \t \r \0 ...
// are resolved). Quoting and nesting protect ':' ',' and '!!'.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "address/options.h"
#include "base/status.h"

namespace vmcat {

enum class AddressType {
  kStdio,
  kStdin,
  kStdout,
  kStderr,
  kFd,
  kUnixConnect,
  kUnixListen,
  kUnixClient,
  kAbstractConnect,
  kAbstractListen,
  kAbstractClient,
  kTcpConnect,
  kTcpListen,
  kUdpConnect,
  kUdpListen,
  kUdpSendto,
  kUdpRecvfrom,
  kVsockConnect,
  kVsockListen,
  kHybridVsockConnect,
  kExec,
  kSystem,
  kOpen,
  kCreate,
  kGopen,
  kPipe,
  kPty,
};

/// IP family restriction of TCP/UDP addresses (TCP4, TCP6, ...).
enum class IpFamily { kAny, kIpv4, kIpv6 };

struct AddressTypeInfo {
  const char* keyword;  // canonical upper-case name used in messages
  AddressType type;
  IpFamily family;
  int min_params;
  int max_params;
  const char* usage;  // parameter synopsis, e.g. "<host>:<port>"
  unsigned groups;    // OptionGroup bits valid for this type
};

/// Looks a keyword up (case-insensitive, with socat's aliases such as TCP-L).
const AddressTypeInfo* FindAddressType(std::string_view keyword);

/// A single (one-fd-or-pair) address with its parameters and typed options.
struct SingleAddress {
  const AddressTypeInfo* info = nullptr;
  std::vector<std::string> params;
  AddressOptions options;

  AddressType type() const { return info->type; }
  bool IsListener() const;
  /// Datagram addresses keep message boundaries (UDP).
  bool IsDatagram() const;
};

/// A parsed address: one SingleAddress, or a read!!write pair.
struct AddressSpec {
  std::string text;  // as the user wrote it, for messages
  SingleAddress first;
  std::optional<SingleAddress> write_side;  // set for "a!!b": first reads, this writes

  bool IsDual() const { return write_side.has_value(); }
};

/// Parses one relay address. Errors name the offending part, e.g.
/// `unknown option "forkk"` or `TCP-LISTEN needs 1 parameter (<port>), got 0`.
Result<AddressSpec> ParseAddress(std::string_view text);

}  // namespace vmcat
